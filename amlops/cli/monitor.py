"""`amlops monitor run`: a model's declared monitor over the data its local endpoint collected."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from amlops.cli.options import EndpointOption, StackOption
from amlops.cli.output import out as console

monitor_app = typer.Typer(help="Model monitoring: drift and data quality of collected production data against the training data.", no_args_is_help=True)

BREACH_EXIT = 1
"""Exit code when a metric breaches its threshold (a failure a pipeline stops on)."""


@monitor_app.command("run")
def run_cmd(
    stack: str = StackOption,
    endpoint: Optional[str] = EndpointOption,
    since: Optional[str] = typer.Option(None, "--since", metavar="WHEN", help="Only data collected at or after WHEN: an ISO 8601 time (UTC unless it says) or an age such as 30m, 6h, 2d."),
    plot_dir: Optional[Path] = typer.Option(None, "--plot-dir", help="Where the distributions plot goes (default: .amlops/monitor/<stack>/)."),
) -> None:
    """Compute the model's declared signals (data drift, prediction drift, data quality) over the deployment's
    collected model_inputs/model_outputs against its training data; print a table per feature, write a plot,
    and exit 1 when any metric breaches its threshold."""
    from amlops.modelmonitor.run import parse_since, run_stack
    from amlops.stackfile import load_endpoint

    cfg = load_endpoint(stack, endpoint)
    verdict = run_stack(cfg, stack, since=parse_since(since), plot_dir=plot_dir)
    console.print(verdict.describe(), highlight=False)
    console.print(verdict.table())
    console.print(f"plot: {verdict.plot}")
    breaches = verdict.breaches
    if breaches:
        console.print(Text.assemble(("breach: ", "red"), verdict.breach_summary()))
        raise typer.Exit(BREACH_EXIT)
    console.print(Text.assemble(("no breach: ", "green"), f"{len(verdict.results)} metrics within their thresholds"))


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")
