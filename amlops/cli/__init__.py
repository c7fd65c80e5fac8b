"""The `amlops` command: one Typer sub-app per domain; errors become messages and exit codes."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from amlops.errors import AmlopsError
from infra.config import ConfigError

app = typer.Typer(
    name="amlops",
    help="Operationalize the loans model on Azure ML v2: train, register, serve, batch, plan.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err_console = Console(stderr=True)


def _register() -> None:
    """Every module in amlops/cli with a `register(app)` adds its commands (one module a domain)."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(app)


_register()


def main() -> None:
    """Entry point: run the app; typed errors print one clear message and exit 1 (failure) or 2 (misuse)."""
    try:
        # standalone_mode=False returns a command's typer.Exit code instead of exiting.
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc != 0:
            sys.exit(rc)
    except ConfigError as exc:
        for problem in exc.problems:
            err_console.print(f"[red]error:[/red] {exc.source}: {problem.key()}: {problem.message}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except AmlopsError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
