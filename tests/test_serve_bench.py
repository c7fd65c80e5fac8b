"""The serving benchmark runs: a tiny smoke of all four servers (the real run is `python -m benchmarks.serving`)."""

from __future__ import annotations

import os

import pytest

from amlops.paths import STATE_ENV
from benchmarks.serving import bench

pytestmark = pytest.mark.slow


def test_serve_benchmark_smoke_runs_all_four_servers_without_errors(state):
    results = bench.run(requests=50, seconds=30, clients=2, workers=1, rounds=1)
    assert [r.name[:3] for r in results] == ["(1)", "(2)", "(3)", "(4)"]
    assert [r.errors for r in results] == [0, 0, 0, 0]
    assert all(r.rps > 0 and 0 < r.p50_ms <= r.p99_ms and r.cpu_us > 0 for r in results)
    assert os.environ[STATE_ENV] == str(state)  # restored after the run
    text = bench.report(results, clients=2)
    assert text.splitlines()[0].startswith("server") and text.splitlines()[-1].startswith("targets: (3)/(2) throughput")
