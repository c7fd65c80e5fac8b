"""Run one command and measure it: wall time from process start to exit, or peak memory of its process tree.

Time and memory are measured in separate runs: the sampler takes CPU, and on a 2-core
machine it would slow a runner that uses both cores more than a baseline that uses one.

Memory is sampled every 50 ms over the process and all its descendants, both as summed
RSS (counts pages shared by forked workers once per process) and summed PSS (each
shared page split between the processes that share it: the memory the tree really uses).
PSS comes from /proc/PID/smaps_rollup, which is cheap to read (psutil's
memory_full_info parses the whole smaps file and would slow the measured processes).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

import psutil

SAMPLE_SECONDS = 0.05


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    cpu_seconds: float = 0.0
    """User + system CPU of the process and every descendant it waited for (the runner joins its workers)."""


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _rollup(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB from smaps_rollup; (0, 0) once the process is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _sample(procs: list[psutil.Process]) -> tuple[float, float]:
    rss = pss = 0
    for p in procs:
        r, s = _rollup(p.pid)
        rss += r
        pss += s
    return rss / 1024, pss / 1024


def measure(cmd: list[str], memory: bool = False) -> Measurement:
    """Run `cmd` to completion: its wall time, and with `memory` its tree's peak memory (sampled).

    Raises CalledProcessError (with its stderr) if it fails."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not memory:
        err_bytes = proc.stderr.read() if proc.stderr else b""
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, cmd, stderr=err_bytes.decode())
        return Measurement(seconds, cpu_seconds=usage.ru_utime + usage.ru_stime)
    root = psutil.Process(proc.pid)
    peak_rss = peak_pss = 0.0
    while proc.poll() is None:
        rss, pss = _sample(_tree(root))
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd, stderr=err)
    return Measurement(seconds, peak_rss, peak_pss)
