"""The local telemetry file, `<state>/endpoints/<endpoint>/telemetry.jsonl`: where it lives, its
size-bounded rotation, and the writers that append spans, log lines and metrics to it.

Several gunicorn workers append to one file. Each append is one O_APPEND write of whole lines,
which does not interleave with another worker's. When the file would pass its size limit, the
worker that notices renames it to `telemetry.jsonl.1` (and `.1` to `.2`, … keeping `backups`
old files) under a lock file; the other workers reopen the new file at their next append.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from amlops.paths import state_dir
from amlops.serving.telemetry.lines import log_line, span_line
from amlops.serving.telemetry.scope import current_request, is_script_record

WRITE_DELAY_MS = 1000
"""How often the file's writer wakes: the smaller of OTEL_BSP_SCHEDULE_DELAY and
OTEL_BLRP_SCHEDULE_DELAY when set (the OTel processors it stands in for), else this."""
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_BACKUPS = 4


def telemetry_path(endpoint_name: str) -> Path:
    """`<state>/endpoints/<endpoint>/telemetry.jsonl`: spans, logs and metrics, one JSON object a line."""
    return state_dir() / "endpoints" / endpoint_name / "telemetry.jsonl"


@dataclass(frozen=True)
class LocalFile:
    """The telemetry file and its rotation."""

    path: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    """Size at which the file is rotated."""
    backups: int = DEFAULT_BACKUPS
    """Rotated files kept (`.1` newest … `.N` oldest); older ones are deleted."""

    def rotated(self, n: int) -> Path:
        """The n-th newest rotated file, `telemetry.jsonl.<n>`."""
        return self.path.with_name(f"{self.path.name}.{n}")


class RotatingAppender:
    """Whole-line appends to a LocalFile from one process, rotating it at its size limit."""

    def __init__(self, file: LocalFile):
        self.file = file
        file.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = -1
        self._inode = -1
        self._open()

    def _open(self) -> None:
        fd = os.open(self.file.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._inode = fd, os.fstat(fd).st_ino

    def append(self, data: bytes) -> None:
        if self._fd < 0 or not data:
            return
        try:
            current = os.stat(self.file.path).st_ino
        except FileNotFoundError:
            current = -1
        if current != self._inode:  # another worker rotated it (or it was deleted)
            self._open()
        if os.fstat(self._fd).st_size + len(data) > self.file.max_bytes:
            self._rotate()
        os.write(self._fd, data)

    def _rotate(self) -> None:
        lock_path = self.file.path.with_name(self.file.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if os.stat(self.file.path).st_ino == self._inode and os.fstat(self._fd).st_size > 0:
                    for n in range(self.file.backups - 1, 0, -1):
                        if self.file.rotated(n).exists():
                            os.replace(self.file.rotated(n), self.file.rotated(n + 1))
                    os.replace(self.file.path, self.file.rotated(1))
            except FileNotFoundError:
                pass
            finally:
                self._open()
                fcntl.flock(lock, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class LineWriter:
    """A file-like sink for OpenTelemetry's console metric exporter: one append per export."""

    def __init__(self, file: LocalFile):
        self._out = RotatingAppender(file)
        self._pending: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending.append(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            data, self._pending = "".join(self._pending).encode(), []
            self._out.append(data)


class Durations:
    """The latency histogram as the local file reports it (count, sum, min and max per route), kept by the
    front door in place of OpenTelemetry's Histogram when the file is the only place metrics go.

    The file's metrics line shows only those four figures of a histogram (lines.metrics_line); an SDK
    `Histogram.record` goes through the measurement consumer, the view matching and an attribute hash
    to the bucket aggregation on every request. Where an exporter needs the buckets (Azure Monitor),
    the SDK histogram is used instead (wiring.Telemetry)."""

    def __init__(self) -> None:
        self._by_route: dict[str, list] = {}
        self._lock = threading.Lock()

    def record(self, route: str, ms: float) -> None:
        with self._lock:
            found = self._by_route.get(route)
            if found is None:
                self._by_route[route] = [1, ms, ms, ms]
                return
            found[0] += 1
            found[1] += ms
            if ms < found[2]:
                found[2] = ms
            if ms > found[3]:
                found[3] = ms

    def points(self) -> list[dict]:
        """Per route, in the order first recorded: the figures so far (cumulative, as the SDK's console export)."""
        with self._lock:
            snapshot = [(route, *figures) for route, figures in self._by_route.items()]
        return [
            {"attributes": {"http.route": route}, "count": count, "sum": round(total, 3), "min": low, "max": high}
            for route, count, total, low, high in snapshot
        ]


class JsonlWriter:
    """Spans and log lines for the file: queued by the request (the item and its formatter),
    formatted and appended MAX_BATCH at a time on the thread of the request that fills the
    batch (formatting in a background thread costs GIL hand-offs with the request thread); a
    timer thread writes what an idle worker still holds once the oldest item has waited
    `delay_ms`. The front door finishes its spans after the response is sent, so a batch
    does not delay a client."""

    MAX_BATCH = 256

    def __init__(self, file: LocalFile, delay_ms: int = WRITE_DELAY_MS):
        self._out = RotatingAppender(file)
        self._pending: list[tuple[Callable[..., str], tuple]] = []
        self._since = 0.0
        self._delay_s = delay_ms / 1000
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
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
        if lines:
            with self._write_lock:
                self._out.append("".join(lines).encode())

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
        with self._write_lock:
            self._out.close()


class JsonlSpanProcessor:
    """Finished SDK spans → the file (JsonlWriter), in place of BatchSpanProcessor + ConsoleSpanExporter.

    The SDK's SpanProcessor interface, duck-typed rather than subclassed so that this module
    does not import the SDK."""

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
    """The script's log records → the file (JsonlWriter), with the request id and the trace id
    of the request's span, in place of OpenTelemetry's LoggingHandler. A request pays one
    `getMessage()` and a list append: `handle` is overridden so that no handler lock is taken."""

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


def write_delay_ms(env: dict | Any) -> int:
    """The writer's wake-up period: the smaller of the OTel batch processors' delays when set."""
    delays = [int(env[k]) for k in ("OTEL_BSP_SCHEDULE_DELAY", "OTEL_BLRP_SCHEDULE_DELAY") if env.get(k, "").strip().isdigit()]
    return min(delays) if delays else WRITE_DELAY_MS
