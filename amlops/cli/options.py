"""Options shared by several commands, so they read and behave the same everywhere."""

from __future__ import annotations

import typer

StackOption = typer.Option(
    "dev", "--stack", "-s", help="The stack whose settings to use (stacks/Pulumi.<stack>.yaml)."
)
