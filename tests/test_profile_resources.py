"""CPU and memory of a process tree: a parent whose child burns CPU and holds memory."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from amlops.errors import UsageError
from amlops.profiling.resources import TreeSampler

# The child allocates 64 MiB, spins for 0.6 s of CPU, then idles; the parent only waits.
CHILD = "import time\nb = bytearray(64 * 1024 * 1024)\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\ntime.sleep(30)\n"
PARENT = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {CHILD!r}])\n"


def _child_cpu_done(pid: int) -> bool:
    kids = psutil.Process(pid).children()
    return bool(kids) and sum(kids[0].cpu_times()[:2]) >= 0.6


def test_profile_sampler_sums_cpu_and_rss_over_the_process_tree():
    proc = subprocess.Popen([sys.executable, "-c", PARENT])
    try:
        with TreeSampler(proc.pid, interval_s=0.05) as sampler:
            for _ in range(300):  # bounded wait for the child's CPU work (≤ 30 s)
                if _child_cpu_done(proc.pid):
                    break
                time.sleep(0.1)
    finally:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        proc.wait()
    usage = sampler.usage
    assert usage.cpu_percent / 100 * usage.seconds >= 0.6
    assert usage.peak_rss_bytes >= 64 * 1024 * 1024
    assert usage.processes == 2


def test_profile_sampler_unknown_pid_raises():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    with pytest.raises(UsageError, match=f"no process with pid {proc.pid} to measure"):
        TreeSampler(proc.pid)
