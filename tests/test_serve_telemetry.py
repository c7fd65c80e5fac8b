"""The front door's telemetry below the network: a fake WSGI app, in-memory spans, the local
file (its lines, bounds and rotation), and the Azure Monitor exporters chosen (not reached)
when a connection string is set."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from amlops.serving.frontdoor import FrontDoor
from amlops.serving.telemetry.localfile import LocalFile
from amlops.serving.telemetry.reader import read_records
from amlops.serving.telemetry.wiring import Exporters, Telemetry, build_exporters

TIMEOUT_BODY = b'{"message": "Scoring timeout after 300 ms"}'


def fake_app(status: str, body: bytes):
    def app(environ, start_response):
        start_response(status, [("Content-Type", "application/json")])
        return [body]

    return app


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tel = Telemetry({"service.name": "test"}, Exporters(spans=[exporter]))
    yield tel, exporter
    tel.shutdown()


def call(app, path: str = "/score", headers: dict | None = None, body: bytes = b"{}", method: str = "POST") -> tuple[str, bytes]:
    """One request as a WSGI server makes it: call, read the body, close it (PEP 3333)."""
    got = []
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), **(headers or {})}
    response = app(environ, lambda status, hdrs, exc=None: got.append(status))
    try:
        out = b"".join(response)
    finally:
        if hasattr(response, "close"):
            response.close()
    return got[0], out


def test_serve_telemetry_span_per_request_with_status_and_request_id(spans):
    tel, exporter = spans
    door = FrontDoor(fake_app("200 OK", b"{}"), keys=None, max_body_bytes=1024, timeout_ms=300, telemetry=tel)
    assert call(door, headers={"HTTP_X_REQUEST_ID": "rid-7"}) == ("200 OK", b"{}")
    tel.tracer_provider.force_flush()
    [span] = exporter.get_finished_spans()
    assert span.name == "POST /score"
    assert dict(span.attributes) == {"http.request.method": "POST", "http.route": "/score", "request.id": "rid-7", "http.response.status_code": 200}
    assert tel.counts == {("/score", 200): 1}


def test_serve_telemetry_span_ends_when_the_server_closes_the_response(spans):
    tel, exporter = spans
    door = FrontDoor(fake_app("200 OK", b"{}"), keys=None, max_body_bytes=1024, timeout_ms=300, telemetry=tel)
    environ = {"PATH_INFO": "/score", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": "2", "wsgi.input": io.BytesIO(b"{}")}
    response = door(environ, lambda status, hdrs, exc=None: None)
    assert b"".join(response) == b"{}"
    tel.tracer_provider.force_flush()
    assert exporter.get_finished_spans() == () and tel.counts == {}  # sent, not yet closed
    response.close()
    tel.tracer_provider.force_flush()
    [span] = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == 200 and tel.counts == {("/score", 200): 1}


def test_serve_telemetry_5xx_marks_the_span_failed_and_counts_a_failure(spans):
    tel, exporter = spans
    door = FrontDoor(fake_app("500 INTERNAL SERVER ERROR", b'{"message": "boom"}'), keys=None, max_body_bytes=1024, timeout_ms=300, telemetry=tel)
    assert call(door, path="/elsewhere") == ("500 INTERNAL SERVER ERROR", b'{"message": "boom"}')
    tel.tracer_provider.force_flush()
    [span] = exporter.get_finished_spans()
    assert (span.name, span.status.status_code.name) == ("POST unmatched", "ERROR")
    assert [o.value for o in tel._observe_failures(None)] == [1]


def test_serve_health_probe_records_no_span(spans):
    tel, exporter = spans
    door = FrontDoor(fake_app("200 OK", b"Healthy"), keys=None, max_body_bytes=1024, timeout_ms=300, telemetry=tel)
    assert call(door, path="/", method="GET") == ("200 OK", b"Healthy")
    tel.tracer_provider.force_flush()
    assert exporter.get_finished_spans() == () and tel.counts == {}


def test_serve_server_timeout_becomes_408():
    door = FrontDoor(fake_app("500 INTERNAL SERVER ERROR", TIMEOUT_BODY), keys=None, max_body_bytes=1024, timeout_ms=300)
    status, body = call(door)
    assert (status, json.loads(body)) == ("408 Request Timeout", {"message": "the request took longer than the deployment's request timeout of 300 ms"})


def test_serve_invalid_content_length_answers_400():
    door = FrontDoor(fake_app("200 OK", b"{}"), keys=None, max_body_bytes=1024, timeout_ms=300)
    status, body = call(door, headers={"CONTENT_LENGTH": "12abc"})
    assert (status, json.loads(body)) == ("400 Bad Request", {"message": "invalid Content-Length header"})


def test_serve_telemetry_goes_to_azure_monitor_too_when_a_connection_string_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "true")
    conn = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/"
    exporters = build_exporters(LocalFile(tmp_path / "t.jsonl"), {"APPLICATIONINSIGHTS_CONNECTION_STRING": conn})
    assert exporters.file == LocalFile(tmp_path / "t.jsonl")  # spans and logs: JsonlWriter; metrics: the console exporter
    assert [type(e).__name__ for e in exporters.spans] == ["AzureMonitorTraceExporter"]
    assert [type(e).__name__ for e in exporters.metrics] == ["ConsoleMetricExporter", "AzureMonitorMetricExporter"]
    assert [type(e).__name__ for e in exporters.logs] == ["AzureMonitorLogExporter"]
    assert exporters.spans[0]._instrumentation_key == "00000000-0000-0000-0000-000000000000"


def test_serve_telemetry_without_a_connection_string_writes_the_local_file_only(tmp_path):
    exporters = build_exporters(LocalFile(tmp_path / "t.jsonl"), {})
    assert [len(exporters.spans), len(exporters.metrics), len(exporters.logs)] == [0, 1, 0]
    assert exporters.file == LocalFile(tmp_path / "t.jsonl")
    tel = Telemetry({"service.name": "test"}, exporters)
    tel.capture_logging()
    door = FrontDoor(fake_app("200 OK", b"{}"), keys=None, max_body_bytes=1024, timeout_ms=300, telemetry=tel)
    call(door, headers={"HTTP_X_REQUEST_ID": "rid-file"})
    tel.shutdown()
    kinds = [r["kind"] for r in read_records(tmp_path / "t.jsonl")]
    assert kinds.count("span") == 1 and "metrics" in kinds


@pytest.fixture
def server_logging():
    """The server's logging configuration as far as it matters here: azmlinfsrv logs INFO."""
    logger = logging.getLogger("azmlinfsrv")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


def logging_app(environ, start_response):
    logging.getLogger("azmlinfsrv.print.score").info("scored %d rows, %d rejected", 2, 1)
    logging.getLogger("azmlinfsrv").info("POST /score 200 1.000ms 15")  # the server's own line: not kept
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


def test_serve_telemetry_writes_the_scripts_log_line_with_request_and_trace_id(tmp_path, server_logging):
    tel = Telemetry({"service.name": "test"}, build_exporters(LocalFile(tmp_path / "t.jsonl"), {}))
    tel.capture_logging()
    try:
        door = FrontDoor(logging_app, keys=None, max_body_bytes=1024, timeout_ms=300, telemetry=tel)
        assert call(door, headers={"HTTP_X_REQUEST_ID": 'rid-"log"'}) == ("200 OK", b"{}")
        tel.force_flush()
        recs = list(read_records(tmp_path / "t.jsonl"))
    finally:
        tel.shutdown()
    [span] = [r for r in recs if r["kind"] == "span"]
    logs = [r for r in recs if r["kind"] == "log"]
    assert len(logs) == 1, logs
    [log] = logs
    assert span["name"] == "POST /score" and span["status"] == "UNSET" and span["duration_ms"] > 0
    assert span["attributes"] == {"http.request.method": "POST", "http.route": "/score", "request.id": 'rid-"log"', "http.response.status_code": 200}
    assert (log["logger"], log["severity"], log["body"]) == ("azmlinfsrv.print.score", "INFO", "scored 2 rows, 1 rejected")
    assert (log["request_id"], log["trace_id"], log["attributes"]) == ('rid-"log"', span["trace_id"], {})
    assert log["time"] >= span["time"] and len(log["time"]) == len(span["time"]) == len("2026-01-01T10:00:00.000000+00:00")


def test_serve_telemetry_sends_the_scripts_log_line_to_the_otel_log_exporters_with_the_request_id(tmp_path, server_logging):
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

    exporter = InMemoryLogRecordExporter()
    tel = Telemetry({"service.name": "test"}, Exporters(logs=[exporter]))
    tel.capture_logging()
    try:
        door = FrontDoor(logging_app, keys=None, max_body_bytes=1024, timeout_ms=300, telemetry=tel)
        call(door, headers={"HTTP_X_REQUEST_ID": "rid-azure"})
        tel.force_flush()
        [data] = exporter.get_finished_logs()
    finally:
        tel.shutdown()
    record = data.log_record
    assert (record.body, record.severity_text, record.attributes["request_id"]) == ("scored 2 rows, 1 rejected", "INFO", "rid-azure")
    assert record.trace_id != 0


def test_serve_telemetry_local_server_span_line_is_the_sdk_spans_line():
    from opentelemetry.sdk.trace import TracerProvider

    from amlops.serving.telemetry.lines import server_span_line, span_line

    tracer = TracerProvider().get_tracer("test")
    for code, request_id in [(200, "rid-1"), (503, 'a "quoted" é id')]:
        span = tracer.start_span("POST /score", attributes={"http.request.method": "POST", "http.route": "/score", "request.id": request_id}, start_time=1_767_261_600_123_456_789)
        span.set_attribute("http.response.status_code", code)
        if code >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=1_767_261_600_125_000_000)
        ctx = span.get_span_context()
        local = server_span_line("POST /score", ctx.trace_id, ctx.span_id, span.start_time, span.end_time, ("POST", "/score", request_id, code))
        assert local == span_line(span)


def test_serve_telemetry_local_durations_line_is_the_sdk_histograms_line(tmp_path):
    """Without a connection string the front door keeps the latency histogram itself (localfile.Durations):
    the file's metrics line must read as the SDK histogram's does, for the same requests."""
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

    from amlops.serving.telemetry.lines import metrics_line
    from amlops.serving.telemetry.localfile import LineWriter

    requests = [("/score", 200, 1.25), ("/score", 400, 0.0004), ("/swagger.json", 200, 0.5), ("/score", 200, 812.3456789), ("unmatched", 503, 2.0)]
    local = Telemetry({"service.name": "test"}, build_exporters(LocalFile(tmp_path / "local.jsonl"), {}))
    sdk_file = LocalFile(tmp_path / "sdk.jsonl")
    sdk = Telemetry({"service.name": "test"}, Exporters(metrics=[ConsoleMetricExporter(out=LineWriter(sdk_file), formatter=metrics_line)], file=sdk_file))
    assert local.durations is not None and local.duration is None and sdk.durations is None
    try:
        for tel in (local, sdk):
            for route, status, ms in requests[:3]:
                tel.record(route, status, ms)
            tel.meter_provider.force_flush()
            for route, status, ms in requests[3:]:
                tel.record(route, status, ms)
            tel.meter_provider.force_flush()
    finally:
        local.shutdown()
        sdk.shutdown()
    lines = {name: [r["metrics"] for r in read_records(tmp_path / f"{name}.jsonl") if r["kind"] == "metrics"] for name in ("local", "sdk")}
    assert len(lines["sdk"]) == 3  # two exports and the one at shutdown
    assert lines["local"] == lines["sdk"]
    durations = lines["local"][-1][0]
    assert durations["name"] == "http.server.request.duration"
    assert durations["points"][0] == {"attributes": {"http.route": "/score"}, "count": 3, "sum": round(1.25 + 0.0004 + 812.3456789, 3), "min": 0.0004, "max": 812.3456789}


def test_serve_telemetry_script_spans_join_the_local_server_spans_trace(tmp_path):
    tel = Telemetry({"service.name": "test"}, build_exporters(LocalFile(tmp_path / "t.jsonl"), {}))
    assert tel.local_server_spans

    def app(environ, start_response):
        with tel.tracer_provider.get_tracer("script").start_as_current_span("predict"):
            pass
        start_response("200 OK", [])
        return [b"{}"]

    try:
        call(FrontDoor(app, keys=None, max_body_bytes=1024, timeout_ms=300, telemetry=tel), headers={"HTTP_X_REQUEST_ID": "rid-child"})
        tel.force_flush()
        spans = {r["name"]: r for r in read_records(tmp_path / "t.jsonl") if r["kind"] == "span"}
    finally:
        tel.shutdown()
    assert set(spans) == {"POST /score", "predict"}
    assert spans["predict"]["trace_id"] == spans["POST /score"]["trace_id"]
    assert spans["POST /score"]["attributes"]["request.id"] == "rid-child"


def test_serve_telemetry_long_log_message_is_cut_in_the_file(tmp_path, server_logging):
    tel = Telemetry({"service.name": "test"}, build_exporters(LocalFile(tmp_path / "t.jsonl"), {}))
    tel.capture_logging()
    try:
        logging.getLogger("azmlinfsrv.print.score").info("rejected: unknown field '%s'", "f" * 100_000, extra={"row": "9" * 5000})
        tel.force_flush()
        [log] = [r for r in read_records(tmp_path / "t.jsonl") if r["kind"] == "log"]
    finally:
        tel.shutdown()
    body = "rejected: unknown field '" + "f" * 100_000 + "'"
    assert log["body"] == body[:2000] + f"… ({len(body) - 2000} more characters cut)"
    assert log["attributes"] == {"row": "9" * 2000 + "… (3000 more characters cut)"}


@pytest.mark.parametrize(
    "extra",
    [
        {"custom_dimensions": {"endpoint": "loans-dev-online"}},
        {"a": 'é\u2028"\\\n\t\x00\ud800', "b": "", "c": ["x", 1]},
        {"row": 3, "model": "text", "ok": True, "none": None},
    ],
    ids=["score.py's dimensions", "escapes", "numbers beside text"],
)
def test_serve_telemetry_log_line_attributes_are_the_json_encoders(extra):
    from amlops.serving.telemetry.lines import log_line

    record = logging.LogRecord("azmlinfsrv.print.score", logging.INFO, "score.py", 1, "scored", None, None)
    record.__dict__.update(extra)
    written = json.loads(log_line(record, "scored", None))["attributes"]
    expected = {k: v if isinstance(v, (int, float, bool, type(None))) else str(v) for k, v in extra.items()}
    assert written == expected
    text = log_line(record, "scored", None).split('"attributes":')[1][: -len("}\n")]
    assert text == json.dumps(json.loads(text), separators=(",", ":"))  # the encoder's text, escapes and all, in the line's order


def test_serve_telemetry_log_line_numbers_are_the_json_encoders_in_the_order_given():
    import enum

    import numpy as np

    from amlops.serving.telemetry.lines import log_line

    class Level(enum.IntEnum):
        HIGH = 3

    extra = {"z": 1.5, "nan": float("nan"), "inf": float("inf"), "minus": float("-inf"), "big": 10**30, "np": np.float64(0.1),
             "enum": Level.HIGH, "no": False, "np_int": np.int64(7), "a": "last"}
    record = logging.LogRecord("azmlinfsrv.print.score", logging.INFO, "score.py", 1, "scored", None, None)
    record.__dict__.update(extra)
    text = log_line(record, "scored", None).split('"attributes":')[1][: -len("}\n")]
    as_given = {k: v if isinstance(v, (int, float, bool, type(None))) else str(v) for k, v in extra.items()}
    assert text == json.JSONEncoder(separators=(",", ":")).encode(as_given)
    assert list(json.loads(text)) == list(extra)


def span(i: int) -> tuple:
    return (server_span_line_, "POST /score", i + 1, i + 1, 1_767_261_600_000_000_000, 1_767_261_600_001_000_000, ("POST", "/score", f"rid-{i}", 200))


from amlops.serving.telemetry.lines import server_span_line as server_span_line_  # noqa: E402
from amlops.serving.telemetry.localfile import JsonlWriter, RotatingAppender  # noqa: E402


def request_ids(path) -> list[str]:
    return [r["attributes"]["request.id"] for r in read_records(path) if r["kind"] == "span"]


def test_serve_telemetry_file_rotates_at_its_size_keeping_n_files(tmp_path):
    file = LocalFile(tmp_path / "telemetry.jsonl", max_bytes=4000, backups=2)
    writer = JsonlWriter(file)
    for i in range(100):  # ≈ 220 bytes a line: several files' worth
        writer.put(*span(i))
        writer.flush()
    writer.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["telemetry.jsonl", "telemetry.jsonl.1", "telemetry.jsonl.2", "telemetry.jsonl.lock"]
    assert all(p.stat().st_size <= 4000 for p in tmp_path.glob("telemetry.jsonl*"))
    kept = request_ids(file.path)
    assert kept == [f"rid-{i}" for i in range(100 - len(kept), 100)]  # the newest, in order
    assert 100 - len(kept) > 50  # the oldest were deleted with the third-oldest file


def test_serve_telemetry_rotation_by_one_worker_is_followed_by_the_others(tmp_path):
    file = LocalFile(tmp_path / "telemetry.jsonl", max_bytes=1000, backups=3)
    one, two = RotatingAppender(file), RotatingAppender(file)
    line = b'{"kind":"log","body":"%d"}\n'
    for i in range(0, 400, 2):
        one.append(line % i)
        two.append(line % (i + 1))
    one.close(), two.close()
    bodies = [int(r["body"]) for r in read_records(file.path)]
    assert bodies == list(range(400 - len(bodies), 400)) and len(bodies) > 100  # nothing lost or out of order across the rotations
    assert sorted(p.name for p in tmp_path.glob("telemetry.jsonl.*") if p.suffix != ".lock") == ["telemetry.jsonl.1", "telemetry.jsonl.2", "telemetry.jsonl.3"]


@pytest.mark.parametrize("field,value,message", [
    ("telemetry_max_bytes", 1000, "the telemetry file's size limit must be between 65536 and 1073741824 bytes, got 1000"),
    ("telemetry_backups", 0, "the number of rotated telemetry files must be between 1 and 100, got 0"),
])
def test_serve_telemetry_nonsense_rotation_settings_are_refused(field, value, message):
    from amlops.errors import UsageError
    from amlops.serving.settings import FrontDoorSettings

    with pytest.raises(UsageError) as err:
        FrontDoorSettings(None, 1024, 1000, None, "e", "d", "m:1", **{field: value})
    assert str(err.value) == message


def test_serve_telemetry_long_log_message_is_cut_for_azure_monitor(tmp_path, server_logging):
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

    exporter = InMemoryLogRecordExporter()
    tel = Telemetry({"service.name": "test"}, Exporters(logs=[exporter]))
    tel.capture_logging()
    try:
        logging.getLogger("azmlinfsrv.print.score").info("rejected: %s", "x" * 10_000)
        tel.force_flush()
        [data] = exporter.get_finished_logs()
    finally:
        tel.shutdown()
    body = "rejected: " + "x" * 10_000
    assert data.log_record.body == body[:2000] + f"… ({len(body) - 2000} more characters cut)"
