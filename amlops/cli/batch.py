"""`amlops batch`: run the batch entry scripts locally with a stack's batch settings (Azure's semantics)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from amlops.cli.options import StackOption

batch_app = typer.Typer(help="Score files in batch with Azure ML's parallel-job semantics, locally.", no_args_is_help=True)
console = Console(stderr=True)


class ModeChoice(str, Enum):
    tabular = "tabular"
    files = "files"


def default_output(stack: str) -> Path:
    """`.amlops/batch/<stack>/<UTC time>/`: a fresh folder per job."""
    from amlops.paths import state_dir

    return state_dir() / "batch" / stack / datetime.utcnow().strftime("%Y%m%d-%H%M%S-%f")


@batch_app.command("run")
def run_cmd(
    input: Path = typer.Option(..., "--input", "-i", help="A CSV or Parquet file, or a folder of them (files mode: a folder of files)."),
    stack: str = StackOption,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Folder for the output file and reports (default: .amlops/batch/<stack>/<time>/)."),
    mode: Optional[ModeChoice] = typer.Option(None, "--mode", help="tabular (DataFrames) or files (paths); default: the stack's batch.mode."),
    model: Optional[str] = typer.Option(None, "--model", metavar="NAME:VERSION", help="Registered model to use instead of the stack's pin."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", help="A local MLflow model folder to use instead of the registry."),
    script: Optional[Path] = typer.Option(None, "--script", help="Entry script (default: batch/tabular_batch.py or batch/file_batch.py by mode)."),
    mini_batch_size: Optional[str] = typer.Option(None, "--mini-batch-size", help="Override the stack's miniBatchSize (100KB, 1MB; files mode: a count)."),
    max_concurrency: Optional[int] = typer.Option(None, "--max-concurrency", min=1, max=64, help="Override the stack's maxConcurrencyPerInstance (worker processes)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the results of an earlier job in --output."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
) -> None:
    """Score --input with the stack's batch settings; write the output file and Azure-style reports.

    Exits 1 when errorThreshold or miniBatchErrorThreshold is exceeded (the summary says which).
    """
    from amlops.batching import JobSpec, from_config, resolve_model, run_job
    from amlops.batching.errors import BatchInterrupted
    from amlops.stackfile import load_stack

    cfg = load_stack(stack)
    settings = from_config(cfg.batch, mode.value if mode else None, mini_batch_size)
    if max_concurrency is not None:
        settings = settings.replace(max_concurrency_per_instance=max_concurrency)
    folder, label = resolve_model(cfg, model, model_dir)
    spec = JobSpec(
        input=input, output_dir=output or default_output(stack), settings=settings, model_dir=folder,
        model_label=label, script=script, overwrite=overwrite, progress=progress,
    )
    try:
        result = run_job(spec, console=console)
    except KeyboardInterrupt:
        # typed, so the exit code is 130 whatever the app wrapper does with a bare KeyboardInterrupt
        raise BatchInterrupted(f"batch job interrupted (Ctrl-C or SIGTERM): no output written; reports in {spec.output_dir}") from None
    out = Console()
    for line in result.lines():
        out.print(line, highlight=False, soft_wrap=True)
    for line in result.first_errors:
        out.print(f"  [red]✗[/red] {line}", highlight=False, soft_wrap=True)
    result.raise_for_status()


def register(app: typer.Typer) -> None:
    app.add_typer(batch_app, name="batch")
