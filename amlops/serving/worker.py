"""The gunicorn worker class of `amlops serve`: gunicorn's sync worker, whose refusals of requests it cannot
parse (a malformed Content-Length or request line, a header or request line over gunicorn's limits, an
unsupported Transfer-Encoding) and whose last-resort 500s are the endpoint's JSON error shape,
`{"message": "..."}`, instead of gunicorn's HTML pages.

gunicorn answers those itself, before any WSGI app (so before the front door) sees the request:
`Worker.handle_error` picks the status and message and writes them with `gunicorn.util.write_error`,
its only caller (gunicorn 26). This worker keeps gunicorn's choice of status, its logging and its access
log line, and replaces only the page: in its own process, `gunicorn.util.write_error` becomes
`write_json_error` when the worker starts. Chosen with gunicorn's documented `--worker-class` setting
(https://docs.gunicorn.org/en/stable/settings.html#worker-class).
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

MAX_SHOWN = 200
"""Most characters of gunicorn's message (which may quote the client's bytes) passed on."""


def error_body(reason: str, message: str) -> bytes:
    """The JSON body for one of gunicorn's refusals: its message (cut to MAX_SHOWN characters), else its reason phrase."""
    text = message or reason
    if len(text) > MAX_SHOWN:
        text = f"{text[:MAX_SHOWN]}… ({len(text)} characters)"
    return json.dumps({"message": text}).encode()


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """`gunicorn.util.write_error`'s contract (a whole response, then the connection closes), in JSON."""
    body = error_body(reason, mesg)
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class JsonErrorWorker(SyncWorker):
    """gunicorn's sync worker, answering its own refusals in the endpoint's JSON error shape."""

    def init_process(self) -> None:
        util.write_error = write_json_error
        super().init_process()
