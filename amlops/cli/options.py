"""Options shared by several commands, so they read and behave the same everywhere."""

from __future__ import annotations

from pathlib import Path

import typer

from amlops.errors import UsageError

StackOption = typer.Option(
    "dev", "--stack", "-s", help="The stack whose settings to use (stacks/Pulumi.<stack>.yaml)."
)

EndpointOption = typer.Option(
    None,
    "--endpoint",
    "-e",
    help="Which of the stack's models: an endpoint name from the stack file or the model's key (needed only when the stack serves several); "
    "invoke and endpoint keys|logs|swagger also take an amlops:multiModel group's key or endpoint name.",
)


def check_format(fmt: str, allowed: tuple[str, ...]) -> str:
    """`fmt` if it is one of `allowed`; else a UsageError listing them."""
    if fmt not in allowed:
        raise UsageError(f"--format must be one of {', '.join(allowed)}, got {fmt!r}")
    return fmt


def stacks_override(repo: Path | None) -> Path | None:
    """The folder of stack files a plan-based command reads instead of its checkout's stacks/: AMLOPS_STACKS_DIR when
    set and no --repo was given (a checkout given with --repo brings its own stack files); else None."""
    import os

    from amlops.paths import STACKS_ENV

    return Path(os.environ[STACKS_ENV]) if repo is None and os.environ.get(STACKS_ENV) else None
