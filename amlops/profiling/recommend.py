"""Sizing from measurements (a pure function): instance type, instance count, concurrency and memory.

The model, stated in every recommendation's `assumptions`:
- capacity is the best step within the SLO (no errors, p99 ≤ SLO): its throughput on the
  cores it used — measured over the server's process tree for a local run (at least one
  core: a request is served by one core at a time), or the deployment's own cores for
  an endpoint given by URL;
- throughput scales linearly with cores, and an instance uses at most min(vCPUs,
  workerCount) cores (sync workers serve one request each);
- each instance runs at most (1 - headroom) of that capacity;
- the memory request is the peak RSS of the server's process tree plus the headroom.
Among the managed instance types that fit the memory, the choice is the fewest vCPUs in
total (a cost proxy), then the smallest type.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

from amlops.profiling.measurements import StepResult
from infra.skus import SKUS, Sku

MIB = 1024 * 1024
MAX_INSTANCES = 100  # infra/config/online.py's limit on instanceCount
DEFAULT_HEADROOM = 0.3


@dataclass(frozen=True)
class Option:
    """One instance type evaluated against the target."""

    instance_type: str
    vcpus: int
    memory_gib: float
    cores_used: int  # min(vCPUs, workerCount)
    rps_per_instance: float  # with headroom
    instance_count: int | None  # None: more than MAX_INSTANCES, or the memory does not fit
    fits_memory: bool


@dataclass(frozen=True)
class Recommendation:
    """A size for the profiled deployment, or (feasible=False) why there is none."""

    feasible: bool
    verdict: str
    slo_p99_ms: float
    headroom: float
    target_rps: float | None = None
    target_source: str = ""  # "--target-rps" or "measured"
    best_concurrency: int | None = None
    best_rps: float | None = None
    best_p99_ms: float | None = None
    basis_cores: float | None = None
    rps_per_core: float | None = None
    instance_type: str | None = None
    vcpus: int | None = None
    memory_gib: float | None = None
    instance_count: int | None = None
    capacity_rps: float | None = None  # instance_count × rps_per_instance (headroom included)
    max_concurrent_requests_per_instance: int | None = None
    memory_request_mib: int | None = None
    assumptions: list[str] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def deployed_cores(sku: Sku, instance_count: int, worker_count: int) -> float:
    """The cores an Azure deployment serves with: instances × min(vCPUs, workers)."""
    return float(instance_count * min(sku.vcpus, worker_count))


def best_step(steps: Sequence[StepResult], slo_p99_ms: float) -> StepResult | None:
    """The step with the highest throughput among those within the SLO (None if none is)."""
    within = [s for s in steps if s.within(slo_p99_ms)]
    return max(within, key=lambda s: s.throughput_rps) if within else None


def _no_step_verdict(first: StepResult, slo_p99_ms: float) -> str:
    if first.errors:
        return (
            f"errors already at concurrency 1 ({first.errors} of {first.requests} requests failed): "
            "no size can be recommended from failures"
        )
    return (
        f"SLO breached already at concurrency 1: p99 {first.p99_ms:.1f} ms > {slo_p99_ms:g} ms. "
        "More or bigger instances add throughput, not speed per request: make scoring faster "
        "or relax --slo-p99-ms"
    )


def recommend(
    steps: Sequence[StepResult],
    *,
    slo_p99_ms: float,
    worker_count: int,
    target_rps: float | None = None,
    headroom: float = DEFAULT_HEADROOM,
    serving_cores: float | None = None,
    notes: Sequence[str] = (),
    skus: Sequence[Sku] = SKUS,
    max_instances: int = MAX_INSTANCES,
) -> Recommendation:
    """Size the deployment from stepped measurements.

    `serving_cores` is the cores a remote endpoint served with (see `deployed_cores`);
    leave it None for a local run, whose steps carry the server's measured CPU. `notes`
    open the list of assumptions (e.g. what the remote endpoint is taken to be).
    """
    if not steps:
        raise ValueError("recommend() needs at least one step")
    if not 0 <= headroom < 1:
        raise ValueError(f"headroom must be in [0, 1), got {headroom}")
    if worker_count < 1:
        raise ValueError(f"worker_count must be ≥ 1, got {worker_count}")
    if target_rps is not None and target_rps <= 0:
        raise ValueError(f"target_rps must be > 0, got {target_rps}")
    base = {"slo_p99_ms": slo_p99_ms, "headroom": headroom}
    best = best_step(steps, slo_p99_ms)
    if best is None:
        return Recommendation(False, _no_step_verdict(steps[0], slo_p99_ms), target_rps=target_rps, **base)

    assumptions = list(notes)
    if serving_cores is None:
        if best.server_cpu_percent is None:
            raise ValueError("a step without server CPU needs serving_cores (the remote deployment's cores)")
        measured = best.server_cpu_percent / 100.0
        basis = max(1.0, measured)
        assumptions.append(
            f"the local server used {measured:.2f} cores at concurrency {best.concurrency} "
            f"(CPU summed over its process tree); capacity is scaled from {basis:.2f} cores"
            + (" (at least one core: one request runs on one core at a time)" if measured < 1.0 else "")
        )
    else:
        basis = serving_cores
        unit = "core" if basis == 1 else "cores"
        assumptions.append(f"the endpoint served with {basis:g} {unit} (its deployment's instances × min(vCPUs, workers))")
    rps_per_core = best.throughput_rps / basis
    assumptions.append(
        f"throughput scales linearly with cores ({rps_per_core:.1f} req/s per core), and an instance uses "
        f"at most min(vCPUs, workerCount={worker_count}) cores; raise workerCount to use bigger instances"
    )
    assumptions.append(f"each instance runs at most {100 * (1 - headroom):.0f}% of its capacity ({100 * headroom:.0f}% headroom)")

    peaks = [s.server_peak_rss_bytes for s in steps if s.server_peak_rss_bytes is not None]
    memory_request_mib = math.ceil(max(peaks) * (1 + headroom) / MIB) if peaks else None
    if memory_request_mib is not None:
        assumptions.append(
            f"memory request = peak RSS of the server's process tree ({max(peaks) / MIB:.0f} MiB) + {100 * headroom:.0f}%"
        )
    else:
        assumptions.append("memory was not measured (remote endpoint): instance types are not filtered by memory")

    target = target_rps if target_rps is not None else best.throughput_rps
    source = "--target-rps" if target_rps is not None else "measured"
    options = []
    for sku in (s for s in skus if s.online):
        cores = min(sku.vcpus, worker_count)
        per_instance = rps_per_core * cores * (1 - headroom)
        fits = memory_request_mib is None or memory_request_mib <= sku.memory_gib * 1024
        count = max(1, math.ceil(target / per_instance)) if per_instance > 0 else None
        if not fits or count is None or count > max_instances:
            count = None
        options.append(Option(sku.name, sku.vcpus, sku.memory_gib, cores, per_instance, count, fits))

    fitting = [o for o in options if o.instance_count is not None]
    common = dict(
        target_rps=target,
        target_source=source,
        best_concurrency=best.concurrency,
        best_rps=best.throughput_rps,
        best_p99_ms=best.p99_ms,
        basis_cores=basis,
        rps_per_core=rps_per_core,
        memory_request_mib=memory_request_mib,
        assumptions=assumptions,
        options=options,
        **base,
    )
    if not fitting:
        why = f"{target:.1f} req/s needs more than {max_instances} instances of every type"
        if memory_request_mib is not None and not any(o.fits_memory for o in options):
            why = f"no instance type has {memory_request_mib} MiB of memory"
        return Recommendation(False, f"no managed instance type holds the target: {why}", **common)

    choice = min(fitting, key=lambda o: (o.instance_count * o.vcpus, o.vcpus, o.memory_gib))
    assert choice.instance_count is not None
    concurrent = max(1, min(1000, math.floor(best.concurrency * choice.cores_used / basis)))
    capacity = choice.instance_count * choice.rps_per_instance
    verdict = (
        f"{choice.instance_count} × {choice.instance_type} ({choice.vcpus} vCPU, {choice.memory_gib:g} GiB) "
        f"hold {target:.1f} req/s ({source}) within p99 ≤ {slo_p99_ms:g} ms: "
        f"capacity {capacity:.1f} req/s with {100 * headroom:.0f}% headroom"
    )
    return Recommendation(
        True,
        verdict,
        instance_type=choice.instance_type,
        vcpus=choice.vcpus,
        memory_gib=choice.memory_gib,
        instance_count=choice.instance_count,
        capacity_rps=capacity,
        max_concurrent_requests_per_instance=concurrent,
        **common,
    )
