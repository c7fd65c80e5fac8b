"""The sizing logic on fixed measurements: type, count, concurrency and memory, or why there is none."""

from __future__ import annotations

import pytest

from amlops.profiling.measurements import StepResult
from amlops.profiling.recommend import best_step, deployed_cores, recommend
from infra.skus import BY_NAME

MIB = 1024 * 1024


def step(c: int, rps: float, p99: float, cpu: float | None = None, rss_mib: int | None = None, errors: int = 0) -> StepResult:
    requests = 1000
    return StepResult(
        concurrency=c, requests=requests, ok=requests - errors, errors=errors, error_rate=errors / requests,
        duration_s=requests / rps, throughput_rps=rps, p50_ms=p99 / 3, p90_ms=p99 / 2, p99_ms=p99, max_ms=p99 * 1.1,
        server_cpu_percent=cpu, server_peak_rss_bytes=None if rss_mib is None else rss_mib * MIB,
    )


LOCAL = [step(1, 100, 10, cpu=50, rss_mib=280), step(2, 180, 15, cpu=95, rss_mib=300), step(4, 200, 250, cpu=100, rss_mib=300)]
REMOTE = [step(2, 250, 40), step(8, 400, 150), step(16, 420, 260)]

# (case, steps, kwargs, expected (type, count, maxConcurrent, memory MiB, capacity req/s))
CASES = [
    ("best step c2 on 0.95 cores scales from one core; 1-vCPU ties 2-vCPU on total vCPUs, smaller wins",
     LOCAL, dict(target_rps=500, worker_count=2), ("Standard_DS1_v2", 4, 2, 390, 504.0)),
    ("one worker: bigger instances add nothing, smallest type",
     LOCAL, dict(target_rps=500, worker_count=1), ("Standard_DS1_v2", 4, 2, 390, 504.0)),
    ("no target: sized for the measured 180 req/s",
     LOCAL, dict(worker_count=2), ("Standard_DS1_v2", 2, 2, 390, 252.0)),
    ("no headroom: measured capacity as is",
     LOCAL, dict(target_rps=360, worker_count=2, headroom=0.0), ("Standard_DS1_v2", 2, 2, 300, 360.0)),
    ("3 GiB peak RSS + 30% does not fit DS1_v2's 3.5 GiB: F2s_v2 (4 GiB)",
     [step(1, 100, 10, cpu=160, rss_mib=3072)], dict(target_rps=130, worker_count=2), ("Standard_F2s_v2", 2, 1, 3994, 175.0)),
    ("1.6 cores measured: per-core rate is rps / 1.6",
     [step(4, 320, 30, cpu=160, rss_mib=500)], dict(target_rps=250, worker_count=2), ("Standard_DS1_v2", 2, 2, 650, 280.0)),
    ("remote: 2 × DS2_v2 with 2 workers = 4 cores; best within SLO is c8",
     REMOTE, dict(worker_count=2, serving_cores=deployed_cores(BY_NAME["Standard_DS2_v2"], 2, 2)), ("Standard_DS1_v2", 6, 2, None, 420.0)),
]


@pytest.mark.parametrize(("case", "steps", "kwargs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_recommend_fixed_measurements_give_size(case, steps, kwargs, expected):
    rec = recommend(steps, slo_p99_ms=200, **kwargs)
    assert rec.feasible, rec.verdict
    got = (rec.instance_type, rec.instance_count, rec.max_concurrent_requests_per_instance, rec.memory_request_mib, rec.capacity_rps)
    assert got == pytest.approx(expected)
    assert rec.capacity_rps >= rec.target_rps


def test_recommend_verdict_and_assumptions_state_the_basis():
    rec = recommend(LOCAL, slo_p99_ms=200, target_rps=500, worker_count=2)
    assert rec.verdict == (
        "4 × Standard_DS1_v2 (1 vCPU, 3.5 GiB) hold 500.0 req/s (--target-rps) within p99 ≤ 200 ms: "
        "capacity 504.0 req/s with 30% headroom"
    )
    assert rec.assumptions == [
        "the local server used 0.95 cores at concurrency 2 (CPU summed over its process tree); capacity is scaled "
        "from 1.00 cores (at least one core: one request runs on one core at a time)",
        "throughput scales linearly with cores (180.0 req/s per core), and an instance uses at most "
        "min(vCPUs, workerCount=2) cores; raise workerCount to use bigger instances",
        "each instance runs at most 70% of its capacity (30% headroom)",
        "memory request = peak RSS of the server's process tree (300 MiB) + 30%",
    ]
    assert (rec.best_concurrency, rec.best_rps, rec.best_p99_ms) == (2, 180, 15)
    ds1 = next(o for o in rec.options if o.instance_type == "Standard_DS1_v2")
    assert (ds1.cores_used, ds1.rps_per_instance, ds1.instance_count, ds1.fits_memory) == (1, pytest.approx(126.0), 4, True)


def test_recommend_best_step_is_highest_throughput_within_slo_not_the_last():
    steps = [step(1, 100, 10, cpu=50), step(2, 190, 20, cpu=90), step(4, 170, 60, cpu=95), step(8, 300, 500, cpu=100)]
    assert best_step(steps, 200).concurrency == 2


def test_recommend_slo_breach_at_concurrency_1_gives_no_size():
    rec = recommend([step(1, 5, 300.0, cpu=100, rss_mib=200)], slo_p99_ms=200, target_rps=10, worker_count=2)
    assert not rec.feasible
    assert rec.verdict == (
        "SLO breached already at concurrency 1: p99 300.0 ms > 200 ms. More or bigger instances add throughput, "
        "not speed per request: make scoring faster or relax --slo-p99-ms"
    )
    assert (rec.instance_type, rec.instance_count, rec.max_concurrent_requests_per_instance) == (None, None, None)


def test_recommend_errors_at_concurrency_1_give_no_size():
    rec = recommend([step(1, 100, 10, cpu=50, errors=3)], slo_p99_ms=200, worker_count=2)
    assert not rec.feasible
    assert rec.verdict == "errors already at concurrency 1 (3 of 1000 requests failed): no size can be recommended from failures"


def test_recommend_target_beyond_100_instances_gives_no_size():
    rec = recommend(LOCAL, slo_p99_ms=200, target_rps=1_000_000, worker_count=16)
    assert not rec.feasible
    assert rec.verdict == "no managed instance type holds the target: 1000000.0 req/s needs more than 100 instances of every type"
    assert all(o.instance_count is None for o in rec.options)


def test_recommend_memory_beyond_every_type_gives_no_size():
    rec = recommend([step(1, 100, 10, cpu=100, rss_mib=60 * 1024)], slo_p99_ms=200, worker_count=2)
    assert not rec.feasible
    assert rec.verdict == "no managed instance type holds the target: no instance type has 79872 MiB of memory"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(headroom=1.0), r"headroom must be in \[0, 1\), got 1.0"),
        (dict(worker_count=0), "worker_count must be ≥ 1, got 0"),
        (dict(target_rps=0), "target_rps must be > 0, got 0"),
    ],
)
def test_recommend_bad_arguments_raise(kwargs, message):
    args = dict(slo_p99_ms=200, worker_count=2) | kwargs
    with pytest.raises(ValueError, match=message):
        recommend(LOCAL, **args)


def test_recommend_remote_step_without_serving_cores_raises():
    with pytest.raises(ValueError, match="a step without server CPU needs serving_cores"):
        recommend(REMOTE, slo_p99_ms=200, worker_count=2)
