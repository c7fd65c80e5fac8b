"""CPU and memory of a server's process tree (gunicorn master + workers) while a step runs, via psutil."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psutil

from amlops.errors import UsageError

DEFAULT_INTERVAL_S = 0.1


@dataclass(frozen=True)
class TreeUsage:
    """What a process tree used over a window: CPU as % of one core (summed), peak RSS (summed)."""

    cpu_percent: float
    peak_rss_bytes: int
    processes: int  # most processes seen at once in the tree
    seconds: float

    @property
    def cpu_seconds(self) -> float:
        """CPU time the tree used over the window, summed over its processes."""
        return self.cpu_percent * self.seconds / 100.0


def _cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


class TreeSampler:
    """Sample a process and its descendants in a background thread while the `with` block runs.

    CPU is exact rather than sampled: the sum over the tree of each process's CPU time
    at the end minus at the start (a process born meanwhile counts from zero; one that
    exits counts up to its last sample). RSS is summed over the tree at every sample and
    the peak kept, since workers allocate at different moments.
    """

    def __init__(self, pid: int, interval_s: float = DEFAULT_INTERVAL_S):
        try:
            self._root = psutil.Process(pid)
        except psutil.NoSuchProcess:
            raise UsageError(f"no process with pid {pid} to measure") from None
        self.interval_s = interval_s
        self._baseline: dict[tuple[int, float], float] = {}
        self._last: dict[tuple[int, float], float] = {}
        self._peak_rss = 0
        self._most = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self.usage: TreeUsage | None = None

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def sample(self) -> None:
        """Record CPU time and RSS of every live process in the tree now."""
        rss = 0
        seen = 0
        for proc in self._tree():
            try:
                with proc.oneshot():
                    key = (proc.pid, proc.create_time())  # a reused pid is a new process
                    self._last[key] = _cpu_seconds(proc)
                    rss += proc.memory_info().rss
                seen += 1
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        self._peak_rss = max(self._peak_rss, rss)
        self._most = max(self._most, seen)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> "TreeSampler":
        self.sample()
        self._baseline = dict(self._last)
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, name="amlops-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.sample()
        seconds = time.perf_counter() - self._started
        used = sum(cpu - self._baseline.get(key, 0.0) for key, cpu in self._last.items())
        self.usage = TreeUsage(
            cpu_percent=100.0 * used / seconds if seconds > 0 else 0.0,
            peak_rss_bytes=self._peak_rss,
            processes=self._most,
            seconds=seconds,
        )


class SelfCpu:
    """CPU this process (the load generator) used over a `with` block, as % of one core."""

    def __enter__(self) -> "SelfCpu":
        self._proc = psutil.Process()
        self._cpu = _cpu_seconds(self._proc)
        self._t = time.perf_counter()
        self.cpu_percent = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self._t
        self.cpu_percent = 100.0 * (_cpu_seconds(self._proc) - self._cpu) / seconds if seconds > 0 else 0.0
