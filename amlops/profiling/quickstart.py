"""The quickstart's profiling stage: a few seconds of stepped load on each model's local endpoint, then its size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amlops.profiling import display
from amlops.profiling.payloads import default_payloads
from amlops.profiling.session import ProfileRun, profile_stack
from amlops.profiling.stepping import LoadPlan

if TYPE_CHECKING:  # amlops.quickstart imports this stage
    from amlops.quickstart_context import Context, Trained
    from infra.config import StackConfig

QUICK_PLAN = LoadPlan(slo_p99_ms=200.0, max_concurrency=4, step_seconds=1.5, step_requests=300)
"""Three steps (1, 2, 4 clients) of at most 300 requests or 1.5 s each: a taste, not a sizing run."""
SECOND_PLAN = LoadPlan(slo_p99_ms=200.0, max_concurrency=2, step_seconds=1.0, step_requests=200)
"""Two steps (1, 2 clients) of at most 200 requests or 1 s each for every model after the first: shorter still,
so that profiling a second endpoint adds seconds, not minutes, to `make run`."""


def plan_for(index: int) -> LoadPlan:
    """The first model's plan is QUICK_PLAN; every later one's SECOND_PLAN."""
    return QUICK_PLAN if index == 0 else SECOND_PLAN


def describe_plan(plan: LoadPlan) -> str:
    """`3 steps (1, 2, 4 clients) of at most 300 requests or 1.5 s each`: what a heading line says of a plan."""
    levels = plan.concurrencies()
    return (f"{len(levels)} steps ({', '.join(map(str, levels))} clients) of at most {plan.step_requests} requests "
            f"or {plan.step_seconds:g} s each")


def quickstart_stage(ctx: Context) -> None:
    """Profile each model's online endpoint of the two-model stack, served locally with the model the quickstart
    registered; print a heading per model, its steps, table and recommendation (no --write)."""
    runs = {}
    for index, (trained, cfg) in enumerate(ctx.each()):
        runs[trained.key] = _profile_one(ctx, trained, cfg, plan_for(index), index)
    ctx.facts["profiles"] = runs
    assert ctx.stacks_dir is not None
    ctx.console.print(
        f"[dim]short runs; size for real with `amlops profile --stack {ctx.stack} --target-rps N` "
        "(add --write to apply it to the stack file), and for the two-model stack "
        f"`AMLOPS_STACKS_DIR={ctx.stacks_dir} amlops profile --stack {ctx.stack} --endpoint KEY --target-rps N`[/dim]",
        highlight=False, soft_wrap=True,
    )


def _profile_one(ctx: Context, trained: Trained, cfg: StackConfig, plan: LoadPlan, index: int) -> ProfileRun:
    """One model's heading, then its profile as `amlops profile --endpoint KEY` runs it (its own payloads)."""
    from amlops.deployments import choose_deployment

    console = ctx.console
    deployment = choose_deployment(cfg, None)
    bodies, source = default_payloads(cfg, deployment, local=True)
    shorter = ", shorter than the first model's to keep the quickstart short" if index else ""
    console.print(
        f"{trained.key}: {trained.ref} on {cfg.online.endpoint_name}/{deployment}, {describe_plan(plan)}{shorter}; "
        f"payloads: {source}",
        highlight=False, markup=False,
    )
    run = profile_stack(
        ctx.stack,
        cfg,
        bodies,
        plan,
        payload_source=source,
        deployment=deployment,
        registry=ctx.registry,
        model_name=trained.name,
        model_version=trained.version,
        on_step=lambda step: console.print(display.step_line(step, plan.slo_p99_ms), highlight=False),
    )
    display.print_run(console, run)
    return run
