"""`amlops config`: show a stack's validated configuration."""

from __future__ import annotations

import json

import typer

from amlops.cli.options import StackOption, check_format
from amlops.cli.output import out as console

config_app = typer.Typer(help="Inspect the typed stack configuration.", no_args_is_help=True)


@config_app.command("show")
def show(
    stack: str = StackOption,
    fmt: str = typer.Option("yaml", "--format", help="yaml (readable) or json (with every default)."),
) -> None:
    """Validate stacks/Pulumi.<stack>.yaml and print the full config, defaults included."""
    from amlops.stackfile import load_stack, stack_path

    check_format(fmt, ("yaml", "json"))
    cfg = load_stack(stack)
    data = cfg.model_dump(mode="json", by_alias=True)
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    import yaml
    from rich.syntax import Syntax
    from rich.text import Text

    console.print(Text.assemble((stack_path(stack).name, "bold"), " is valid; with every default:"))
    console.print(Syntax(yaml.safe_dump(data, sort_keys=False), "yaml", background_color="default"))


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
