"""`amlops quickstart`: the main job that `make run` runs."""

from __future__ import annotations

import typer

from amlops.cli.options import StackOption


def quickstart(stack: str = StackOption) -> None:
    """Run every capability once on this machine: data, train, register (if better), and more."""
    from amlops import quickstart as qs

    qs.run(stack)


def register(app: typer.Typer) -> None:
    app.command("quickstart")(quickstart)
