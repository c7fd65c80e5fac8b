"""Telemetry of `amlops serve`, one module per job:

- `lines`: the JSON line of a span, a log record and a metrics export (the local file's format);
- `localfile`: where the file lives, its size-bounded rotation, and the writers that append to it;
- `wiring`: the OpenTelemetry providers of one gunicorn worker (and Azure Monitor's exporters);
- `reader`: reading the file back (`amlops endpoint logs`);
- `scope`: which request a log record belongs to, and which records are kept.
"""
