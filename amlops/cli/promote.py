"""`amlops promote`: move a registered model version into a stack, gated on accuracy, blue/green."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

import typer

from amlops.cli.output import status
from amlops.modelref import parse_model_ref
from amlops.paths import ROOT


def promote(
    ref: str = typer.Argument(..., metavar="NAME:VERSION", help="The registered model version to promote."),
    to: str = typer.Option(..., "--to", help="The stack to promote into (stacks/Pulumi.<stack>.yaml)."),
    endpoint: Optional[str] = typer.Option(
        None, "--endpoint", "-e",
        help="The endpoint (its name in the stack file, or the model's key) to promote on; needed only when the stack serves NAME as several models.",
    ),
    mirror: Optional[int] = typer.Option(None, "--mirror", help="Mirror this percent (0-50) of live traffic to the candidate."),
    traffic: list[str] = typer.Option([], "--traffic", help="DEPLOYMENT=PERCENT (repeatable); the rest goes to the current live deployment."),
    finish: bool = typer.Option(False, "--finish", help="All traffic to the candidate, pin the model's version, remove the old deployment."),
    override_canary: Optional[str] = typer.Option(
        None, "--override-canary", metavar="REASON",
        help="--finish in a stack with promotion.requireCanary (prod) although the candidate never served a live share in a committed revision; the reason is printed and logged.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Edit a copy of the checkout and print the result; change no file."),
    show_diff: bool = typer.Option(True, "--diff/--no-diff", help="Print the resulting desired-state diff (plans the stack twice)."),
    repo: Path = typer.Option(ROOT, "--repo", help="The checkout whose stack file to edit (default: this one)."),
) -> None:
    """Gate NAME:VERSION on accuracy, then add, step or finish its blue/green deployment in the stack file.

    The stack's model registered as NAME is found by its name (in either stack form). The gate: the version exists in the registry and its accuracy is at least that of the version the stack's live deployment (the one with the most traffic) serves. In a stack with promotion.requireCanary (prod), --finish also needs a committed revision of the stack file in which the candidate took 1-99% of live traffic (or --override-canary REASON). The edit keeps the stack file's comments and layout and is validated before it is written.
    """
    from amlops.preview import diff_plans, diff_revision, plan_at, render
    from amlops.preview.worktree import copy_working_tree
    from amlops.promotion import parse_traffic, promote as run_promotion, serving_key, stack_history
    from amlops.registry import Registry
    from amlops.stackfile import load_stack

    name, version = parse_model_ref(ref, "promote")
    shares = parse_traffic(traffic)
    whole = load_stack(to, repo / "stacks")
    cfg = whole.narrow(serving_key(whole, to, name, endpoint))
    # The gate reads the registry the stack deploys from: its Azure ML registry when it names one.
    if cfg.model.azureml_registry is not None:
        from amlops.azure.registry import AzureModelRegistry

        registry = AzureModelRegistry(cfg.model.azureml_registry)
    else:
        registry = Registry(cfg.registry.tracking_uri)
    with tempfile.TemporaryDirectory(prefix="amlops-promote-") as tmp:
        root = copy_working_tree(repo, Path(tmp)) if dry_run else repo
        result = run_promotion(
            to, name, version, registry=registry, stacks_dir=root / "stacks", mirror=mirror, traffic=shares, finish=finish,
            history=stack_history(repo, to) if finish and cfg.promotion.require_canary else None, override_canary=override_canary,
            endpoint=endpoint,
        )
        typer.echo(result.gate.describe())
        for action in result.actions:
            typer.echo(f"- {action}")
        label = f"stacks/{result.path.name}"
        typer.echo(f"\n{label} ({'dry run, not written' if dry_run else 'written'}):")
        typer.echo(result.unified_diff(label) or "(unchanged)\n", nl=False)
        if not show_diff or result.after == result.before:
            return
        typer.echo("")
        with status(f"planning stack {to} before and after the promotion…"):
            if dry_run:
                base = plan_at(to, repo, "working tree")
                head = plan_at(to, root, "after the promotion")
                change = diff_plans(base, head, "working tree", "after the promotion")
            else:
                change = diff_revision(to, "HEAD", repo)
        typer.echo(render(change, "text"), nl=False)


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)
