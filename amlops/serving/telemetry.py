"""OpenTelemetry for `amlops serve`: request spans, request/latency/failure metrics and the
script's log lines, exported to a local JSONL file and, when
APPLICATIONINSIGHTS_CONNECTION_STRING is set, to Azure Monitor as well.

Set up once per gunicorn worker, where the app is created (not from score.py's init()).
Spans and logs go through batch processors, so a request only pays for building its span.
"""

from __future__ import annotations

import json
import logging
import os
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from amlops.paths import state_dir

CONNECTION_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"
"""Azure Monitor's connection string; when set, telemetry is sent there too."""
METRICS_INTERVAL_MS = 15_000
"""How often metrics are exported; OTEL_METRIC_EXPORT_INTERVAL (ms) overrides it."""
SCRIPT_LOGGERS = ("azmlinfsrv.print.score", "azmlinfsrv.print", "azmlinfsrv.user_script")
"""The script's logger, its print() (the server redirects it) and its init() messages."""

current_request_id: ContextVar[str | None] = ContextVar("amlops_request_id", default=None)
"""The request being served; log records carry it as the `request_id` attribute."""


def telemetry_path(endpoint_name: str) -> Path:
    """`<state>/endpoints/<endpoint>/telemetry.jsonl`: spans, logs and metrics, one JSON object a line."""
    return state_dir() / "endpoints" / endpoint_name / "telemetry.jsonl"


class LineWriter:
    """A file-like sink for OpenTelemetry's console exporters: one append per exported batch.

    The exporters write each record, then flush once per batch. Several gunicorn workers
    share the file; a single O_APPEND write of whole lines does not interleave with another
    worker's, where a buffered file could split a line across two writes.
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pending: list[str] = []

    def write(self, text: str) -> int:
        self._pending.append(text)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            data, self._pending = "".join(self._pending).encode(), []
            os.write(self._fd, data)


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="microseconds")


_encode = json.JSONEncoder(separators=(",", ":")).encode


def span_line(span: Any) -> str:
    """One span as a compact JSON line (what `amlops endpoint logs` reads); runs in the export thread."""
    ctx = span.context
    return _encode({
        "kind": "span",
        "time": _iso(span.start_time),
        "name": span.name,
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "duration_ms": round((span.end_time - span.start_time) / 1e6, 3),
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }) + "\n"


def log_line(readable: Any) -> str:
    """One log record as a compact JSON line, with its trace id and request id."""
    rec = readable.log_record
    attrs = dict(rec.attributes or {})
    return json.dumps({
        "kind": "log",
        "time": _iso(rec.timestamp),
        "severity": rec.severity_text,
        "logger": readable.instrumentation_scope.name if readable.instrumentation_scope else None,
        "body": str(rec.body),
        "trace_id": f"{rec.trace_id:032x}" if rec.trace_id else None,
        "request_id": attrs.pop("request_id", None),
        "attributes": attrs,
    }, default=str) + "\n"


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
    """Where each signal goes; several of each when Azure Monitor is configured too."""

    spans: list = field(default_factory=list)
    metrics: list = field(default_factory=list)
    logs: list = field(default_factory=list)


def build_exporters(path: Path, env: Mapping[str, str]) -> Exporters:
    """The local file always; Azure Monitor as well when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set."""
    from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    writer = LineWriter(path)
    exporters = Exporters(
        spans=[ConsoleSpanExporter(out=writer, formatter=span_line)],  # type: ignore[arg-type]
        metrics=[ConsoleMetricExporter(out=writer, formatter=metrics_line)],  # type: ignore[arg-type]
        logs=[ConsoleLogRecordExporter(out=writer, formatter=log_line)],  # type: ignore[arg-type]
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


class _RequestIdFilter(logging.Filter):
    """Stamps the current request id on every record the handler sees; keeps the server's
    own per-request INFO lines out (they duplicate the spans)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return record.levelno >= logging.WARNING or record.name in SCRIPT_LOGGERS or not record.name.startswith("azmlinfsrv")


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
        self.tracer_provider = TracerProvider(resource=resource)
        for exporter in exporters.spans:
            self.tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        interval = int(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL") or METRICS_INTERVAL_MS)
        readers = [PeriodicExportingMetricReader(e, export_interval_millis=interval) for e in exporters.metrics]
        self.meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        self.logger_provider = LoggerProvider(resource=resource)
        for exporter in exporters.logs:
            self.logger_provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        # Global, so that a script using the OpenTelemetry API lands in the same place.
        trace.set_tracer_provider(self.tracer_provider)
        metrics.set_meter_provider(self.meter_provider)

        self.tracer = self.tracer_provider.get_tracer("amlops.serving")
        meter = self.meter_provider.get_meter("amlops.serving")
        self.duration = meter.create_histogram("http.server.request.duration", unit="ms", description="Request latency by route")
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
        self.duration.record(duration_ms, {"http.route": route})

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
        """Send the script's logging (and any WARNING+ of the server) to the log exporters."""
        from opentelemetry.instrumentation.logging.handler import LoggingHandler

        handler = LoggingHandler(level=logging.INFO, logger_provider=self.logger_provider)
        handler.addFilter(_RequestIdFilter())
        # azmlinfsrv does not propagate to the root logger, so it gets its own attachment.
        for name in ("", "azmlinfsrv"):
            target = logging.getLogger(name)
            target.addHandler(handler)
            self._handlers.append((target, handler))

    def shutdown(self) -> None:
        """Flush and stop the exporters (a worker's exit)."""
        for target, handler in self._handlers:
            target.removeHandler(handler)
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        self.logger_provider.shutdown()


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
