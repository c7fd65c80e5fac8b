"""The managed online endpoint's per-instance admission, imitated in front of gunicorn's sync
workers, so that clients can test their retries locally.

Azure allows at most 2 × max_concurrent_requests_per_instance × instance_count requests in
flight and rejects the rest with 429 "Too many pending requests"
(https://learn.microsoft.com/en-us/azure/machine-learning/how-to-troubleshoot-online-endpoints#http-status-codes;
the setting: https://learn.microsoft.com/en-us/azure/machine-learning/reference-yaml-deployment-managed-online#requestsettings).
A local server is one instance. max_queue_wait is "deprecated for managed online endpoints"
(https://learn.microsoft.com/en-us/javascript/api/@azure/arm-machinelearning/onlinerequestsettings):
it is honoured only for Kubernetes targets, where a request that waited longer is a 429.

The in-flight count is a shared semaphore of 2 × max_concurrent_requests_per_instance units: whoever
accepts a connection takes a unit, or the connection is over the limit. A sync worker gives its unit
back when the response is computed and before it is sent, so a client that sends its next request
after reading a response never finds its own previous request still counted (a client holding
exactly the limit in flight is never refused).

Azure refuses at arrival, however busy the instance is, while a sync worker accepts only when it is
free. So a `Dispatcher` thread in the gunicorn master watches the listener's accept queue (its length
is the kernel's TCP_INFO of a listening socket): while requests are in flight it looks every POLL_S,
and once units held plus connections queued exceed the limit it accepts what is queued itself, in
arrival order, handing a connection that gets a unit, with its descriptor (SCM_RIGHTS), to the workers
through one SOCK_SEQPACKET socket pair that they read before the listener
(amlops.serving.worker.AdmittingWorker), and answering one that does not 429 once its request head has
arrived (a health probe, `GET /`, is handed over uncounted: Azure's probes do not pass its front end).
Below the limit the workers accept from the listener themselves, as gunicorn's do: the master touches
no connection. A worker that accepts one and finds no unit left hands it back to the dispatcher to be
answered the same way.

Where max_queue_wait is read (Kubernetes targets) the dispatcher accepts every connection as it
arrives instead, so that each one's wait for a worker is known (`Ticket.waited_ms`).

A unit held by a worker that dies is given back by the master (`Admission.worker_exited`); on
SIGTERM the dispatcher takes what waits in the accept queue, stops the listener for every process
(shutdown), and ends the hand-over queue, which the workers drain before they exit (`Admission.stop`).
"""

from __future__ import annotations

import multiprocessing
import os
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass

from amlops.serving.settings import Admission as AdmissionSettings

SLOTS = 64
"""Workers one server can have (infra.config allows 32 per instance)."""
_TICKET = struct.Struct("=Bq")
"""What the dispatcher sends with a connection: 1 if it holds a unit of the count, its accept time (CLOCK_MONOTONIC ns)."""
TICKET_SIZE = _TICKET.size
HEAD_LIMIT = 16 * 1024
"""Bytes of a refused request's head read before answering (the request line decides a probe)."""
REFUSAL_DEADLINE_S = 2.0
"""A refused connection is closed this long after it arrived, answered or not (a client that never sends)."""
_PROBES = (b"GET / ", b"HEAD / ")


def over_limit_message(settings: AdmissionSettings) -> str:
    return (
        f"too many pending requests: this instance takes at most {settings.in_flight_limit} at once "
        f"(2 x max_concurrent_requests_per_instance {settings.max_concurrent_requests_per_instance}); retry with backoff"
    )


def refusal_response(message: str) -> bytes:
    """The whole 429 the dispatcher writes: the endpoint's JSON error shape, then the connection closes."""
    import json

    body = json.dumps({"message": message}).encode()
    head = (
        "HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Retry-After: 1\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


@dataclass(frozen=True)
class Refusal:
    """Why a request is answered 429."""

    message: str


class Admission:
    """The count shared by the master's dispatcher and the workers, created in the master before it forks."""

    def __init__(self, settings: AdmissionSettings, listener: socket.socket):
        self.settings = settings
        self.units = multiprocessing.Semaphore(settings.in_flight_limit)
        self.held = multiprocessing.RawArray("b", SLOTS)
        """One byte per worker slot: 1 while that worker holds a unit (the master gives it back if the worker dies)."""
        self.sender, self.receiver = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.returner, self.returns = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        """A worker that accepted a connection over the limit sends it back here, to be answered 429 by the dispatcher."""
        self.busy_at = min(settings.workers, settings.in_flight_limit)
        """Units held from which every worker may be busy: connections can queue, so the dispatcher looks."""
        self.looking = multiprocessing.RawValue("b", 0)
        """1 while the dispatcher looks at the accept queue every POLL_S (set by the worker that wakes it)."""
        self._poke_r, self._poke_w = os.pipe()
        os.set_blocking(self._poke_r, False)
        os.set_blocking(self._poke_w, False)  # a worker never waits on the master
        self.direct = settings.max_queue_wait_ms is None and queued(listener) is not None
        """The workers accept from the listener themselves (the dispatcher only watches its queue); False where a
        connection's queue wait is needed (max_queue_wait) or the listener's queue cannot be read (not TCP)."""
        self._slots: dict[int, int] = {}
        self._barrier = threading.Lock()
        self.dispatcher = Dispatcher(
            listener, self.sender, self.returns, self.units, settings.in_flight_limit,
            refusal_response(over_limit_message(settings)), watch=self if self.direct else None,
        )

    def start(self) -> None:
        self.dispatcher.start()

    def stop(self, drain: bool = True) -> None:
        """Stop taking connections (those already queued are taken first unless `drain` is False) and end
        the hand-over queue; the workers serve what it holds, then exit."""
        self.dispatcher.stop(drain)

    def worker_forking(self, pid_key: int) -> int:
        """The slot of a worker about to be forked (the master calls this; `pid_key` names the worker object)."""
        used = set(self._slots.values())
        slot = next(s for s in range(SLOTS) if s not in used)
        self._slots[pid_key] = slot
        self.held[slot] = 0
        return slot

    def worker_exited(self, pid_key: int) -> None:
        """A worker died: give back the unit it held, if any."""
        slot = self._slots.pop(pid_key, None)
        if slot is not None and self.held[slot]:
            self.held[slot] = 0
            self.units.release()

    def close_in_worker(self) -> None:
        """In a forked worker: drop the master's ends (the sending end, the returned connections' reading end, the
        dispatcher's pipe, and the listener unless the workers accept from it)."""
        self.dispatcher.close_copies(keep_listener=self.direct)
        self.sender.close()
        self.returns.close()
        os.close(self._poke_r)

    def taken(self) -> None:
        """In a worker that took a unit: if every worker may now be busy, wake the dispatcher to look at the queue
        (once: the flag stays set while it looks)."""
        if not self.looking.value and self.settings.in_flight_limit - self.units.get_value() >= self.busy_at:
            self.looking.value = 1
            try:
                os.write(self._poke_w, b"!")
            except OSError:  # full (the master is behind) or gone: it reads the count again within RECHECK_S anyway
                pass

    def may_stop_looking(self) -> bool:
        """In the dispatcher: True, with the flag cleared, when fewer units are held than it takes to keep every
        worker busy (a free worker takes the next connection itself, and wakes the dispatcher if that makes them
        all busy)."""
        if self.settings.in_flight_limit - self.units.get_value() >= self.busy_at:
            return False
        self.looking.value = 0
        with self._barrier:  # a full fence between clearing the flag and reading the count again (Dekker's order)
            pass
        if self.settings.in_flight_limit - self.units.get_value() >= self.busy_at:
            self.looking.value = 1  # a worker took a unit meanwhile and saw the flag still set
            return False
        return True

    def poked(self) -> None:
        try:
            while os.read(self._poke_r, 64):
                pass
        except BlockingIOError:
            pass

    def give_back(self, conn: socket.socket) -> None:
        """In a worker: a connection it accepted with no unit left goes to the dispatcher, to be answered 429."""
        try:
            socket.send_fds(self.returner, [b"r"], [conn.fileno()])
        finally:
            conn.close()


_TCP_INFO = struct.Struct("=8B5I")
"""The head of Linux's struct tcp_info: 8 one-byte fields, then rto, ato, snd_mss, rcv_mss and unacked, which for
a listening socket is the length of its accept queue (tcp_get_info: `info->tcpi_unacked = READ_ONCE(sk->sk_ack_backlog)`)."""


def queued(listener: socket.socket) -> int | None:
    """Connections waiting in the listener's accept queue, or None when that cannot be read (not a TCP listener)."""
    option = getattr(socket, "TCP_INFO", None)  # Linux's; elsewhere the dispatcher accepts every connection
    if option is None:
        return None
    try:
        info = listener.getsockopt(socket.IPPROTO_TCP, option, _TCP_INFO.size)
    except OSError:
        return None
    return _TCP_INFO.unpack(info)[-1] if len(info) == _TCP_INFO.size else None


POLL_S = 0.004
"""How often the dispatcher reads the accept queue while every worker may be busy: a request over the limit is
answered 429 within this (plus the time its head takes to arrive), where Azure answers at once. Each look is a
timer wake-up of the master (about 70 µs of CPU on this 2-core VM), so it looks only while connections can queue."""
QUIET_LOOKS = 25
"""Looks in a row with a worker free before the dispatcher stops looking: under steady load the count dips below
busy between one response and the next accept, and each stop would cost a worker's wake-up write and a master wake."""
RECHECK_S = 0.25
"""While not looking, the dispatcher still reads the count this often, should a worker's wake-up have been missed."""


class Dispatcher(threading.Thread):
    """The master's admission thread: the accept queue watched (or, `watch` False, every connection accepted), and
    for each connection over the limit a 429."""

    def __init__(self, listener: socket.socket, sender: socket.socket, returns: socket.socket, units, limit: int,
                 refusal: bytes, watch: Admission | None):
        super().__init__(name="amlops-admission", daemon=True)
        self.listener = listener
        self.sender = sender
        self.returns = returns
        self.units = units
        self.limit = limit
        self.refusal = refusal
        self.watch = watch
        self._wake_r, self._wake_w = os.pipe()
        self._drain = True
        self._quiet = 0
        self._refused: dict[socket.socket, list] = {}
        """Refused connections still open: [deadline, answered, bytes of the head seen]."""

    def stop(self, drain: bool = True) -> None:
        if not self.is_alive():
            return
        self._drain = drain
        os.write(self._wake_w, b"x")
        self.join(timeout=REFUSAL_DEADLINE_S + 1)

    def close_copies(self, keep_listener: bool = False) -> None:
        if not keep_listener:
            self.listener.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        for conn in self._refused:
            conn.close()

    def run(self) -> None:
        self.listener.setblocking(False)
        self.returns.setblocking(False)
        watch = self.watch
        sel = selectors.DefaultSelector()
        if watch is None:
            sel.register(self.listener, selectors.EVENT_READ, "accept")
        else:
            sel.register(watch._poke_r, selectors.EVENT_READ, "poke")
        sel.register(self._wake_r, selectors.EVENT_READ, "stop")
        sel.register(self.returns, selectors.EVENT_READ, "returned")
        stopping = False
        while not stopping or self._refused:
            deadline = min((state[0] for state in self._refused.values()), default=None)
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            if watch is not None and not stopping:
                wait = POLL_S if watch.looking.value else RECHECK_S
                timeout = wait if timeout is None else min(timeout, wait)
            for key, _ in sel.select(timeout):
                if key.data == "accept":
                    self._accept_all(sel)
                elif key.data == "poke":
                    watch.poked()  # type: ignore[union-attr]
                elif key.data == "stop":
                    stopping = True
                    sel.unregister(self.listener if watch is None else watch._poke_r)
                    sel.unregister(self._wake_r)
                    if self._drain:
                        self._accept_all(sel)  # what waits in the accept queue is answered, not reset
                    self._end_listener()
                    self.sender.shutdown(socket.SHUT_WR)  # the workers read the end of the queue once it is empty
                    if not self._drain:
                        break
                elif key.data == "returned":
                    self._returned(sel)
                else:
                    self._refusing(sel, key.fileobj)
            if watch is not None and not stopping:
                self._look(sel, watch)
            now = time.monotonic()
            for conn in [c for c, state in self._refused.items() if state[0] <= now]:
                self._close(sel, conn)
        for conn in list(self._refused):
            self._close(sel, conn)
        sel.close()

    def _look(self, sel: selectors.BaseSelector, watch: Admission) -> None:
        """Units held plus connections queued over the limit: take the queue, in arrival order (each connection
        gets a unit while any is left, the rest a 429). Fewer units held than keep the workers busy for QUIET_LOOKS
        looks in a row: stop looking."""
        if not watch.looking.value:
            if self.limit - self.units.get_value() < watch.busy_at:
                return
            watch.looking.value = 1  # a wake-up missed (RECHECK_S)
        held = self.limit - self.units.get_value()
        if held + (queued(self.listener) or 0) > self.limit:
            self._accept_all(sel)
        self._quiet = self._quiet + 1 if held < watch.busy_at else 0
        if self._quiet >= QUIET_LOOKS and watch.may_stop_looking():
            self._quiet = 0

    def _end_listener(self) -> None:
        """No connection queues any more, in any process: the workers hold copies of the listener, so it is shut
        down (connecting is refused from here on), not only closed."""
        try:
            self.listener.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        self.listener.close()

    def _accept_all(self, sel: selectors.BaseSelector) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ECONNABORTED and the like: that client is gone
                continue
            if self.units.acquire(False):
                self._hand_over(conn, counted=True)
            else:
                self._refuse(sel, conn)

    def _refuse(self, sel: selectors.BaseSelector, conn: socket.socket) -> None:
        conn.setblocking(False)
        self._refused[conn] = [time.monotonic() + REFUSAL_DEADLINE_S, False, b""]
        sel.register(conn, selectors.EVENT_READ, "refused")

    def _returned(self, sel: selectors.BaseSelector) -> None:
        """Connections a worker accepted with no unit left: answered here, as if the dispatcher had accepted them."""
        while True:
            try:
                _, fds, _, _ = socket.recv_fds(self.returns, 1, 1, socket.MSG_CMSG_CLOEXEC)
            except (BlockingIOError, InterruptedError):
                return
            if not fds:
                return
            self._refuse(sel, socket.socket(self.listener.family, socket.SOCK_STREAM, 0, fileno=fds[0]))

    def _hand_over(self, conn: socket.socket, counted: bool) -> None:
        try:
            socket.send_fds(self.sender, [_TICKET.pack(counted, time.monotonic_ns())], [conn.fileno()])
        except OSError:
            if counted:
                self.units.release()
        finally:
            conn.close()

    def _refusing(self, sel: selectors.BaseSelector, conn: socket.socket) -> None:
        state = self._refused[conn]
        try:
            if state[1]:  # answered: read what the client still sends until it closes (no reset)
                if not conn.recv(65536):
                    self._close(sel, conn)
                return
            head = conn.recv(HEAD_LIMIT, socket.MSG_PEEK)
        except BlockingIOError:
            return
        except OSError:
            self._close(sel, conn)
            return
        if not head:
            self._close(sel, conn)
            return
        if head.startswith(_PROBES):  # a health probe is served, uncounted
            sel.unregister(conn)
            del self._refused[conn]
            conn.setblocking(True)
            self._hand_over(conn, counted=False)
            return
        if b"\r\n\r\n" not in head and b"\n\n" not in head and len(head) < HEAD_LIMIT:
            return  # the head is still arriving
        try:
            conn.send(self.refusal)  # a few hundred bytes: the empty send buffer takes them whole
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(sel, conn)
            return
        state[1] = True

    def _close(self, sel: selectors.BaseSelector, conn: socket.socket) -> None:
        self._refused.pop(conn, None)
        try:
            sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()


_admission: Admission | None = None
"""This process's Admission: created in the master, inherited by the workers it forks."""


def install(settings: AdmissionSettings, listener_fd: int) -> Admission:
    """In the gunicorn master, before it forks the workers: the shared count and the dispatcher, started."""
    global _admission
    _admission = Admission(settings, socket.socket(fileno=listener_fd))
    _admission.start()
    return _admission


def installed() -> Admission | None:
    return _admission


class Ticket:
    """The connection a worker is serving: whether it holds a unit of the count, and since when it waited."""

    __slots__ = ("admission", "slot", "counted", "accepted_ns")

    def __init__(self, admission: Admission, slot: int, payload: bytes):
        self.admission, self.slot = admission, slot
        counted, self.accepted_ns = _TICKET.unpack(payload)
        self.counted = bool(counted)
        if self.counted:
            admission.held[slot] = 1

    @classmethod
    def direct(cls, admission: Admission, slot: int) -> Ticket:
        """A connection the worker accepted itself, with the unit it took."""
        return cls(admission, slot, _TICKET.pack(True, time.monotonic_ns()))

    def release(self) -> None:
        """The response is computed: it no longer counts as in flight (called before it is sent; idempotent)."""
        if self.counted:
            self.counted = False
            self.admission.held[self.slot] = 0
            self.admission.units.release()

    def waited_ms(self) -> int:
        return (time.monotonic_ns() - self.accepted_ns) // 1_000_000


_current: Ticket | None = None


def begin(ticket: Ticket) -> None:
    """The worker took this connection (amlops.serving.worker.AdmittingWorker)."""
    global _current
    _current = ticket


def end() -> None:
    """The worker is done with its connection: its unit is back, whatever happened."""
    global _current
    if _current is not None:
        _current.release()
        _current = None


class Gate:
    """The front door's view of the admission in a worker: the queue wait, and the unit given back before sending."""

    def __init__(self, settings: AdmissionSettings):
        self.wait_limit = settings.max_queue_wait_ms

    def refusal(self) -> Refusal | None:
        """A Refusal when the request waited longer than max_queue_wait_ms (Kubernetes targets only)."""
        ticket = _current
        if self.wait_limit is None or ticket is None:
            return None
        waited = ticket.waited_ms()
        if waited > self.wait_limit:
            return Refusal(f"the request waited {waited} ms in the queue, longer than max_queue_wait_ms {self.wait_limit}; retry with backoff")
        return None

    def done(self) -> None:
        """The response is computed (and about to be sent)."""
        if _current is not None:
            _current.release()
