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


@config_app.command("migrate")
def migrate_cmd(
    stack: str = StackOption,
    key: str = typer.Option(None, "--key", help="The model's key in amlops:models (default: the stack's prefix, e.g. loans)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the rewrite as a diff; change no file."),
) -> None:
    """Rewrite a single-model stack file (amlops:model, online, batch) into the amlops:models form, comments kept.

    The model becomes the first entry; the program aliases its Pulumi resources to their old names and keeps its Azure names, so `pulumi up` afterwards replaces nothing.
    """
    import difflib

    from amlops.stackfile import stack_path
    from amlops.stackmigrate import migrate

    path = stack_path(stack)
    done = migrate(path, key, write=not dry_run)
    label = f"stacks/{path.name}"
    typer.echo("".join(difflib.unified_diff(done.before.splitlines(True), done.after.splitlines(True), f"a/{label}", f"b/{label}")), nl=False)
    verb = "would move" if dry_run else "moved"
    typer.echo(
        f"{label}: {verb} amlops:model, online and batch into amlops:models.{done.key}"
        + (" (dry run, not written)" if dry_run else "; its Pulumi resources keep their URNs through aliases (see `amlops diff`)")
    )


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
