"""The figures of a profile: one StepResult per concurrency step, computed from the raw samples."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from amlops.profiling.loadgen import StepSample
from amlops.profiling.resources import TreeUsage


@dataclass(frozen=True)
class StepResult:
    """One step: load, throughput, latency percentiles (2xx only), errors, server and client CPU."""

    concurrency: int
    requests: int
    ok: int
    errors: int
    error_rate: float
    duration_s: float
    throughput_rps: float  # 2xx replies per second
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    statuses: dict[str, int] = field(default_factory=dict)  # "200": 1000, "connection refused": 3
    connects: int = 0
    first_failure: str | None = None
    server_cpu_percent: float | None = None  # % of one core, summed over the process tree
    server_peak_rss_bytes: int | None = None
    server_processes: int | None = None
    client_cpu_percent: float | None = None

    def within(self, slo_p99_ms: float) -> bool:
        """No errors, and p99 at or under the SLO."""
        return self.errors == 0 and self.p99_ms is not None and self.p99_ms <= slo_p99_ms

    def to_json(self) -> dict:
        return asdict(self)


def summarize(sample: StepSample, server: TreeUsage | None = None, client_cpu_percent: float | None = None) -> StepResult:
    """Percentiles (linear interpolation), throughput and error rate of a step's raw sample."""
    ok = len(sample.latencies_s)
    requests = sample.requests
    if ok:
        p50, p90, p99, top = (float(v) * 1000.0 for v in np.percentile(sample.latencies_s, [50, 90, 99, 100]))
    else:
        p50 = p90 = p99 = top = None
    statuses = {str(k): v for k, v in sorted(sample.statuses.items())}
    statuses.update(sorted(sample.errors.items()))
    return StepResult(
        concurrency=sample.concurrency,
        requests=requests,
        ok=ok,
        errors=requests - ok,
        error_rate=(requests - ok) / requests if requests else 0.0,
        duration_s=sample.duration_s,
        throughput_rps=ok / sample.duration_s if sample.duration_s > 0 else 0.0,
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        max_ms=top,
        statuses=statuses,
        connects=sample.connects,
        first_failure=sample.first_failure,
        server_cpu_percent=server.cpu_percent if server else None,
        server_peak_rss_bytes=server.peak_rss_bytes if server else None,
        server_processes=server.processes if server else None,
        client_cpu_percent=client_cpu_percent,
    )
