"""The front door's telemetry and limits below the network: a fake WSGI app, in-memory spans,
and the Azure Monitor exporters chosen (not reached) when a connection string is set."""

from __future__ import annotations

import io
import json

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from amlops.serving.frontdoor import FrontDoor
from amlops.serving.telemetry import Exporters, Telemetry, build_exporters, read_records

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


def call(app, path: str = "/score", headers: dict | None = None, body: bytes = b"{}") -> tuple[str, bytes]:
    got = []
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), **(headers or {})}
    out = b"".join(app(environ, lambda status, hdrs, exc=None: got.append(status)))
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
    assert call(door, path="/") == ("200 OK", b"Healthy")
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
    exporters = build_exporters(tmp_path / "t.jsonl", {"APPLICATIONINSIGHTS_CONNECTION_STRING": conn})
    assert [type(e).__name__ for e in exporters.spans] == ["ConsoleSpanExporter", "AzureMonitorTraceExporter"]
    assert [type(e).__name__ for e in exporters.metrics] == ["ConsoleMetricExporter", "AzureMonitorMetricExporter"]
    assert [type(e).__name__ for e in exporters.logs] == ["ConsoleLogRecordExporter", "AzureMonitorLogExporter"]
    assert exporters.spans[1]._instrumentation_key == "00000000-0000-0000-0000-000000000000"


def test_serve_telemetry_without_a_connection_string_writes_the_local_file_only(tmp_path):
    exporters = build_exporters(tmp_path / "t.jsonl", {})
    assert [len(exporters.spans), len(exporters.metrics), len(exporters.logs)] == [1, 1, 1]
    tel = Telemetry({"service.name": "test"}, exporters)
    door = FrontDoor(fake_app("200 OK", b"{}"), keys=None, max_body_bytes=1024, timeout_ms=300, telemetry=tel)
    call(door, headers={"HTTP_X_REQUEST_ID": "rid-file"})
    tel.shutdown()
    kinds = [r["kind"] for r in read_records(tmp_path / "t.jsonl")]
    assert kinds.count("span") == 1 and "metrics" in kinds
