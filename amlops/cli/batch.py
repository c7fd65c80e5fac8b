"""`amlops batch`: run the batch entry scripts locally exactly as an Azure batch model deployment calls them."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from amlops.cli.options import EndpointOption, StackOption
from amlops.cli.remote import SubscriptionOption
from amlops.cli.output import err as console
from amlops.cli.output import out

batch_app = typer.Typer(
    help="Score files in batch as an Azure ML batch model deployment does (run() gets lists of files), locally.",
    no_args_is_help=True,
)


class ModeChoice(str, Enum):
    tabular = "tabular"
    files = "files"


@batch_app.command("run")
def run_cmd(
    input: Path = typer.Option(..., "--input", "-i", help="A file, or a folder of files (CSV or Parquet part files for the shipped scripts)."),
    stack: str = StackOption,
    endpoint: Optional[str] = EndpointOption,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The output location (default: the stack's batch.output datastore path under .amlops/datastores/)."),
    mode: Optional[ModeChoice] = typer.Option(None, "--mode", help="tabular (append_row of every row) or files (one output file per input); default: the stack's batch.mode."),
    model: Optional[str] = typer.Option(None, "--model", metavar="NAME:VERSION", help="Registered model to use instead of the stack's pin."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", help="A local MLflow model folder to use instead of the registry."),
    script: Optional[Path] = typer.Option(None, "--script", help="Entry script (default: batch/tabular_batch.py or batch/file_batch.py by mode)."),
    mini_batch_size: Optional[int] = typer.Option(None, "--mini-batch-size", min=1, help="Files per mini-batch, instead of the stack's miniBatchSize."),
    max_concurrency: Optional[int] = typer.Option(None, "--max-concurrency", min=1, max=64, help="Worker processes, instead of the stack's maxConcurrencyPerInstance."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier job's output in the output location once this job succeeds."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
    max_bad_rows: str = typer.Option("0", "--max-bad-rows", metavar="N|P%", help="A table given directly: rows the model cannot score that may be set aside into the job's rejects.csv (a count or a percentage of the rows read); beyond it nothing runs."),
    encoding: str = typer.Option("utf-8", "--encoding", help="A CSV table given directly: its text encoding (it is cut into UTF-8 parts)."),
    part_size: str = typer.Option("1MB", "--part-size", help="A table given directly: about how large the parts are that it is cut into."),
) -> None:
    """Score --input with the stack's batch settings; write the output where Azure would, and the job's reports.

    Each mini-batch is a list of miniBatchSize files, as Azure passes to run(); errorThreshold
    counts failed files. A single CSV or Parquet table is first cut into part files exactly as
    `amlops batch split` cuts it (bad rows set aside within --max-bad-rows), so every worker has
    work. The summary states rows in, scored and rejected and files failed, and says loudly when
    any row was not scored. Exits 1 when the threshold is exceeded or no file succeeded.
    """
    from amlops import gcpause

    gcpause.pause()  # until run_job has imported what its workers need (amlops.gcpause)
    try:
        from amlops.batching import JobSpec, from_config, resolve_model, run_job
        from amlops.batching.errors import BatchInterrupted
        from amlops.batching.layout import job_folder, output_location
        from amlops.batching.split import BadRowLimit
        from amlops.stackfile import load_endpoint

        limit, size = BadRowLimit.parse(max_bad_rows), _size(part_size)
        cfg = load_endpoint(stack, endpoint)
        settings = from_config(cfg.batch, mode.value if mode else None, mini_batch_size)
        if max_concurrency is not None:
            settings = settings.replace(max_concurrency_per_instance=max_concurrency)
        folder, label = resolve_model(cfg, model, model_dir)
        when = datetime.now(timezone.utc)
        spec = JobSpec(
            input=input, output_dir=output or output_location(cfg.batch, when), reports_dir=job_folder(stack, when, None if cfg.single_form else cfg.key),
            settings=settings, model_dir=folder, model_label=label, script=script, overwrite=overwrite, progress=progress,
            max_bad=limit, encoding=encoding, part_size=size,
        )
        try:
            result = run_job(spec, console=console)
        except KeyboardInterrupt:
            # typed, so the exit code is 130 whatever the app wrapper does with a bare KeyboardInterrupt
            raise BatchInterrupted(f"batch job interrupted (Ctrl-C or SIGTERM): no output written; reports in {spec.reports_dir}") from None
        for line in result.lines():
            out.print(line, soft_wrap=True)
        for line in result.first_errors:
            out.print(Text.assemble(("  ✗ ", "red"), line), soft_wrap=True)
        loud = result.not_scored()
        if loud:
            console.print(Text.assemble(("warning: ", "bold yellow"), loud), soft_wrap=True)
        result.raise_for_status()
    finally:
        gcpause.resume()


@batch_app.command("split")
def split_cmd(
    input: Path = typer.Argument(..., help="The CSV or Parquet table to split."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="The folder for the part files (created; must be empty unless --overwrite)."),
    part_size: str = typer.Option("1MB", "--part-size", help="About how large each part is (100KB, 1MB, …)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the parts in --out."),
    stack: str = StackOption,
    endpoint: Optional[str] = EndpointOption,
    model: Optional[str] = typer.Option(None, "--model", metavar="NAME:VERSION", help="Check rows against this registered model's signature instead of the stack's pin."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", help="Check rows against the signature of a local MLflow model folder."),
    max_bad_rows: str = typer.Option("0", "--max-bad-rows", metavar="N|P%", help="Rows the model cannot score that may be set aside into the rejects file (a count, or a percentage of the rows read); beyond it the split fails naming the first bad lines."),
    rejects: Optional[Path] = typer.Option(None, "--rejects", help="Where the rows set aside go: source, line, column, reason (default: <out>-rejects.csv beside --out)."),
    encoding: str = typer.Option("utf-8", "--encoding", help="The CSV's text encoding (latin-1, cp1252, …); the parts are written as UTF-8."),
) -> None:
    """Write a large table as part files of rows the model can score: an Azure batch model deployment distributes work by file.

    Every row is checked against the model's signature (columns, types, finiteness) by the
    entry scripts' own rule, so no part fails in Azure for one bad cell.
    """
    from amlops.batching.artifact import model_features
    from amlops.batching.model import resolve_model
    from amlops.batching.split import BadRowLimit, split
    from amlops.stackfile import load_endpoint

    limit, size = BadRowLimit.parse(max_bad_rows), _size(part_size)
    folder, _ = resolve_model(load_endpoint(stack, endpoint), model, model_dir)
    result = split(input, out_dir, size, overwrite, features=model_features(folder), max_bad=limit,
                   encoding=encoding, rejects=rejects)
    for line in result.describe(input, part_size):
        out.print(line, soft_wrap=True)
    if result.rejected:
        console.print(Text(f"warning: {len(result.rejected):,} row(s) the model cannot score are not in the parts; "
                           f"see {result.rejects_file}"), soft_wrap=True)


def _size(text: str) -> int:
    from amlops.errors import UsageError
    from infra.config import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise UsageError(f"--part-size {exc}") from None


def register(app: typer.Typer) -> None:
    app.add_typer(batch_app, name="batch")


# --- the deployed batch endpoint (azure-ai-ml): submit, status, download ----------------------------


@batch_app.command("submit")
def submit_cmd(
    input: str = typer.Option(..., "--input", "-i", help="A local file or folder (uploaded to the workspace's datastore) or a URI (azureml://…, https://…; a folder ends in /)."),
    stack: str = StackOption,
    endpoint: Optional[str] = EndpointOption,
    deployment: Optional[str] = typer.Option(None, "--deployment", "-d", help="The batch deployment (default: the stack's batch.deploymentName)."),
    subscription: Optional[str] = SubscriptionOption,
) -> None:
    """Start a batch job on the stack's deployed batch endpoint in Azure; print the job name and its studio link."""
    from amlops.azure.batch import submit
    from amlops.azure.target import connect

    client, target = connect(stack, subscription, endpoint, need="batch")
    job = submit(client, target, input, deployment)
    out.print(f"submitted batch job {job.name} to {target.batch_endpoint} ({job.status or 'queued'})")
    out.print(f"studio: {job.studio_url}")
    out.print(f"next: amlops batch status {job.name} --stack {stack}")


@batch_app.command("status")
def status_cmd(
    job: str = typer.Argument(..., metavar="JOB", help="The job name `amlops batch submit` printed."),
    stack: str = StackOption,
    subscription: Optional[str] = SubscriptionOption,
) -> None:
    """Show a batch job's status in Azure and its studio link."""
    from amlops.azure.batch import job_info
    from amlops.azure.target import connect

    client, _ = connect(stack, subscription)
    info = job_info(client, job)
    out.print(f"{info.name}: {info.status}")
    out.print(f"studio: {info.studio_url}")


@batch_app.command("download")
def download_cmd(
    job: str = typer.Argument(..., metavar="JOB", help="The job name `amlops batch submit` printed."),
    stack: str = StackOption,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Folder to download into (default: .amlops/batch/<stack>/<JOB>/)."),
    subscription: Optional[str] = SubscriptionOption,
) -> None:
    """Download a completed batch job's scores (its `score` output) from Azure."""
    from amlops.azure.batch import download
    from amlops.azure.target import connect
    from amlops.paths import state_dir

    client, _ = connect(stack, subscription)
    dest = output or state_dir() / "batch" / stack / job
    files = download(client, job, dest)
    out.print(f"downloaded {len(files)} file(s) of {job} into {dest}")
    for path in files:
        out.print(f"  {path.relative_to(dest)}")


@batch_app.command("schedule")
def schedule_cmd(
    stack: str = StackOption,
    endpoint: Optional[str] = EndpointOption,
    count: int = typer.Option(5, "--count", "-n", min=1, max=100, help="How many future runs to list."),
    after: Optional[datetime] = typer.Option(
        None, "--after", formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"],
        help="List runs after this time, ISO 8601 with its UTC offset, e.g. 2026-12-01T00:00:00+00:00 (default: now).",
    ),
) -> None:
    """List the stack's next scheduled batch runs (in the schedule's time zone) and what each reads and writes."""
    from datetime import timezone

    from amlops.batching.schedule import NoSchedule, planned_runs, step_summary
    from amlops.cli.output import out
    from amlops.stackfile import load_endpoint
    from infra.config import windows_time_zone

    cfg = load_endpoint(stack, endpoint)
    source = f"stacks/Pulumi.{stack}.yaml"
    try:
        runs = planned_runs(cfg.batch, after or datetime.now(timezone.utc), count)
    except NoSchedule as exc:
        raise NoSchedule(f"{source}: {exc}") from None
    s = cfg.batch.schedule
    assert s is not None
    if s.cron is not None:
        trigger = f"cron {s.cron!r}"
    else:
        r = s.recurrence
        assert r is not None
        at = f" at {', '.join(f'{h:02d}:{m:02d}' for h in r.hours for m in r.minutes)}" if r.hours else ""
        on = f" on {', '.join(r.week_days)}" if r.week_days else ""
        trigger = f"every {r.interval} {r.frequency}(s){on}{at}"
    state = "enabled" if s.enabled else "disabled: declared, Azure does not run it"
    out.print(f"{source}: batch schedule {cfg.batch.endpoint_name}-schedule ({state})")
    out.print(f"trigger: {trigger} in {s.time_zone} (Azure: {windows_time_zone(s.time_zone)})" + (f", from {s.start_time}" if s.start_time else ""))
    out.print(f"runs: {step_summary(cfg.batch)}")
    out.print(f"next {len(runs)} run(s):")
    for run in runs:
        out.print(f"  {run.when.strftime('%Y-%m-%d %H:%M %Z (UTC%z)')}  reads {run.reads}  writes {run.writes}")
