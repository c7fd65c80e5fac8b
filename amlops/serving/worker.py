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

`AdmittingWorker` is the same worker behind the imitated admission (amlops.serving.admission): it takes
its connections from the master's dispatcher instead of the listening socket, gives the request's unit
back once the response is computed, and on SIGTERM serves what the dispatcher handed over before exiting.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

from amlops.serving import admission

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


class _Address:
    """Stands in for the listening socket where gunicorn reads the server's address (SERVER_NAME/PORT)."""

    def __init__(self, address):
        self._address = address

    def getsockname(self):
        return self._address


class AdmittingWorker(JsonErrorWorker):
    """A JsonErrorWorker that takes its connections, in arrival order, from the admission's dispatcher."""

    admission_slot = 0
    """Set by the master before it forks this worker (amlops.serving.preload.pre_fork)."""

    def init_process(self) -> None:
        self._admission = admission.installed()
        self._draining = False
        if self._admission is not None:
            self._address = _Address(self.sockets[0].getsockname())
            for listener in self.sockets:  # only the dispatcher holds the listener: closed at shutdown, nothing queues
                listener.close()
            self._admission.close_in_worker()
            self.sockets = [self._admission.receiver]
        super().init_process()

    def accept(self, listener) -> None:
        if self._admission is None:
            return super().accept(listener)
        try:
            payload, fds, _flags, _addr = socket.recv_fds(listener, admission.TICKET_SIZE, 1)
        except BlockingIOError:
            if self._draining:  # SIGTERM and nothing left handed over: done
                self.alive = False
                return
            raise
        if not fds:  # the dispatcher ended the queue and it is empty
            self.alive = False
            return
        admission.begin(admission.Ticket(self._admission, self.admission_slot, payload))
        try:
            client = socket.socket(fileno=fds[0])
            client.setblocking(True)
            util.close_on_exec(client)
            try:
                addr = client.getpeername()
            except OSError:  # the client already left
                client.close()
                return
            self.handle(self._address, client, addr)
        finally:
            admission.end()

    def handle_error(self, req, client, addr, exc) -> None:
        admission.end()  # gunicorn's own refusals: the unit is back before the answer is sent
        super().handle_error(req, client, addr, exc)

    def handle_exit(self, sig, frame) -> None:
        """SIGTERM: serve what was handed over (the master's dispatcher has stopped), then exit."""
        if self._admission is None:
            return super().handle_exit(sig, frame)
        self._draining = True
