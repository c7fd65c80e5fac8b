"""OpenTelemetry for `amlops serve`: request spans, request/latency/failure metrics and the
script's log lines, exported to a local JSONL file and, when
APPLICATIONINSIGHTS_CONNECTION_STRING is set, to Azure Monitor as well.

Set up once per gunicorn worker, where the app is created (not from score.py's init()).
The metrics are the OpenTelemetry SDK's; so is a global TracerProvider, so that a script
using the OpenTelemetry API lands in the request's trace. Azure Monitor's exporters are fed
by OTel's batch processors and OTel's LoggingHandler. The local file is written by
hand-written code (JsonlWriter, JsonlSpanProcessor, JsonlLogHandler, server_span_line) in the
line format OTel's console exporters wrote before, because the library path cost too much;
and when the local file is the only place spans go (no connection string), the front
door's server span is that line plus a non-recording span context (Telemetry.local_server_spans)
rather than an SDK span.

Where the time went (2-core machine, one loans row per request, 2 gunicorn workers). In
`python -m benchmarks.serving`, telemetry added ≈ 220-290 µs of server CPU per request and
(3) served 0.85x the requests of (2) at 8 clients (0.67x on a busier machine). Profiled with
py-spy, cProfile and ablations of the WSGI app called in-process (≈ 600-670 µs per request,
424-437 µs with telemetry off; costs in the app run 2-4x their micro-benchmarks):
- the span ≈ 100 µs: building and ending it in the SDK ≈ 15 µs in a micro-benchmark (≈ 45 µs
  in the app; kept only where an OTel span exporter needs it), BatchSpanProcessor →
  ConsoleSpanExporter → formatter ≈ 18 µs (replaced by JsonlSpanProcessor / server_span_line);
- the script's log line ≈ 40-80 µs: LoggingHandler → BatchLogRecordProcessor → console
  exporter ≈ 26 µs in a micro-benchmark: an OTel LogRecord and attribute dict per record,
  context lookups, a copy in the processor, `json.dumps(default=str)` (replaced by
  JsonlLogHandler: ≈ 2 µs on the request plus ≈ 2 µs formatting);
- full garbage collections ≈ 19 µs: records waiting in the batch queues reach the oldest
  generation and trigger a full collection every ≈ 5,000 requests, ≈ 100 ms each with the
  server, scikit-learn and the model on the heap (none with telemetry off); see
  freeze_startup_heap (≈ 0.2 µs per request after);
- formatting in a background thread: a thread that formatted a second's worth of queued
  items at a time cost ≈ 70 µs per request, half of it GIL hand-offs with the request thread
  (one context switch per request while it ran); formatting one item at a time on the
  request cost 44 µs (span line 24 µs, log line 20 µs, cache-cold). JsonlWriter formats
  batches of MAX_BATCH on the request's thread (8 + 3.5 µs per request, cache-warm), with
  %-formatted lines (span 8.6 → 5.6 µs, log 5.2 → 2.1 µs in a micro-benchmark);
- the latency histogram ≈ 20-25 µs (6 µs in a micro-benchmark): kept, it is the SDK's
  aggregation Azure Monitor exports; replaying batches of records into it measured no gain.
The front door also finishes each span and its metrics when the server closes the response
(amlops.serving.frontdoor), off the client's critical path.

After, in-process ≈ 510 µs per request against ≈ 460 µs with telemetry off (same session).
In the benchmark, five interleaved runs of the code before and after on a shared machine:
(3)/(2) requests per second at 8 clients 0.77-0.89 before, 0.82-1.00 after (median 0.95;
(3) served 6-14% more than before in every run); telemetry's server CPU per request over
(3') with it off ≈ 170-310 µs before, ≈ 25-110 µs after.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
import traceback
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from amlops.paths import state_dir

CONNECTION_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"
"""Azure Monitor's connection string; when set, telemetry is sent there too."""
METRICS_INTERVAL_MS = 15_000
"""How often metrics are exported; OTEL_METRIC_EXPORT_INTERVAL (ms) overrides it."""
SCRIPT_LOGGERS = ("azmlinfsrv.print.score", "azmlinfsrv.print", "azmlinfsrv.user_script")
"""The script's logger, its print() (the server redirects it) and its init() messages."""
WRITE_DELAY_MS = 1000
"""How often the local file's writer wakes: the smaller of OTEL_BSP_SCHEDULE_DELAY and
OTEL_BLRP_SCHEDULE_DELAY when set (the OTel processors it stands in for), else this."""

current_request: ContextVar[tuple[str, int] | None] = ContextVar("amlops_request", default=None)
"""The request being served, as (request id, trace id of its span): log records carry both."""


def telemetry_path(endpoint_name: str) -> Path:
    """`<state>/endpoints/<endpoint>/telemetry.jsonl`: spans, logs and metrics, one JSON object a line."""
    return state_dir() / "endpoints" / endpoint_name / "telemetry.jsonl"


def freeze_startup_heap() -> None:
    """Move everything alive now (modules, the model, the app) out of the garbage collector's
    reach; call once per worker when the app is loaded. Full collections then scan only what
    was allocated since, instead of the whole heap (≈ 19 µs per request otherwise: see above)."""
    gc.collect()
    gc.freeze()


class LineWriter:
    """A file-like sink for OpenTelemetry's console metric exporter: one append per export.

    Several gunicorn workers share the file; a single O_APPEND write of whole lines does not
    interleave with another worker's, where a buffered file could split a line across two writes.
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pending: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending.append(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            data, self._pending = "".join(self._pending).encode(), []
        if data:
            os.write(self._fd, data)


_encode = json.JSONEncoder(separators=(",", ":")).encode
_encode_any = json.JSONEncoder(separators=(",", ":"), default=str).encode
_quote = json.encoder.encode_basestring_ascii
"""A JSON string, escaped as `_encode` would (ensure_ascii)."""

_second: tuple[int, str] = (-1, "")


def _iso_us(seconds: int, micros: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffff+00:00` (what datetime.isoformat gives), the seconds part
    formatted once per second: ≈ 0.3 µs instead of ≈ 1.5 µs for a datetime."""
    global _second
    cached = _second
    if cached[0] != seconds:
        cached = _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{cached[1]}.{micros:06d}+00:00"


_SPAN_LINE = '{"kind":"span","time":"%s","name":%s,"trace_id":"%032x","span_id":"%016x","duration_ms":%r,"status":"%s","attributes":%s}\n'


def span_line(span: Any) -> str:
    """One finished span as a compact JSON line (what `amlops endpoint logs` reads).

    The same JSON as `json.dumps` of the fields with compact separators, built with one
    %-format (≈ 5 µs where the dict + encoder took ≈ 8.5 µs)."""
    ctx = span.context
    start = span.start_time
    return _SPAN_LINE % (
        _iso_us(*divmod((start + 500) // 1000, 1_000_000)),
        _quote(span.name),
        ctx.trace_id,
        ctx.span_id,
        round((span.end_time - start) / 1e6, 3),
        span.status.status_code.name,
        _encode(dict(span.attributes or {})),
    )


def server_span_line(name: str, trace_id: int, span_id: int, start_ns: int, end_ns: int, attributes: tuple[str, str, str, int]) -> str:
    """The line `span_line` writes for the front door's server span, from its plain values
    (`attributes` = method, route, request id, status code): see Telemetry.local_server_spans."""
    method, route, request_id, code = attributes
    return _SPAN_LINE % (
        _iso_us(*divmod((start_ns + 500) // 1000, 1_000_000)),
        _quote(name),
        trace_id,
        span_id,
        round((end_ns - start_ns) / 1e6, 3),
        "ERROR" if code >= 500 else "UNSET",
        '{"http.request.method":%s,"http.route":%s,"request.id":%s,"http.response.status_code":%d}'
        % (_quote(method), _quote(route), _quote(request_id), code),
    )


_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id", "taskName"}
"""A LogRecord's own attributes; anything else on a record came from `extra=` and is exported as an attribute."""

_LOG_LINE = '{"kind":"log","time":"%s","severity":%s,"logger":%s,"body":%s,"trace_id":%s,"request_id":%s,"attributes":%s}\n'


def log_line(record: logging.LogRecord, body: str, request: tuple[str, int] | None) -> str:
    """One log record as a compact JSON line with its trace id and request id.

    The fields are the ones OpenTelemetry's LoggingHandler + a console exporter wrote before
    (an OTel LogRecord's), so `amlops endpoint logs` reads old and new files alike."""
    extra = record.__dict__.keys() - _RECORD_FIELDS
    exc_info = record.exc_info
    if extra or exc_info:
        found = {k: record.__dict__[k] for k in extra}
        if exc_info and exc_info[0] is not None:
            exctype, value, _ = exc_info
            found["exception.type"] = exctype.__name__
            if value is not None and value.args:
                found["exception.message"] = str(value.args[0])
            found["exception.stacktrace"] = record.exc_text or ""
        attrs = _encode_any(found)
    else:
        attrs = "{}"
    if request is None:
        trace_id = request_id = "null"
    else:
        trace_id = f'"{request[1]:032x}"' if request[1] else "null"
        request_id = _quote(request[0])
    return _LOG_LINE % (
        _iso_us(*divmod(round(record.created * 1e6), 1_000_000)),
        _quote(record.levelname),
        _quote(record.name),
        _quote(body),
        trace_id,
        request_id,
        attrs,
    )


def is_script_record(record: logging.LogRecord) -> bool:
    """Records the endpoint's logs keep: the script's logging (and print), any WARNING+ of the
    server, and anything else that reaches the root logger; not the server's own per-request
    INFO lines (they duplicate the spans)."""
    return record.levelno >= logging.WARNING or record.name in SCRIPT_LOGGERS or not record.name.startswith("azmlinfsrv")


class JsonlWriter:
    """The local telemetry file's spans and log lines: queued by the request (the span or
    record and its formatter), formatted and appended MAX_BATCH at a time on the thread of the
    request that fills the batch, with one O_APPEND write of whole lines (several workers
    share the file; whole-line appends do not interleave). A timer thread writes what an idle
    worker still holds once the oldest item has waited `delay_ms`.

    Hand-written in place of OpenTelemetry's batch processors + console exporters, because
    those were most of the telemetry's cost (module docstring). Formatting on a request's
    thread rather than in a background thread is deliberate: a writer thread cost ≈ 70 µs
    per request, half of it GIL hand-offs; formatting in batches keeps the formatters'
    code and data cache-warm (≈ 11.5 µs per request for a span and a log line, against
    ≈ 44 µs formatting each as it came). The front door finishes its spans after the
    response is sent, so the batch does not delay a client.
    """

    MAX_BATCH = 256

    def __init__(self, path: Path, delay_ms: int = WRITE_DELAY_MS):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pending: list[tuple[Callable[..., str], tuple]] = []
        self._since = 0.0
        self._delay_s = delay_ms / 1000
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="amlops-telemetry-writer", daemon=True)
        self._thread.start()

    def put(self, format_line: Callable[..., str], *args: Any) -> None:
        """Queue one item (its line is `format_line(*args)`); format and write the batch when it is due.
        For what ends after the response was sent (the front door's span)."""
        self._add((format_line, args), self.MAX_BATCH)

    def queue(self, format_line: Callable[..., str], *args: Any) -> None:
        """Queue one item without writing the batch (unless far overdue): for what happens while
        a request is served (its log lines), so that no client waits for a batch."""
        self._add((format_line, args), 4 * self.MAX_BATCH)

    def _add(self, item: tuple, batch: int) -> None:
        now = time.monotonic()
        with self._lock:
            pending = self._pending
            if not pending:
                self._since = now
            pending.append(item)
            if len(pending) < batch and (batch > self.MAX_BATCH or now - self._since < self._delay_s):
                return
            self._pending = []
        self._write(pending)

    def _write(self, items: list) -> None:
        lines = []
        for format_line, args in items:
            try:
                lines.append(format_line(*args))
            except Exception:  # an item that cannot be written is dropped, never the batch
                pass
        if lines and self._fd >= 0:
            os.write(self._fd, "".join(lines).encode())

    def _run(self) -> None:
        while not self._closed.wait(self._delay_s):
            with self._lock:
                if not self._pending or time.monotonic() - self._since < self._delay_s:
                    continue
                pending, self._pending = self._pending, []
            self._write(pending)

    def flush(self) -> None:
        """Write every queued line now."""
        with self._lock:
            pending, self._pending = self._pending, []
        self._write(pending)

    def close(self) -> None:
        """Stop the timer thread and write what is left."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._thread.join(timeout=5)
        self.flush()
        os.close(self._fd)
        self._fd = -1


class JsonlSpanProcessor:
    """Finished spans → the local file (JsonlWriter), in place of BatchSpanProcessor +
    ConsoleSpanExporter: `on_end` is one deque append (see JsonlWriter for why).

    The SDK's SpanProcessor interface, duck-typed rather than subclassed so that reading the
    file (`amlops endpoint logs`) does not import the SDK."""

    def __init__(self, writer: JsonlWriter):
        self.writer = writer

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def _on_ending(self, span: Any) -> None:
        pass

    def on_end(self, span: Any) -> None:
        self.writer.put(span_line, span)

    def shutdown(self) -> None:
        self.writer.flush()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.writer.flush()
        return True


class JsonlLogHandler(logging.Handler):
    """The script's log records → the local file (JsonlWriter), with the request id and the
    trace id of the request's span; in place of OpenTelemetry's LoggingHandler (see the module
    docstring for the numbers). A request pays one `getMessage()` and a deque append: `handle`
    is overridden so that no handler lock is taken (deque appends are atomic)."""

    def __init__(self, writer: JsonlWriter):
        super().__init__(logging.INFO)
        self.writer = writer
        self._last: logging.LogRecord | None = None

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        # Attached to the root logger and to azmlinfsrv (which the server's logging config
        # keeps from propagating); where it does propagate, a record passes by twice.
        if record is self._last or not is_script_record(record):
            return False
        self._last = record
        try:
            body = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info))
        except Exception:
            self.handleError(record)
            return False
        self.writer.queue(log_line, record, body, current_request.get())
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)


def metrics_line(data: Any) -> str:
    """One metrics export: per metric and attribute set, the count/sum (and histogram count)."""
    out = []
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points = []
                for p in metric.data.data_points:
                    point: dict[str, Any] = {"attributes": dict(p.attributes or {})}
                    if hasattr(p, "bucket_counts"):
                        point.update(count=p.count, sum=round(p.sum, 3), min=p.min, max=p.max)
                    else:
                        point["value"] = p.value
                    points.append(point)
                out.append({"name": metric.name, "unit": metric.unit, "points": points})
    now = datetime.now(tz=timezone.utc).isoformat(timespec="microseconds")
    return json.dumps({"kind": "metrics", "time": now, "metrics": out}) + "\n"



@dataclass
class Exporters:
    """Where each signal goes. `file` is the local JSONL file: spans and log lines reach it
    through JsonlWriter (not OTel exporters: see there why), metrics through the console
    metric exporter in `metrics`. `spans` and `logs` are OpenTelemetry exporters fed by
    batch processors: Azure Monitor's when it is configured."""

    spans: list = field(default_factory=list)
    metrics: list = field(default_factory=list)
    logs: list = field(default_factory=list)
    file: Path | None = None


def build_exporters(path: Path, env: Mapping[str, str]) -> Exporters:
    """The local file always; Azure Monitor as well when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set."""
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

    exporters = Exporters(
        metrics=[ConsoleMetricExporter(out=LineWriter(path), formatter=metrics_line)],  # type: ignore[arg-type]
        file=path,
    )
    conn = env.get(CONNECTION_ENV)
    if conn:
        from azure.monitor.opentelemetry.exporter import (
            AzureMonitorLogExporter,
            AzureMonitorMetricExporter,
            AzureMonitorTraceExporter,
        )

        exporters.spans.append(AzureMonitorTraceExporter(connection_string=conn))
        exporters.metrics.append(AzureMonitorMetricExporter(connection_string=conn))
        exporters.logs.append(AzureMonitorLogExporter(connection_string=conn))
    return exporters


def write_delay_ms(env: Mapping[str, str]) -> int:
    """The local writer's wake-up period: the smaller of the OTel batch processors' delays when set."""
    delays = [int(env[k]) for k in ("OTEL_BSP_SCHEDULE_DELAY", "OTEL_BLRP_SCHEDULE_DELAY") if env.get(k, "").strip().isdigit()]
    return min(delays) if delays else WRITE_DELAY_MS


class _RequestIdFilter(logging.Filter):
    """For OpenTelemetry's handler (Azure Monitor): stamps the current request id on the record
    (an attribute of the exported log), and keeps the server's own per-request INFO lines out."""

    def __init__(self) -> None:
        super().__init__()
        self._last: logging.LogRecord | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record is self._last or not is_script_record(record):  # see JsonlLogHandler.handle
            return False
        self._last = record
        request = current_request.get()
        record.request_id = request[0] if request is not None else None
        return True


class Telemetry:
    """One worker's providers and the instruments the front door records into."""

    def __init__(self, resource_attributes: Mapping[str, str], exporters: Exporters):
        from opentelemetry import metrics, trace
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create(dict(resource_attributes))
        self.writer = JsonlWriter(exporters.file, write_delay_ms(os.environ)) if exporters.file is not None else None
        self.tracer_provider = TracerProvider(resource=resource)
        if self.writer is not None:
            self.tracer_provider.add_span_processor(JsonlSpanProcessor(self.writer))
        for exporter in exporters.spans:
            self.tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        interval = int(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL") or METRICS_INTERVAL_MS)
        readers = [PeriodicExportingMetricReader(e, export_interval_millis=interval) for e in exporters.metrics]
        self.meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        self.logger_provider = LoggerProvider(resource=resource)
        for exporter in exporters.logs:
            self.logger_provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        self._otel_logs = bool(exporters.logs)
        # Global, so that a script using the OpenTelemetry API lands in the same place.
        trace.set_tracer_provider(self.tracer_provider)
        metrics.set_meter_provider(self.meter_provider)

        self.tracer = self.tracer_provider.get_tracer("amlops.serving")
        self.local_server_spans = self.writer is not None and not exporters.spans
        """True when the local file is the only place spans go: the front door then writes its
        server span's line itself (server_span_line) instead of building an SDK span, and makes
        a non-recording span with the same ids current for the request, so that the script's
        log lines and any span it starts belong to that trace. Measured: an SDK span built and
        ended ≈ 15.5 µs against ≈ 1.6 µs for the ids and the context (micro-benchmark), ≈ 60 µs
        against ≈ 15 µs per request in the app. With an OTel span exporter (Azure Monitor) the
        SDK span is built, exported there and written to the file by JsonlSpanProcessor."""
        self.id_generator = self.tracer_provider.id_generator
        meter = self.meter_provider.get_meter("amlops.serving")
        self.duration = meter.create_histogram("http.server.request.duration", unit="ms", description="Request latency by route")
        self._route_attributes: dict[str, dict[str, str]] = {}
        # Counting into a dict and reporting it when metrics are exported keeps a request's
        # cost to one histogram record (an SDK counter add costs as much again).
        self.counts: dict[tuple[str, int], int] = {}
        meter.create_observable_counter(
            "http.server.requests", callbacks=[self._observe_requests], unit="{request}", description="Requests by route and status"
        )
        meter.create_observable_counter(
            "http.server.failures", callbacks=[self._observe_failures], unit="{request}", description="Requests answered with a 5xx"
        )
        self._handlers: list[tuple[logging.Logger, logging.Handler]] = []

    def record(self, route: str, status: int, duration_ms: float) -> None:
        """Count one request and record its latency."""
        key = (route, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        attributes = self._route_attributes.get(route)
        if attributes is None:  # one dict per route (the front door's routes are a fixed set)
            attributes = self._route_attributes[route] = {"http.route": route}
        self.duration.record(duration_ms, attributes)

    def _observe_requests(self, options: Any) -> Iterator[Any]:
        from opentelemetry.metrics import Observation

        for (route, status), n in list(self.counts.items()):
            yield Observation(n, {"http.route": route, "http.response.status_code": status})

    def _observe_failures(self, options: Any) -> Iterator[Any]:
        from opentelemetry.metrics import Observation

        for (route, status), n in list(self.counts.items()):
            if status >= 500:
                yield Observation(n, {"http.route": route, "http.response.status_code": status})

    def capture_logging(self) -> None:
        """Send the script's logging (and any WARNING+ of the server) to the local file and the log exporters."""
        handlers: list[logging.Handler] = []
        if self.writer is not None:
            handlers.append(JsonlLogHandler(self.writer))
        if self._otel_logs:
            from opentelemetry.instrumentation.logging.handler import LoggingHandler

            otel = LoggingHandler(level=logging.INFO, logger_provider=self.logger_provider)
            otel.addFilter(_RequestIdFilter())
            handlers.append(otel)
        # azmlinfsrv does not propagate to the root logger, so it gets its own attachment.
        for name in ("", "azmlinfsrv"):
            target = logging.getLogger(name)
            for handler in handlers:
                target.addHandler(handler)
                self._handlers.append((target, handler))

    def force_flush(self) -> None:
        """Export everything recorded so far (spans, logs, metrics)."""
        self.tracer_provider.force_flush()
        self.logger_provider.force_flush()
        if self.writer is not None:
            self.writer.flush()
        self.meter_provider.force_flush()

    def shutdown(self) -> None:
        """Flush and stop the exporters (a worker's exit)."""
        for target, handler in self._handlers:
            target.removeHandler(handler)
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        if self.writer is not None:
            self.writer.close()
        self.meter_provider.shutdown()


def read_records(path: Path) -> Iterator[dict]:
    """The telemetry file's records in file order; lines that are not JSON objects are skipped."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut short by a killed worker
            if isinstance(rec, dict):
                yield rec


def recent(path: Path, tail: int, request_id: str | None = None) -> tuple[list[dict], list[dict]]:
    """The last `tail` request spans (oldest first) and the log records of those requests
    (or of `request_id` only), plus log records outside any request (start-up)."""
    spans: list[dict] = []
    logs: list[dict] = []
    for rec in read_records(path):
        kind = rec.get("kind")
        if kind == "span":
            spans.append(rec)
        elif kind == "log":
            logs.append(rec)
    if request_id is not None:
        spans = [s for s in spans if (s.get("attributes") or {}).get("request.id") == request_id]
        logs = [r for r in logs if r.get("request_id") == request_id]
    else:
        spans = spans[-tail:] if tail > 0 else []
        shown = {(s.get("attributes") or {}).get("request.id") for s in spans}
        logs = [r for r in logs if r.get("request_id") in shown or r.get("request_id") is None][-tail:]
    spans.sort(key=lambda s: s.get("time") or "")
    logs.sort(key=lambda r: r.get("time") or "")
    return spans, logs
