"""`amlops profile`: load-test an endpoint in steps and recommend its size (the book's Model.profile)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from amlops.cli.options import EndpointOption, StackOption
from amlops.cli.output import labelled
from amlops.cli.output import out as console
from amlops import paths
from amlops.profiling.errors import NoRecommendation


def profile(
    stack: str = StackOption,
    endpoint: Optional[str] = EndpointOption,
    url: Optional[str] = typer.Option(None, "--url", help="Profile this scoring URL instead of serving the stack's deployment locally."),
    key: Optional[str] = typer.Option(None, "--key", help="The endpoint key for --url (sent as Authorization: Bearer)."),
    requests: Optional[Path] = typer.Option(
        None, "--requests", help="JSON Lines or a JSON array of request bodies; default: one per row of the book's 500 loans for a model of the loans columns, else the model's saved input example."
    ),
    slo_p99_ms: float = typer.Option(200.0, "--slo-p99-ms", help="The p99 latency each step must stay within (ms)."),
    target_rps: Optional[float] = typer.Option(
        None, "--target-rps", help="Requests per second to size for; default: the best throughput measured within the SLO."
    ),
    headroom: float = typer.Option(0.3, "--headroom", help="Share of each instance's capacity kept free (0-0.9)."),
    write: bool = typer.Option(False, "--write", help="Apply instanceType, instanceCount and maxConcurrentRequestsPerInstance to the stack file."),
    max_concurrency: int = typer.Option(16, "--max-concurrency", help="Stop stepping (1, 2, 4, …) at this many concurrent requests."),
    step_seconds: float = typer.Option(10.0, "--step-seconds", help="Longest a step runs (seconds)."),
    step_requests: int = typer.Option(1000, "--step-requests", help="Most requests a step sends."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder; default: .amlops/profiles/<timestamp>/."),
    deployment: Optional[str] = typer.Option(None, "--deployment", help="The deployment to size; default: the one with the most traffic."),
) -> None:
    """Step the load (concurrency 1, 2, 4, …) until the p99 SLO breaks or errors appear, then recommend
    the smallest managed instance type and count that hold the target, and write a JSON + PNG report."""
    from amlops.deployments import choose_deployment
    from amlops.errors import UsageError
    from amlops.profiling import display, payloads, session, stackwrite
    from amlops.profiling.stepping import LoadPlan
    from amlops.stackfile import load_endpoint

    if not 0 <= headroom <= 0.9:
        raise UsageError(f"--headroom must be between 0 and 0.9, got {headroom}")
    if target_rps is not None and target_rps <= 0:
        raise UsageError(f"--target-rps must be > 0, got {target_rps}")
    plan = LoadPlan(slo_p99_ms=slo_p99_ms, max_concurrency=max_concurrency, step_seconds=step_seconds, step_requests=step_requests)
    cfg = load_endpoint(stack, endpoint)
    if key is not None and url is None:
        raise UsageError("--key goes with --url (a local endpoint's key is read from the state folder)")
    chosen = choose_deployment(cfg, deployment)
    if requests:
        bodies, source = payloads.read_payloads(requests), str(requests)
    else:
        bodies, source = payloads.default_payloads(cfg, chosen, url is None)
    console.print(f"profiling with {len(bodies)} payloads from {source}")
    run = session.profile_stack(
        stack, cfg, bodies, plan,
        payload_source=source, deployment=deployment, url=url, key=key,
        target_rps=target_rps, headroom=headroom, out_dir=out,
        on_step=lambda step: console.print(display.step_line(step, plan.slo_p99_ms)),
    )
    display.print_run(console, run)
    if not run.recommendation.feasible:
        raise NoRecommendation(run.recommendation.verdict + (" (nothing written)" if write else ""))
    if write:
        changes = stackwrite.write_recommendation(stack, run.deployment, run.recommendation, paths.stacks_dir(), None if cfg.single_form else cfg.key)
        for c in changes:
            console.print(f"wrote {c.key}: {c.old} → {c.new}")
        if not changes:
            console.print(f"the {stack} stack already has these settings: nothing written")
        scale = cfg.online.autoscale
        count = run.recommendation.instance_count
        if scale.enabled and not scale.min_instances <= count <= scale.max_instances:
            console.print(labelled(
                "note:", "yellow",
                f"autoscale keeps instances between {scale.min_instances} and {scale.max_instances}; "
                f"set {'amlops:online' if cfg.single_form else f'amlops:models.{cfg.key}.online'}.autoscale to include {count}",
            ))


def register(app: typer.Typer) -> None:
    app.command("profile")(profile)
