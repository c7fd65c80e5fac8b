"""The `amlops` command: one Typer sub-app per domain; errors become messages and exit codes."""

from __future__ import annotations

import sys
from typing import Sequence

import typer
from typer._click import Context
from typer._click import exceptions as click_errors  # Typer 0.29 raises its vendored click's, not click's
from typer._click.core import Command
from typer._coercion import PassThroughRuntimeParam
from typer.core import TyperOption

from amlops.cli.output import err, labelled
from amlops.errors import AmlopsError
from infra.errors import ConfigError, EndpointChoiceError

app = typer.Typer(
    name="amlops",
    help="Operationalize the loans model on Azure ML v2: train, register, serve, batch, plan.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

USAGE_EXIT = 2
"""Exit code of a command called wrongly (unknown command or option, bad or missing value)."""


def _register() -> None:
    """Every module in amlops/cli with a `register(app)` adds its commands (one module a domain)."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(app)


_register()

# Typer 0.29's rich help prints a type for every option, flags included (`--dry-run <bool>`), which reads
# as if the flag took a value; its plain-text help already leaves flags out. One override, for every command.
_option_type = TyperOption.display_type_rich


def _type_unless_flag(self: TyperOption, ctx: Context) -> str | None:
    """Help lists a value type only for options that take a value: `--dry-run`, not `--dry-run <bool>`."""
    return None if self.is_flag else _option_type(self, ctx)


TyperOption.display_type_rich = _type_unless_flag  # type: ignore[method-assign]

# Typer 0.29 coerces a group's --help flag when it is not given (value None, not a bool) through a
# pydantic TypeAdapter: importing pydantic for it costs as much as the rest of `amlops batch run --help`.
# A flag's values are None, True or False: pass them through (tests/test_cli_imports.py watches this).
_help_option = Command.get_help_option


def _help_option_without_pydantic(self: Command, ctx: Context) -> TyperOption | None:
    option = _help_option(self, ctx)
    if option is not None and option._runtime_param is None:
        option._runtime_param = PassThroughRuntimeParam(annotation=bool, parameter_info=option.type_descriptor.parameter_info)
    return option


Command.get_help_option = _help_option_without_pydantic  # type: ignore[method-assign]


def _error(message: str) -> None:
    err.print(labelled("error:", "red", message))


def usage_message(exc: click_errors.UsageError) -> str:
    """One line for a usage error: what was wrong and where help is (click prints usage + three lines)."""
    ctx = exc.ctx
    where = ctx.command_path if ctx is not None else "amlops"
    if isinstance(exc, click_errors.NoArgsIsHelpError):
        assert ctx is not None
        names = ", ".join(ctx.command.list_commands(ctx))  # type: ignore[attr-defined]  # a group: it has commands
        return f"{where} needs a command: {names} (see `{where} --help`)"
    # pydantic's wording leaks through typer's coercion: "Invalid value for '--mode': Value error, ..."
    message = " ".join(exc.format_message().split()).replace(": Value error, ", ": ").rstrip(".")
    return f"{where}: {message} (see `{where} --help`)"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the app; errors print one clear line and exit 1 (failure) or 2 (misuse)."""
    try:
        # standalone_mode=False: usage errors reach us as exceptions, a command's typer.Exit as a return code.
        rc = app(args=argv, prog_name="amlops", standalone_mode=False)
        if isinstance(rc, int) and rc != 0:
            sys.exit(rc)
    except ConfigError as exc:
        for problem in exc.problems:
            _error(f"{exc.source}: {problem.key()}: {problem.message}")
        sys.exit(1)
    except AmlopsError as exc:
        _error(str(exc))
        sys.exit(exc.exit_code)
    except EndpointChoiceError as exc:  # a command needs one model and the stack or --endpoint named none
        _error(str(exc))
        sys.exit(USAGE_EXIT)
    except click_errors.UsageError as exc:
        _error(usage_message(exc))
        sys.exit(USAGE_EXIT)
    except click_errors.ClickException as exc:
        _error(exc.format_message())
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
