"""The local telemetry file's format: one compact JSON object a line, of kind span, log or metrics.

The span and log fields are those OpenTelemetry's console exporters write (an SDK span's,
an OTel LogRecord's), so the file reads the same whichever path wrote a line. Client input
that reaches a line (a request id, a log message, a log record's extra fields) is cut to a
bounded length, so no request can write an unbounded line.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

MAX_TEXT = 2000
"""Most characters of a log message or an attribute value written to a line; longer text is cut
(`bounded`), saying how much was cut."""

_encode = json.JSONEncoder(separators=(",", ":")).encode
_quote = json.encoder.encode_basestring_ascii
"""A JSON string, escaped as `_encode` would (ensure_ascii)."""


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    """`text`, or its first `limit` characters and how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters cut)"


_second: tuple[int, str] = (-1, "")


def _iso_us(seconds: int, micros: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffff+00:00` (what datetime.isoformat gives), the seconds part
    formatted once per second (a datetime per line costs several times as much)."""
    global _second
    cached = _second
    if cached[0] != seconds:
        cached = _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{cached[1]}.{micros:06d}+00:00"


_SPAN_LINE = '{"kind":"span","time":"%s","name":%s,"trace_id":"%032x","span_id":"%016x","duration_ms":%r,"status":"%s","attributes":%s}\n'


def _attributes(attributes: Any) -> str:
    found = dict(attributes or {})
    for key, value in found.items():
        if isinstance(value, str) and len(value) > MAX_TEXT:
            found[key] = bounded(value)
    return _encode(found)


def span_line(span: Any) -> str:
    """One finished SDK span as a line (the same JSON as `json.dumps` of its fields, compact)."""
    ctx = span.context
    start = span.start_time
    return _SPAN_LINE % (
        _iso_us(*divmod((start + 500) // 1000, 1_000_000)),
        _quote(bounded(span.name)),
        ctx.trace_id,
        ctx.span_id,
        round((span.end_time - start) / 1e6, 3),
        span.status.status_code.name,
        _attributes(span.attributes),
    )


def server_span_line(name: str, trace_id: int, span_id: int, start_ns: int, end_ns: int, attributes: tuple[str, str, str, int]) -> str:
    """The line `span_line` writes for the front door's server span, from its plain values
    (`attributes` = method, route, request id, status code; the front door bounds all three
    strings): see Telemetry.local_server_spans."""
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

_INFINITIES = {float("inf"): "Infinity", float("-inf"): "-Infinity"}


def _attribute(value: object) -> str:
    """A log attribute's JSON text, as json.JSONEncoder writes a number, true, false or null; any other
    value as the text of str(value), bounded."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return "NaN" if value != value else _INFINITIES.get(value) or float.__repr__(value)
    return _quote(bounded(str(value)))


def log_line(record: logging.LogRecord, body: str, request: tuple[str, int] | None) -> str:
    """One log record as a line with its trace id and request id (the fields of an OTel LogRecord);
    its extra fields are the attributes, in the order they were given."""
    fields = record.__dict__
    extra = [key for key in fields if key not in _RECORD_FIELDS]
    exc_info = record.exc_info
    if extra or exc_info:
        found = {key: fields[key] for key in extra}
        if exc_info and exc_info[0] is not None:
            exctype, value, _ = exc_info
            found["exception.type"] = exctype.__name__
            if value is not None and value.args:
                found["exception.message"] = str(value.args[0])
            found["exception.stacktrace"] = record.exc_text or ""
        attrs = "{" + ",".join([_quote(key) + ":" + _attribute(value) for key, value in found.items()]) + "}"
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
        _quote(bounded(body)),
        trace_id,
        request_id,
        attrs,
    )


DURATION_METRIC = ("http.server.request.duration", "ms", "Request latency by route")
"""The front door's latency histogram: name, unit, description."""


def metrics_line(data: Any, durations: Any = None) -> str:
    """One metrics export: per metric and attribute set, the value (a histogram's count, sum, min and max).

    `durations` (localfile.Durations) is the latency histogram kept outside the SDK; it comes first,
    where the SDK lists the histogram the front door creates before its other instruments."""
    out = []
    if durations is not None:
        points = durations.points()
        if points:
            out.append({"name": DURATION_METRIC[0], "unit": DURATION_METRIC[1], "points": points})
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
