"""`amlops check`: the policy rules over a stack's offline plan; exit 1 on a mandatory violation."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from amlops.cli.options import StackOption, check_format, stacks_override
from amlops.cli.output import status
from amlops.errors import AmlopsError
from amlops.paths import ROOT


def check(
    stack: str = StackOption,
    fmt: str = typer.Option("text", "--format", help="text, markdown (a PR comment section) or json."),
    repo: Optional[Path] = typer.Option(
        None, "--repo", help="The checkout whose infra/ and stacks/ to check (default: this one, its stack files from AMLOPS_STACKS_DIR when set)."
    ),
    list_rules: bool = typer.Option(False, "--list-rules", help="Print every rule (id, severity, what it requires) and exit."),
    ci: bool = typer.Option(False, "--ci", help="First refuse, in one line naming each, the stack keys a deploy from CI needs and the stack leaves unset."),
) -> None:
    """Run the security, reliability and cost rules over the stack's plan.

    Each finding names its rule, the resource and the fix. Mandatory findings fail the check (exit 1); advisory ones are printed and pass. The same rules run in Pulumi as the CrossGuard pack: `pulumi preview --policy-pack policy/`.
    """
    from amlops.policy.report import FORMATS, render, rule_table
    from amlops.policy.runner import check_stack

    if list_rules:
        typer.echo(rule_table(), nl=False)
        return
    check_format(fmt, FORMATS)
    stacks = stacks_override(repo)
    if ci:
        from amlops.stackfile import load_stack

        where = stacks or (repo or ROOT) / "stacks"
        # the file as the user named it: stacks/… in the repository, else the folder AMLOPS_STACKS_DIR points at
        source = f"stacks/Pulumi.{stack}.yaml" if stacks is None else str(where / f"Pulumi.{stack}.yaml")
        refusal = load_stack(stack, where).ci_refusal(source)
        if refusal:
            raise AmlopsError(refusal)
    with status(f"planning stack {stack} and running the policy rules…"):
        report = check_stack(stack, repo or ROOT, stacks_dir=stacks)
    typer.echo(render(report, fmt), nl=False)
    report.raise_if_failed()


def register(app: typer.Typer) -> None:
    app.command("check")(check)
