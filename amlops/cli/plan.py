"""`amlops plan`: the stack's desired state from the Pulumi program under mocks (no Azure, no pulumi binary)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from amlops.cli.options import StackOption, check_format, stacks_override
from amlops.cli.output import out, status
from amlops.paths import ROOT

FORMATS = ("text", "json")


def plan(
    stack: str = StackOption,
    fmt: str = typer.Option("text", "--format", "-f", help="text (a tree) or json (stable, sorted; for diffs)."),
    inputs: bool = typer.Option(True, "--inputs/--no-inputs", help="Show each resource's inputs in the text tree."),
    repo: Optional[Path] = typer.Option(
        None, "--repo", help="The checkout whose infra/ and stacks/ to plan (default: this one, its stack files from AMLOPS_STACKS_DIR when set)."
    ),
) -> None:
    """Print every resource the stack declares: type, name, inputs, parent, dependencies, protect, ignoreChanges.

    The tree shows what the stack's models share, then each model's resources with its endpoints.

    This is the desired state of infra/__main__.py run under pulumi mocks, not a cloud preview.
    """
    check_format(fmt, FORMATS)
    from amlops.plan import run_plan
    from amlops.plan.render import plan_tree

    with status(f"planning stack {stack}: infra/__main__.py under pulumi mocks…"):
        stacks = stacks_override(repo)
        document = run_plan(stack, repo or ROOT, stacks_dir=stacks) if stacks else run_plan(stack, repo or ROOT)
    if fmt == "json":
        typer.echo(json.dumps(document, indent=1))
        return
    out.print(plan_tree(document, show_inputs=inputs))


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
