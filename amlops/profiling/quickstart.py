"""The quickstart's profiling stage: a few seconds of stepped load on the local endpoint, then its size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amlops.profiling import display
from amlops.profiling.payloads import loans_payloads
from amlops.profiling.session import profile_stack
from amlops.profiling.stepping import LoadPlan

if TYPE_CHECKING:  # amlops.quickstart imports this stage
    from amlops.quickstart_context import Context

QUICK_PLAN = LoadPlan(slo_p99_ms=200.0, max_concurrency=4, step_seconds=1.5, step_requests=300)
"""Three steps (1, 2, 4 clients) of at most 300 requests or 1.5 s each: a taste, not a sizing run."""


def quickstart_stage(ctx: Context) -> None:
    """Profile the stack's deployment served locally with the quickstart's model; print the size (no --write)."""
    console = ctx.console
    run = profile_stack(
        ctx.stack,
        ctx.cfg,
        loans_payloads(),
        QUICK_PLAN,
        payload_source="loans dataset (500 rows, one per request)",
        registry=ctx.registry,
        model_name=ctx.model_name,
        model_version=ctx.model_version,
        on_step=lambda step: console.print(display.step_line(step, QUICK_PLAN.slo_p99_ms), highlight=False),
    )
    display.print_run(console, run)
    console.print(
        f"[dim]a short run; size for real with `amlops profile --stack {ctx.stack} --target-rps N` "
        "(add --write to apply it to the stack file)[/dim]",
        highlight=False,
    )
