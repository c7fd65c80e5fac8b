"""The quickstart's batch stage, model by model through the two-model stack: the 512,000 pending loans split into
part files and scored as Azure would, then the diabetes patients scored by their own batch endpoint's settings."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from amlops.batching.artifact import model_features
from amlops.batching.job import JobSpec, run_job
from amlops.batching.layout import job_folder, output_location
from amlops.batching.settings import from_config
from amlops.batching.split import split
from amlops.paths import state_dir

if TYPE_CHECKING:
    from amlops.batching.reports import JobResult
    from amlops.batching.settings import BatchSettings
    from amlops.quickstart_context import Context, Trained
    from infra.config import StackConfig

PART_SIZE = 1024 * 1024
"""1MB part files: the unit a batch model deployment hands to run()."""
PATIENTS = 442
"""Every row of scikit-learn's diabetes data (it has 442): the diabetes batch job's input."""


def quickstart_stage(ctx: "Context") -> None:
    """Each model's batch job with its own endpoint's settings from the two-model stack, as
    `amlops batch run --endpoint KEY` runs it: the loans, then the diabetes patients; then the schedule."""
    assert ctx.whole is not None, "the train stage runs first"
    when = datetime.now(timezone.utc)
    _loans(ctx, ctx.models["loans"], ctx.whole.narrow("loans"), when)
    _patients(ctx, ctx.models["diabetes"], ctx.whole.narrow("diabetes"), when)
    _schedule_preview(ctx, when)


def _loans(ctx: "Context", trained: "Trained", cfg: "StackConfig", when: datetime) -> None:
    """`amlops batch split` the pending loans CSV into 1MB parts, then run batch/tabular_batch.py over them with
    the loans endpoint's batch settings and the model version the quickstart just registered (or kept)."""
    assert ctx.data is not None, "the data stage runs first"
    model_dir = ctx.registry.download(trained.name, trained.version)
    parts = split(ctx.data.pending_csv.path, state_dir() / "data" / "pending_loans_parts", PART_SIZE, overwrite=True,
                  features=model_features(model_dir))
    ctx.console.print(f"batch: split {parts.rows_in:,} pending loans into {len(parts.parts)} part files of about 1MB, "
                      f"each row checked against the model's signature: {parts.rows:,} scorable, "
                      f"{len(parts.rejected):,} set aside", highlight=False)
    settings = from_config(cfg.batch, "tabular")
    result = _run(ctx, trained, cfg, when, parts.folder, settings, model_dir)
    ctx.facts["batch"] = _scored(ctx, "pending loans", result, settings, len(parts.rejected))


def _patients(ctx: "Context", trained: "Trained", cfg: "StackConfig", when: datetime) -> None:
    """Write the diabetes patients (a `patient_id` column, then the model's ten features) as a CSV table and
    give it to the runner whole, as `amlops batch run --endpoint diabetes --input patients.csv` does: the job cuts
    it into parts and scores them with the diabetes endpoint's batch settings (its id columns, its output path)."""
    from amlops.multimodel.diabetes import patients

    table = state_dir() / "data" / "diabetes_patients.csv"
    table.parent.mkdir(parents=True, exist_ok=True)
    frame = patients(PATIENTS)
    frame.to_csv(table, index=False)
    settings = from_config(cfg.batch)
    ctx.console.print(
        f"batch: {trained.key}: {len(frame):,} patients of scikit-learn's diabetes data written to {table}; "
        f"scored with {trained.ref} by {cfg.batch.endpoint_name}'s settings: id columns "
        f"{', '.join(settings.id_columns)}, {settings.mode} mode, {settings.output_action} to {settings.output_file_name}",
        highlight=False, markup=False, soft_wrap=True,
    )
    result = _run(ctx, trained, cfg, when, table, settings, ctx.registry.download(trained.name, trained.version))
    ctx.facts["batch_diabetes"] = {**_scored(ctx, "diabetes patients", result, settings), "input": table,
                                   "id_columns": settings.id_columns}


def _scored(ctx: "Context", what: str, result: "JobResult", settings: "BatchSettings", set_aside: int = 0) -> dict:
    """Print one job's outcome in a line (`set_aside`: rows split off before the job, on top of those the job
    itself set aside when it cut a table) and return it as the stage's facts."""
    c = result.counts
    rejected = set_aside + c.rows_rejected
    ctx.console.print(
        f"batch: scored {c.rows_scored:,} {what} from {_n(c.items_succeeded, 'part file')} at "
        f"{result.lines_per_second:,.0f} rows per second ({_n(settings.workers, 'worker')}, mini-batches of "
        f"{settings.mini_batch_size} file(s)); rows in {c.rows_in + rejected:,}, scored {c.rows_scored:,}, "
        f"rejected {rejected:,}; {c.items_failed} files failed; output {result.output_file}",
        highlight=False, markup=False, soft_wrap=True,
    )
    return {
        "rows": c.rows_scored, "rows_in": c.rows_in + rejected, "rejected": rejected,
        "files": c.items_succeeded, "failed": c.items_failed,
        "rows_per_second": result.lines_per_second, "output": result.output_file,
    }


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _run(ctx: "Context", trained: "Trained", cfg: "StackConfig", when: datetime, source: Path, settings: "BatchSettings",
         model_dir: Path) -> "JobResult":
    """One model's job over `source` (part files, or a table the job cuts), written where its endpoint's output path
    says and reported under `.amlops/batch/<stack>/<model key>/jobs/`; print its summary lines and any loud
    not-scored line; raise when it failed."""
    spec = JobSpec(
        input=source,
        output_dir=output_location(cfg.batch, when),
        reports_dir=job_folder(ctx.stack, when, trained.key),
        settings=settings,
        model_dir=model_dir,
        model_label=trained.ref,
        overwrite=True,
    )
    result = run_job(spec, console=ctx.console)
    for line in result.lines():
        ctx.console.print(line, highlight=False, soft_wrap=True, markup=False)
    loud = result.not_scored()
    if loud:
        ctx.console.print(f"warning: {loud}", highlight=False, soft_wrap=True, markup=False)
    result.raise_for_status()
    return result


def _schedule_preview(ctx: "Context", when: datetime) -> None:
    """What the stack's batch schedule (or, when it has none, prod's) would run next: `amlops batch schedule`."""
    from amlops.batching.schedule import planned_runs
    from amlops.stackfile import load_stack

    stack, cfg = (ctx.stack, ctx.cfg) if ctx.cfg.batch.schedule is not None else ("prod", load_stack("prod"))
    if cfg.batch.schedule is None:
        ctx.console.print("batch: no stack declares a schedule", highlight=False)
        return
    runs = planned_runs(cfg.batch, when, 3)
    ctx.console.print(f"batch: {stack}'s schedule ({cfg.batch.schedule.time_zone}) runs next at "
                      + ", ".join(r.when.strftime("%Y-%m-%d %H:%M") for r in runs)
                      + f"; each reads {runs[0].reads} and writes {runs[0].writes}", highlight=False, markup=False)
