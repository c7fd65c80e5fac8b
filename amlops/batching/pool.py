"""A pool of forked worker processes that can stop one hung task by killing its worker and starting another.

Hand-written because multiprocessing.Pool cannot kill a task that hangs (it would wait
forever or let the whole pool time out) and concurrent.futures.ProcessPoolExecutor marks
the whole pool broken when one worker dies. Here each worker has its own pipe and
deadline: a hung worker is killed and replaced, and its task is reported back for retry.
Workers are forked (the parent has already imported pandas/scikit-learn, so a fork
starts in milliseconds where spawn re-imports for ≈ 0.5 s).
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Callable

from amlops.batching.worker import InitFailed, Ready

_CTX = mp.get_context("fork")
STOP_GRACE_SECONDS = 5.0


@dataclass(eq=False)
class Worker:
    """One worker process, its pipe, and what it is doing."""

    slot: int
    process: Any
    conn: Connection
    pid: int
    ready: bool = False
    task: Any = None
    deadline: float = float("inf")
    started: float = 0.0


@dataclass(frozen=True)
class Message:
    """Something a worker sent; `task` is the task a result message finished (None for ready/init_failed)."""

    worker: Worker
    body: Any
    task: Any = None


@dataclass(frozen=True)
class Lost:
    """A worker is gone with its task: it died (`exitcode`) or was killed on timeout."""

    worker: Worker
    task: Any
    reason: str
    """PROCESS_DIED or RUN_TIMEOUT."""
    exitcode: int | None
    seconds: float


@dataclass
class WorkerPool:
    """`size` workers running `target(conn, slot, *args)`; lost workers are replaced."""

    size: int
    target: Callable[..., None]
    args: tuple
    workers: list[Worker] = field(default_factory=list)

    def start(self) -> None:
        # Everything alive now (mostly imported modules) moves to the permanent generation: neither the
        # workers' collections nor the parent's touch those pages again, so forked workers share them
        # instead of copying them, and the parent's interpreter exits ≈ 0.2 s sooner.
        gc.freeze()
        self.workers = [self._spawn(slot) for slot in range(self.size)]

    def _spawn(self, slot: int) -> Worker:
        parent, child = _CTX.Pipe(duplex=True)
        process = _CTX.Process(target=self.target, args=(child, slot, *self.args), daemon=True, name=f"batch-worker-{slot}")
        process.start()
        child.close()
        return Worker(slot, process, parent, process.pid)

    def idle(self) -> list[Worker]:
        return [w for w in self.workers if w.ready and w.task is None]

    def submit(self, worker: Worker, task: Any, timeout: float) -> None:
        worker.task = task
        worker.started = time.perf_counter()
        worker.deadline = worker.started + timeout
        worker.conn.send(task)

    def poll(self, timeout: float) -> list[Message | Lost]:
        """Wait up to `timeout` (or the nearest deadline) for messages, deaths and timeouts."""
        nearest = min((w.deadline for w in self.workers), default=float("inf"))
        wait_for = max(0.0, min(timeout, nearest - time.perf_counter()))
        handles: dict[Any, Worker] = {}
        for w in self.workers:
            handles[w.conn] = w
            handles[w.process.sentinel] = w
        events: list[Message | Lost] = []
        for handle in wait(list(handles), wait_for):
            w = handles[handle]
            if handle is w.conn:
                self._receive(w, events)
        now = time.perf_counter()
        for w in list(self.workers):
            if not w.process.is_alive():
                self._receive(w, events)  # whatever it sent before it died counts
                events.append(self._replace(w, "PROCESS_DIED"))
            elif w.deadline <= now:
                self._receive(w, events)
                if w.task is not None:
                    w.process.kill()
                    events.append(self._replace(w, "RUN_TIMEOUT"))
        return events

    def _receive(self, w: Worker, events: list[Message | Lost]) -> None:
        while True:
            try:
                if not w.conn.poll():
                    return
                body = w.conn.recv()
            except (EOFError, OSError):
                return  # the pipe closed: the process is gone, and poll() reports it
            if isinstance(body, Ready):
                w.ready = True
                events.append(Message(w, body))
            elif isinstance(body, InitFailed):
                events.append(Message(w, body))
            else:
                events.append(Message(w, body, w.task))
                w.task = None
                w.deadline = float("inf")

    def _replace(self, w: Worker, reason: str) -> Lost:
        w.process.join(STOP_GRACE_SECONDS)
        w.conn.close()
        lost = Lost(w, w.task, reason, w.process.exitcode, time.perf_counter() - w.started if w.task is not None else 0.0)
        self.workers[self.workers.index(w)] = self._spawn(w.slot)
        return lost

    def stop(self) -> None:
        """Ask every worker to finish (it calls shutdown() if the script has one); kill those that do not."""
        for w in self.workers:
            try:
                w.conn.send(None)
            except OSError:
                pass
        deadline = time.perf_counter() + STOP_GRACE_SECONDS
        for w in self.workers:
            w.process.join(max(0.0, deadline - time.perf_counter()))
        self.kill()

    def kill(self) -> None:
        """Stop every worker now (Ctrl-C, a fatal error, a threshold exceeded)."""
        for w in self.workers:
            if w.process.is_alive():
                w.process.kill()
        for w in self.workers:
            w.process.join(STOP_GRACE_SECONDS)
            w.conn.close()
        self.workers = []
