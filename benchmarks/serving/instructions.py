"""Instructions per request, counted by callgrind: the plain script's app and `amlops serve`'s (telemetry
off, then on) called in process (benchmarks/serving/inproc.py: no sockets, no gunicorn), with a
worker's environment. Two runs of one build agree to about 0.5%, where the timed runs' pairs spread
by ±15% on a shared machine: a change of 1–3% per request shows here and not there. What it leaves
out (the sockets, gunicorn's loop, the master, cache misses) the timed run, `python -m
benchmarks.serving`, measures.

    python -m benchmarks.serving.instructions [--requests 256]   (needs valgrind)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from unittest import mock

from benchmarks import callgrind
from benchmarks.serving.bench import HERE, _model_dir
from benchmarks.serving.inproc import KEY_ENV

REPO = HERE.parent.parent
WRITER_DELAY_MS = 600_000
"""The telemetry writer's delay under valgrind (localfile.write_delay_ms reads OTEL_BSP_SCHEDULE_DELAY)."""
APPS = {"(2) plain script": ("plain", False), "(3') amlops serve, telemetry off": ("amlops", False), "(3) amlops serve (score.py)": ("amlops", True)}
"""Each app's name: the harness's mode (benchmarks.serving.inproc) and whether telemetry is on."""


def worker_env(work: Path) -> tuple[dict[str, str], str]:
    """The environment of a running `amlops serve` worker (dev stack, one worker) and its key."""
    from amlops.paths import STATE_ENV
    from amlops.serving.endpoint import LocalEndpoint
    from amlops.stackfile import load_stack

    with mock.patch.dict(os.environ, {STATE_ENV: str(work / "state")}):  # the endpoint's keys and package stay in `work`
        endpoint = LocalEndpoint(load_stack("dev"), _model_dir(work), workers=1, max_concurrent_requests_per_instance=8)
        endpoint.start()
        try:
            children = Path(f"/proc/{endpoint.pid}/task/{endpoint.pid}/children").read_text().split()
            raw = Path(f"/proc/{children[0]}/environ").read_bytes().decode()
        finally:
            endpoint.stop()
    env = dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)
    return env, endpoint.key or ""


def app_env(name: str, worker: dict[str, str], key: str) -> dict[str, str]:
    """The environment each app is called with: the worker's, less what the plain server or telemetry off does not read."""
    mode, telemetry = APPS[name]
    if mode == "plain":
        env = {k: v for k, v in worker.items() if not k.startswith("AMLOPS_")}
        return {**env, "AML_APP_ROOT": str(HERE / "plain"), "PYTHONHASHSEED": "0"}
    # The telemetry file's writer also flushes what has waited its delay (1 s): under valgrind, some 50 times
    # slower, that would be every few dozen requests, where under load in real time it is every MAX_BATCH
    # span lines. With the delay out of the way, a window of MAX_BATCH requests formats one batch.
    env = {**worker, KEY_ENV: key, "PYTHONHASHSEED": "0", "OTEL_BSP_SCHEDULE_DELAY": str(WRITER_DELAY_MS)}
    if not telemetry:
        env = {k: v for k, v in env.items() if "TELEMETRY" not in k}
    return env


def instructions(stderr: str, requests: int) -> int:
    """Instructions per request from callgrind's stderr."""
    return callgrind.collected(stderr) // requests


def run(requests: int) -> dict[str, int]:
    """Each app's instructions per request (the three runs at once)."""
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        worker, key = worker_env(Path(tmp))
        commands = {
            name: ([sys.executable, "-m", "benchmarks.serving.inproc", mode, str(requests)], app_env(name, worker, key))
            for name, (mode, _) in APPS.items()
        }
        counts = callgrind.count(commands, REPO)
    return {name: n // requests for name, n in counts.items()}


def report(counts: dict[str, int]) -> str:
    base = counts["(2) plain script"]
    lines = [f"{'app, called in process':<38} {'instructions/request':>20} {'x (2)':>6}"]
    lines += [f"{name:<38} {n:>20,} {n / base:6.3f}" for name, n in counts.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving.instructions", description=__doc__)
    parser.add_argument("--requests", type=int, default=256, help="requests counted, after as many of warm-up (256: one batch of span lines)")
    args = parser.parse_args()
    counts = run(args.requests)
    print(report(counts))
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
