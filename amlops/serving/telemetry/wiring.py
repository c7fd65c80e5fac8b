"""One gunicorn worker's OpenTelemetry: request spans, request/latency/failure metrics and the
script's log lines, to the local file and, when APPLICATIONINSIGHTS_CONNECTION_STRING is set,
to Azure Monitor as well.

Set up where the app is created (amlops.serving.wsgi), not from score.py's init(): called
from init(), Azure Monitor's distro yields no request spans (the Flask app already exists).
The tracer and meter providers are global, so that a script using the OpenTelemetry API lands
in the request's trace. Azure Monitor's exporters are fed by OTel's batch processors and
LoggingHandler; the local file by the writers of amlops.serving.telemetry.localfile.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from amlops.serving.telemetry.lines import DURATION_METRIC, MAX_TEXT, bounded, metrics_line
from amlops.serving.telemetry.localfile import Durations, JsonlLogHandler, JsonlSpanProcessor, JsonlWriter, LineWriter, LocalFile, write_delay_ms
from amlops.serving.telemetry.scope import current_request, is_script_record

CONNECTION_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"
"""Azure Monitor's connection string; when set, telemetry is sent there too."""
METRICS_INTERVAL_MS = 15_000
"""How often metrics are exported; OTEL_METRIC_EXPORT_INTERVAL (ms) overrides it."""


@dataclass
class Exporters:
    """Where each signal goes. `file` is the local file: spans and log lines reach it through
    JsonlWriter, metrics through the console metric exporter in `metrics`. `spans` and `logs`
    are OpenTelemetry exporters fed by batch processors: Azure Monitor's when it is configured."""

    spans: list = field(default_factory=list)
    metrics: list = field(default_factory=list)
    logs: list = field(default_factory=list)
    file: LocalFile | None = None
    durations: Durations | None = None
    """The latency histogram the file's metrics line reports, when no other metric exporter needs the
    SDK's (Telemetry.record keeps it; None: the SDK histogram)."""


def build_exporters(file: LocalFile, env: Mapping[str, str]) -> Exporters:
    """The local file always; Azure Monitor as well when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set."""
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

    conn = env.get(CONNECTION_ENV)
    durations = None if conn else Durations()
    exporters = Exporters(
        metrics=[ConsoleMetricExporter(out=LineWriter(file), formatter=lambda data: metrics_line(data, durations))],  # type: ignore[arg-type]
        file=file,
        durations=durations,
    )
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
    """For OpenTelemetry's handler (Azure Monitor): stamps the current request id on the record
    (an attribute of the exported log), cuts a long message to MAX_TEXT characters, and keeps
    the server's own per-request INFO lines out."""

    def __init__(self) -> None:
        super().__init__()
        self._last: logging.LogRecord | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record is self._last or not is_script_record(record):  # see JsonlLogHandler.handle
            return False
        self._last = record
        request = current_request.get()
        record.request_id = request[0] if request is not None else None
        message = record.getMessage()
        if len(message) > MAX_TEXT:
            record.msg, record.args = bounded(message), None
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
        log lines and any span it starts belong to that trace. With an OTel span exporter
        (Azure Monitor) the SDK span is built, exported there and written to the file by
        JsonlSpanProcessor."""
        self.id_generator = self.tracer_provider.id_generator
        meter = self.meter_provider.get_meter("amlops.serving")
        self.durations = exporters.durations
        self.duration = None if self.durations is not None else meter.create_histogram(DURATION_METRIC[0], unit=DURATION_METRIC[1], description=DURATION_METRIC[2])
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
        if self.duration is None:
            assert self.durations is not None
            self.durations.record(route, duration_ms)
            return
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
