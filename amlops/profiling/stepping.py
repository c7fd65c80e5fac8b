"""The stepped profile: check the endpoint answers, then concurrency 1, 2, 4, … until the SLO breaks,
errors appear or the maximum concurrency is reached."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

from amlops.errors import UsageError
from amlops.profiling.errors import EndpointAuthError, EndpointFailing, EndpointUnreachable
from amlops.profiling.loadgen import Client, Reply, Target, describe_failure, run_step
from amlops.profiling.measurements import StepResult, summarize
from amlops.profiling.resources import SelfCpu, TreeSampler

STOP_SLO = "slo"
STOP_ERRORS = "errors"
STOP_MAX = "max-concurrency"


@dataclass(frozen=True)
class LoadPlan:
    """How hard and how long to push: the SLO, the concurrency ceiling and each step's bounds."""

    slo_p99_ms: float = 200.0
    max_concurrency: int = 16
    step_seconds: float = 10.0
    step_requests: int = 1000
    warmup_requests: int = 10

    def __post_init__(self) -> None:
        problems = []
        if self.slo_p99_ms <= 0:
            problems.append(f"--slo-p99-ms must be > 0, got {self.slo_p99_ms}")
        if not 1 <= self.max_concurrency <= 256:
            problems.append(f"--max-concurrency must be 1-256, got {self.max_concurrency}")
        if not 0 < self.step_seconds <= 600:
            problems.append(f"--step-seconds must be > 0 and at most 600, got {self.step_seconds}")
        if not 1 <= self.step_requests <= 1_000_000:
            problems.append(f"--step-requests must be 1-1000000, got {self.step_requests}")
        if self.warmup_requests < 1:
            problems.append(f"warm-up requests must be ≥ 1, got {self.warmup_requests}")
        if problems:
            raise UsageError("; ".join(problems))

    def concurrencies(self) -> list[int]:
        """1, 2, 4, … up to max_concurrency, ending on max_concurrency itself."""
        levels = []
        c = 1
        while c < self.max_concurrency:
            levels.append(c)
            c *= 2
        levels.append(self.max_concurrency)
        return levels

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Profile:
    """Every step measured, and why stepping stopped."""

    target: str  # the URL, without credentials
    plan: LoadPlan
    steps: list[StepResult]
    stop_reason: str  # STOP_SLO, STOP_ERRORS or STOP_MAX
    stop_detail: str
    payloads: int

    def to_json(self) -> dict:
        return {
            "target": self.target,
            "plan": self.plan.to_json(),
            "payloads": self.payloads,
            "stop_reason": self.stop_reason,
            "stop_detail": self.stop_detail,
            "steps": [s.to_json() for s in self.steps],
        }


def _raise_for(reply: Reply, target: Target, index: int) -> None:
    where = target.redacted
    if reply.status is None:
        if reply.error == "timeout":
            raise EndpointUnreachable(
                f"{where}: no reply within {target.timeout_s:g} s to request {index}; is the endpoint up and listening?"
            )
        raise EndpointUnreachable(
            f"cannot reach {where}: {reply.error}; start it (`amlops serve --stack S`) "
            "or leave out --url to let `amlops profile` start the stack's deployment itself"
        )
    if reply.status in (401, 403):
        hint = "the key given with --key was refused" if target.key else "pass the endpoint's key with --key"
        raise EndpointAuthError(f"{where} answered HTTP {reply.status} to request {index}: {hint}")
    raise EndpointFailing(
        f"{where} answered request {index} with {describe_failure(reply)}; "
        "nothing to size from failures (check the payloads given with --requests and the server's log)"
    )


def preflight(target: Target, payloads: Sequence[bytes], count: int) -> None:
    """Send the first `count` payloads one by one (warm-up, not measured); raise on the first failure."""
    client = Client(target)
    try:
        for i in range(count):
            reply = client.send(payloads[i % len(payloads)])
            if reply.status is None or not 200 <= reply.status < 300:
                _raise_for(reply, target, i + 1)
    finally:
        client.close()


def run_profile(
    target: Target,
    payloads: Sequence[bytes],
    plan: LoadPlan,
    *,
    server_pid: int | None = None,
    on_step: Callable[[StepResult], None] | None = None,
) -> Profile:
    """Warm up, then step the load; measure the server's process tree when `server_pid` is given.

    Raises EndpointUnreachable/EndpointAuthError/EndpointFailing when the endpoint cannot
    be reached, refuses the key, or fails requests at concurrency 1.
    """
    if not payloads:
        raise UsageError("no payloads to send")
    preflight(target, payloads, plan.warmup_requests)
    steps: list[StepResult] = []
    reason, detail = STOP_MAX, f"reached --max-concurrency {plan.max_concurrency}"
    for concurrency in plan.concurrencies():
        sampler = TreeSampler(server_pid) if server_pid is not None else None
        with SelfCpu() as me, sampler or contextlib.nullcontext():
            sample = run_step(target, payloads, concurrency, max_seconds=plan.step_seconds, max_requests=plan.step_requests)
        step = summarize(sample, sampler.usage if sampler else None, me.cpu_percent)
        steps.append(step)
        if on_step:
            on_step(step)
        if step.errors:
            if len(steps) == 1:
                raise EndpointFailing(
                    f"{target.redacted} failed {step.errors} of {step.requests} requests at concurrency 1 "
                    f"({_counts(step.statuses)}); first failure: {step.first_failure}"
                )
            reason = STOP_ERRORS
            detail = f"{step.errors} of {step.requests} requests failed at concurrency {concurrency} ({_counts(step.statuses)})"
            break
        if step.p99_ms is not None and step.p99_ms > plan.slo_p99_ms:
            reason = STOP_SLO
            detail = f"p99 {step.p99_ms:.1f} ms at concurrency {concurrency} is above the SLO of {plan.slo_p99_ms:g} ms"
            break
    return Profile(target.redacted, plan, steps, reason, detail, len(payloads))


def _counts(statuses: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in statuses.items())
