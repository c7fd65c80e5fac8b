"""The managed online endpoint's per-instance admission, imitated in front of gunicorn's sync workers,
so that clients can test their retries locally.

Azure allows at most 2 × max_concurrent_requests_per_instance × instance_count requests in
flight and rejects the rest with 429 "Too many pending requests"
(https://learn.microsoft.com/en-us/azure/machine-learning/how-to-troubleshoot-online-endpoints#http-status-codes;
the setting: https://learn.microsoft.com/en-us/azure/machine-learning/reference-yaml-deployment-managed-online#requestsettings).
A local server is one instance. max_queue_wait is "deprecated for managed online endpoints"
(https://learn.microsoft.com/en-us/javascript/api/@azure/arm-machinelearning/onlinerequestsettings):
it is honoured only for Kubernetes targets, where a request that waited longer is a 429.

Locally, requests beyond the busy workers wait in the kernel's accept queue, in arrival order,
and sync workers take them in that order. When a worker takes a request, and again when it
has computed one, it reads how many wait (TCP_INFO's accept-queue length of the listening
socket). Each of those arrived with at least these in flight ahead of it: the requests the
workers are computing (each worker flags its own, from admission until its response is
computed), the one just taken (unless refused) and the admitted ones waiting between. Those
that arrived with the limit already in flight are marked by their turn in the workers'
shared count of requests taken (a small file, under a lock), and the worker that takes one
answers 429; a marked request does not count as in flight for those behind it (in Azure it
never enters). The count is a lower bound, so the imitation refuses no request Azure would
admit. The queue wait of a request is the time since its data arrived (TCP_INFO's
last_data_recv of its connection) when a worker takes it.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import socket
import struct
from dataclasses import dataclass

from amlops.serving.running import alive
from amlops.serving.settings import Admission

_TCP_INFO_LEN = 104
_UNACKED = 24
"""struct tcp_info.tcpi_unacked: for a listening socket, the connections waiting to be accepted."""
_LAST_DATA_RECV = 52
"""struct tcp_info.tcpi_last_data_recv: milliseconds since the connection last received data."""
_TAKEN = struct.Struct("=q")
RING = 4096
"""Turns ahead that can be marked: more than the listen backlog (amlops.serving.server.bind's 2048)."""
SLOTS = 64
"""Workers one server can have (infra.config allows 32 per instance)."""
_PID = struct.Struct("=i")
_RING_AT = _TAKEN.size
_FLAGS_AT = _RING_AT + RING
_PIDS_AT = _FLAGS_AT + SLOTS
_SIZE = _PIDS_AT + SLOTS * _PID.size
"""The file shared by the workers: requests taken so far; one byte per turn (a ring: 1 = answer
429); one byte per worker slot (1 = computing an admitted request); the pid holding each slot."""


def accept_queue_length(listener: socket.socket) -> int:
    """Connections waiting in the listening socket's accept queue (Linux)."""
    return struct.unpack_from("I", listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN), _UNACKED)[0]


def waited_ms(connection: socket.socket) -> int:
    """Milliseconds since the connection's request arrived (Linux; the queue wait when a worker has just taken it)."""
    return struct.unpack_from("I", connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN), _LAST_DATA_RECV)[0]


@dataclass(frozen=True)
class Refusal:
    """Why a request is answered 429."""

    message: str


class Gate:
    """One worker's view of the admission: `admit()` for every request a worker takes, in order."""

    def __init__(self, settings: Admission, listener_fd: int):
        self.settings = settings
        self.limit = settings.in_flight_limit
        self._listener = socket.socket(fileno=os.dup(listener_fd))
        fd = os.open(settings.state_file, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(fd).st_size < _SIZE:
            os.ftruncate(fd, _SIZE)
        self._fd = fd
        self._state = mmap.mmap(fd, _SIZE)
        self._flag = self._claim_slot()
        self._over = Refusal(
            f"too many pending requests: this instance takes at most {self.limit} at once "
            f"(2 x max_concurrent_requests_per_instance {settings.max_concurrent_requests_per_instance}); retry with backoff"
        )

    def _claim_slot(self) -> int:
        """This worker's flag: a free slot, or one a dead worker held (gunicorn replaces dead workers)."""
        state = self._state
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            for slot in range(SLOTS):
                at = _PIDS_AT + slot * _PID.size
                pid = _PID.unpack_from(state, at)[0]
                if pid == 0 or not alive(pid):
                    _PID.pack_into(state, at, os.getpid())
                    state[_FLAGS_AT + slot] = 0
                    return _FLAGS_AT + slot
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        raise RuntimeError(f"{self.settings.state_file}: more than {SLOTS} workers share it")

    def admit(self, connection: socket.socket | None) -> Refusal | None:
        """None to serve the request just taken; a Refusal to answer it 429. Call `done()` once its response is computed."""
        waiting = accept_queue_length(self._listener)
        fd, state = self._fd, self._state
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            taken = _TAKEN.unpack_from(state)[0] + 1
            _TAKEN.pack_into(state, 0, taken)
            turn = _RING_AT + taken % RING
            computing = sum(state[_FLAGS_AT:_PIDS_AT])
            over = state[turn] == 1 or computing >= self.limit
            state[turn] = 0
            self._mark(taken, waiting, computing + (not over))
            if not over:
                state[self._flag] = 1
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        if over:
            return self._over
        wait_limit = self.settings.max_queue_wait_ms
        if wait_limit is not None and connection is not None:
            waited = waited_ms(connection)
            if waited > wait_limit:
                return Refusal(f"the request waited {waited} ms in the queue, longer than max_queue_wait_ms {wait_limit}; retry with backoff")
        return None

    def done(self) -> None:
        """This worker's request is computed (its response about to be sent): it no longer counts
        as in flight. The requests waiting now arrived while it still did: they are marked first."""
        waiting = accept_queue_length(self._listener)
        if not waiting:
            self._state[self._flag] = 0
            return
        fd, state = self._fd, self._state
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            self._mark(_TAKEN.unpack_from(state)[0], waiting, sum(state[_FLAGS_AT:_PIDS_AT]))
            state[self._flag] = 0
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _mark(self, taken: int, waiting: int, ahead: int) -> None:
        """Mark for a 429 the waiting turns after `taken` that arrived with the limit in flight
        (`ahead` = in flight before the first of them); marked turns do not count as in flight."""
        state, limit = self._state, self.limit
        for j in range(1, min(waiting, RING - 1) + 1):
            behind = _RING_AT + (taken + j) % RING
            if state[behind] == 1:
                continue
            if ahead >= limit:
                state[behind] = 1
            else:
                ahead += 1
