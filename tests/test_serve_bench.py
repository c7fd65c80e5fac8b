"""The serving benchmark runs: a tiny smoke of all four servers (the real run is `python -m benchmarks.serving`)."""

from __future__ import annotations

import os

import pytest

from amlops.paths import STATE_ENV
from benchmarks.serving import bench

pytestmark = pytest.mark.slow


def test_serve_benchmark_smoke_runs_all_four_servers_without_errors(state):
    results = bench.run(seconds=0.3, clients=2, workers=1, rounds=1)
    assert [r.name[:3] for r in results] == ["(1)", "(2)", "(3)", "(4)"]
    assert [r.errors for r in results] == [0, 0, 0, 0]
    assert all(r.rps > 0 and 0 < r.p50_ms <= r.p99_ms and r.cpu_us > 0 and r.client_cpu_percent > 0 for r in results)
    assert os.environ[STATE_ENV] == str(state)  # restored after the run
    lines = bench.report(results, clients=2).splitlines()
    assert lines[0].split()[:4] == ["server", "p50", "ms", "p99"]
    assert [line.split(" (pairs")[0].rsplit(" ", 1)[0] for line in lines[-3:-1]] == [
        "target: (3)/(2) req/s at 1 client", "target: (3)/(2) req/s at 2 clients",
    ]
    assert lines[-1].startswith("(3) admission on (429 above 4 in flight, never reached here)")


def result(client_cpu: float, busiest: float) -> bench.Result:
    return bench.Result("(3) x", 1.0, 2.0, 100.0, 0, 400.0, client_cpu, busiest)


@pytest.mark.parametrize("client_cpu,busiest,bound", [(50, 10, False), (40, 95, True), (100 * (os.cpu_count() or 1), 30, True)])
def test_serve_benchmark_warns_when_the_clients_may_be_the_limit(client_cpu, busiest, bound):
    r = result(client_cpu, busiest)
    assert r.client_bound is bound
    text = bench.report([result(10, 5), r], clients=8)
    assert ("warning: (3) x: the 8 clients used" in text) is bound
