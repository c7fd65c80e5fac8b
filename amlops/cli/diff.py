"""`amlops diff`: the desired-state diff of a stack between a git revision and the working tree."""

from __future__ import annotations

from pathlib import Path

import typer

from amlops.cli.options import StackOption, check_format
from amlops.cli.output import status
from amlops.paths import ROOT


def diff(
    stack: str = StackOption,
    base: str = typer.Option("HEAD", "--base", help="The git revision to compare with (a branch, tag or commit)."),
    fmt: str = typer.Option("text", "--format", help="text, markdown (a PR comment section) or json."),
    repo: Path = typer.Option(ROOT, "--repo", help="The git checkout to diff (default: this one)."),
) -> None:
    """Compare the stack's desired state at --base (a temporary git worktree) with the working tree.

    Resources are matched by URN: added, removed, replaced (immutable fields such as a code or model version) or updated (each changed property, old → new; secrets masked). Runs the Pulumi program offline under mocks: no credentials, no network, not a cloud preview.
    """
    from amlops.preview import FORMATS, diff_revision, render

    check_format(fmt, FORMATS)
    with status(f"planning stack {stack} at {base} and in the working tree…"):
        result = diff_revision(stack, base, repo)
    typer.echo(render(result, fmt), nl=False)


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)
