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

Both send a response's head with its first body bytes in one write (`OneWriteResponse`), close a
connection at once when the client's TCP stack has acknowledged the whole response and nothing waits
unread (`JsonErrorWorker.close_connection`), instead of always waiting for the client to close first,
and sleep in epoll's exclusive mode (`JsonErrorWorker.wait`), so that a connection wakes one idle worker.

`AdmittingWorker` is the same worker behind the imitated admission (amlops.serving.admission): it takes
the connections the master's dispatcher handed over first, then accepts from the listening socket itself
(where the dispatcher only watches the queue), takes a unit of the in-flight count for each or hands it
back to be refused, gives the unit back once the response is computed, and on SIGTERM serves what the
dispatcher handed over before exiting.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import socket
import sys
import termios
import time

from gunicorn import util
from gunicorn.http import wsgi
from gunicorn.http.body import LengthReader
from gunicorn.workers.sync import StopWaiting, SyncWorker

from amlops.serving import admission

FD_BYTES = 4
"""A descriptor in an SCM_RIGHTS message (a C int)."""
FD_SPACE = socket.CMSG_SPACE(FD_BYTES)
"""Room for the one descriptor the dispatcher sends with each ticket."""
MAX_SHOWN = 200
"""Most characters of gunicorn's message (which may quote the client's bytes) passed on."""
_close_graceful = util.close_graceful
"""gunicorn's close of every connection (RFC 9112's staged close): half-close, then read until the client
closes or 2 s pass."""
_UNACKNOWLEDGED = getattr(termios, "TIOCOUTQ", None)
"""Linux's SIOCOUTQ on a TCP socket: bytes sent (the FIN counting one) that the peer has not acknowledged
(tcp_ioctl: `write_seq - snd_una`; man 7 tcp, "ioctls")."""
_UNREAD = termios.FIONREAD
"""SIOCINQ on a TCP socket: bytes received and not yet read (man 7 tcp)."""
_INT = bytes(4)
HEARTBEAT_S = 1.0
"""Most seconds between two touches of gunicorn's heartbeat file (its arbiter kills a worker silent for --timeout
seconds, at least 30 for `amlops serve`: amlops.serving.endpoint.worker_timeout_s)."""


def error_body(reason: str, message: str) -> bytes:
    """The JSON body for one of gunicorn's refusals: its message (cut to MAX_SHOWN characters), else its reason phrase."""
    text = message or reason
    if len(text) > MAX_SHOWN:
        text = f"{text[:MAX_SHOWN]}… ({len(text)} characters)"
    return json.dumps({"message": text}).encode()


def settled(sock: socket.socket) -> bool:
    """Whether the client's TCP stack has acknowledged everything sent on `sock` and nothing the client sent waits
    unread in it; False wherever that cannot be read (another OS, a closed socket)."""
    if _UNACKNOWLEDGED is None:
        return False
    try:
        fd = sock.fileno()
        return fcntl.ioctl(fd, _UNACKNOWLEDGED, _INT) == _INT and fcntl.ioctl(fd, _UNREAD, _INT) == _INT
    except (OSError, ValueError):
        return False


def request_read(req) -> bool:
    """Whether every byte of the request's body was taken from the socket (a body of known length read to its
    end, or none); a chunked body, or one the app stopped reading, is not known to be over."""
    reader = getattr(getattr(req, "body", None), "reader", None)
    return isinstance(reader, LengthReader) and reader.length == 0


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """`gunicorn.util.write_error`'s contract (a whole response, then the connection closes), in JSON."""
    body = error_body(reason, mesg)
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class OneWriteResponse(wsgi.Response):
    """gunicorn's response writer, sending the head with the first body bytes in one `sendall` instead of two.

    A second send per request is a second TCP segment through the kernel and a second wake-up of the
    client, for answers that are one small JSON body each (strace of a worker: one sendto per request).
    The head is held from `send_headers` until the first body bytes, the end of the response (`close`:
    an empty body, a HEAD) or a chunked or sendfile body, which are sent as gunicorn sends them."""

    _head = b""
    _hold = True

    def send_headers(self) -> None:
        if self.headers_sent or not self._hold:
            return super().send_headers()
        # gunicorn's own head (Response.send_headers), kept until the body's first bytes
        tosend = self.default_headers()
        tosend.extend(["%s: %s\r\n" % (k, v) for k, v in self.headers])
        self._head = util.to_bytestring("%s\r\n" % "".join(tosend), "latin-1")
        self.headers_sent = True

    def _emit_body(self, data: bytes) -> None:
        head, self._head = self._head, b""
        if head and not self.chunked:
            util.write(self.sock, head + data)
            return
        if head:
            util.write(self.sock, head)
        super()._emit_body(data)

    def sendfile(self, respiter) -> bool:
        self._flush()
        self._hold = False  # gunicorn writes a file's bytes to the socket itself, after its send_headers
        return super().sendfile(respiter)

    def close(self) -> None:
        if not self.headers_sent:
            self.send_headers()
        self._flush()
        super().close()

    def _flush(self) -> None:
        head, self._head = self._head, b""
        if head:
            util.write(self.sock, head)


class JsonErrorWorker(SyncWorker):
    """gunicorn's sync worker, answering its own refusals in the endpoint's JSON error shape."""

    _request_read = False
    """True from the end of a request whose body was read whole until its connection is closed."""
    _poller = None
    """This worker's epoll (made at its first wait, after the fork), and what each of its descriptors stands for."""
    _polled: dict[int, object]
    _beat = float("-inf")
    """When the heartbeat file was last touched (time.monotonic)."""

    def init_process(self) -> None:
        util.write_error = write_json_error
        wsgi.Response = OneWriteResponse  # looked up by gunicorn.http.wsgi.create for each request
        util.close_graceful = self.close_connection  # gunicorn's handle() closes every connection through it
        super().init_process()

    def notify(self) -> None:
        """gunicorn's heartbeat, at most once every HEARTBEAT_S: its loop touches the file (a utime) before every
        accept and every sleep, two or three times a request, where the arbiter needs one within --timeout."""
        now = time.monotonic()
        if now - self._beat >= HEARTBEAT_S:
            self._beat = now
            super().notify()

    def wait(self, timeout: float) -> list:
        """gunicorn's SyncWorker.wait (sleep until a socket or the worker's pipe is ready, and return what is),
        with every socket but the pipe watched in epoll's exclusive mode.

        gunicorn's select() wakes every idle worker for each new connection; all but one then find nothing
        to accept and sleep again. With EPOLLEXCLUSIVE, "one or more of the epoll file descriptors will receive
        an event" (https://man7.org/linux/man-pages/man2/epoll_ctl.2.html), and a worker busy with a request,
        not sleeping in epoll_wait, is passed by (Linux's fs/eventpoll.c, ep_poll_callback: an exclusive entry
        ends the wake-up only where a task waits on that epoll). The pipe, which gunicorn's signal handlers write to
        (signal.set_wakeup_fd), wakes its own worker only, as before. Where there is no epoll, gunicorn's select()."""
        poller = self._poller
        if poller is None:
            if not hasattr(select, "epoll"):
                return super().wait(timeout)
            poller = self._poller = select.epoll()
            self._polled = {}
            for item in self.wait_fds:
                fd = item if isinstance(item, int) else item.fileno()
                poller.register(fd, select.EPOLLIN if fd == self.PIPE[0] else select.EPOLLIN | select.EPOLLEXCLUSIVE)
                self._polled[fd] = item
        self.notify()
        ready = [self._polled[fd] for fd, _events in poller.poll(timeout)]
        if self.PIPE[0] in ready:
            try:
                os.read(self.PIPE[0], 1)
            except BlockingIOError:
                pass
        return ready

    def forget(self, sock: socket.socket) -> None:
        """Stop watching a socket about to be closed (epoll would keep a listener other processes still hold)."""
        if self._poller is not None and self._polled.pop(sock.fileno(), None) is not None:
            self._poller.unregister(sock.fileno())

    def handle_request(self, listener, req, client, addr) -> None:
        self._request_read = False
        super().handle_request(listener, req, client, addr)
        self._request_read = request_read(req)

    def close_connection(self, sock: socket.socket, timeout: float = 2.0, max_drain: int = 65536) -> None:
        """Close a client's connection (gunicorn.util.close_graceful's contract), at once when that is safe.

        RFC 9112 section 9.6 (https://www.rfc-editor.org/rfc/rfc9112#section-9.6): a server that closes at once
        risks a reset that erases the response before the client reads it, if the client's data arrives on the
        closed connection; so it half-closes and reads "until it receives a corresponding close by the client,
        or until the server is reasonably certain that its own TCP stack has received the client's
        acknowledgement of the packet(s) containing the server's last response". gunicorn 26 always waits for
        the client's close, so the worker sleeps until the client has run again, for every request. Here, when
        the request was read to its end, the client's stack has acknowledged every byte of the response and
        nothing waits unread, the connection is closed at once (a FIN, no reset: the second condition);
        otherwise, on a remote client's link and after any refusal, it is gunicorn's close."""
        read, self._request_read = self._request_read, False
        if read and settled(sock):
            sock.close()
            return
        _close_graceful(sock, timeout, max_drain)


class _Address:
    """Stands in for the listening socket where gunicorn reads the server's address (SERVER_NAME/PORT)."""

    def __init__(self, address):
        self._address = address

    def getsockname(self):
        return self._address


class AdmittingWorker(JsonErrorWorker):
    """A JsonErrorWorker behind the admission: handed-over connections first, in arrival order, then the listener."""

    admission_slot = 0
    """Set by the master before it forks this worker (amlops.serving.preload.pre_fork)."""

    def init_process(self) -> None:
        self._admission = admission.installed()
        self._draining = False
        if self._admission is not None:
            self._address = _Address(self.sockets[0].getsockname())
            self._family = self.sockets[0].family
            if not self._admission.direct:  # only the dispatcher accepts: closed at shutdown, nothing queues
                for listener in self.sockets:
                    listener.close()
            self._admission.close_in_worker()
            # select() reports ready descriptors in the order given: what the dispatcher handed over is older
            self.sockets = [self._admission.receiver, *(self.sockets if self._admission.direct else ())]
        super().init_process()

    def run_for_multiple(self, timeout: float) -> None:
        """gunicorn's loop for one listener (SyncWorker.run_for_one), over the hand-over queue and the listener:
        take what is waiting before sleeping in select(). gunicorn's loop for several listeners selects before
        every accept, so the worker that has just answered sleeps while a connection already waits, and the
        other worker, woken by the same connection, serves it from cold caches (tests/test_serve_admission.py
        watches the order)."""
        while self.alive:
            self.notify()
            if self._took_one():
                continue
            if not self.is_parent_alive():
                return
            try:
                self.wait(timeout)
            except StopWaiting:
                return

    def _took_one(self) -> bool:
        """Serve one waiting connection, if any: what the dispatcher handed over first (it is older), then the listener's."""
        for sock in list(self.sockets):
            try:
                self.accept(sock)
                return True
            except OSError as exc:  # nothing waiting there (non-blocking), or the client left before it was taken
                if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                    raise
        return False

    def accept(self, listener) -> None:
        if self._admission is None:
            return super().accept(listener)
        if listener is not self._admission.receiver:
            return self._accept_direct(listener)
        try:
            # the descriptor arrives close-on-exec and blocking (accept4 without SOCK_NONBLOCK): nothing to set per request
            payload, ancillary, _flags, _addr = listener.recvmsg(admission.TICKET_SIZE, FD_SPACE, socket.MSG_CMSG_CLOEXEC)
        except BlockingIOError:
            if self._draining:  # SIGTERM and nothing left handed over: done
                self.alive = False
                return
            raise
        if not ancillary:  # the dispatcher ended the queue and it is empty
            self.alive = False
            return
        admission.begin(admission.Ticket(self._admission, self.admission_slot, payload))
        try:
            fd = int.from_bytes(ancillary[0][2][:FD_BYTES], sys.byteorder, signed=True)
            client = socket.socket(self._family, socket.SOCK_STREAM, 0, fileno=fd)  # given, so not asked of the kernel
            try:
                addr = client.getpeername()
            except OSError:  # the client already left
                client.close()
                return
            self.handle(self._address, client, addr)
        finally:
            admission.end()

    def _accept_direct(self, listener) -> None:
        """A connection from the listener: served with a unit of the count, else handed back to be refused."""
        if self._draining:  # SIGTERM: what the dispatcher handed over is served, nothing new is taken
            self._stop_accepting(listener)
            return
        try:
            # accept4 with SOCK_CLOEXEC and without SOCK_NONBLOCK: the descriptor is close-on-exec and blocking as it comes
            client, addr = listener.accept()
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self._stop_accepting(listener)  # the dispatcher shut the listener down (SIGTERM): the queue is all that is left
            return
        if not self._admission.units.acquire(False):
            self._admission.give_back(client)
            return
        self._admission.taken()
        admission.begin(admission.Ticket.direct(self._admission, self.admission_slot))
        try:
            self.handle(self._address, client, addr)  # the listener's address, known: not asked of the kernel per request
        finally:
            admission.end()

    def _stop_accepting(self, listener) -> None:
        self.sockets = [s for s in self.sockets if s is not listener]
        self.wait_fds = [fd for fd in self.wait_fds if fd is not listener]
        self.forget(listener)
        listener.close()

    def handle_error(self, req, client, addr, exc) -> None:
        admission.end()  # gunicorn's own refusals: the unit is back before the answer is sent
        super().handle_error(req, client, addr, exc)

    def handle_exit(self, sig, frame) -> None:
        """SIGTERM: serve what was handed over (the master's dispatcher has stopped), then exit."""
        if self._admission is None:
            return super().handle_exit(sig, frame)
        self._draining = True
