"""The quickstart's batch stage: split the 512,000 pending loans into part files and score them as Azure would."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from amlops.batching.artifact import model_features
from amlops.batching.job import JobSpec, run_job
from amlops.batching.layout import job_folder, output_location
from amlops.batching.settings import from_config
from amlops.batching.split import split
from amlops.paths import state_dir

if TYPE_CHECKING:
    from amlops.quickstart_context import Context

PART_SIZE = 1024 * 1024
"""1MB part files: the unit a batch model deployment hands to run()."""


def quickstart_stage(ctx: "Context") -> None:
    """`amlops batch split` the pending loans CSV into 1MB parts, then run batch/tabular_batch.py over them with
    `ctx.stack`'s batch settings and the model version the quickstart just registered (or kept)."""
    assert ctx.data is not None, "the data stage runs first"
    model_dir = ctx.registry.download(ctx.model_name, ctx.model_version)
    parts = split(ctx.data.pending_csv.path, state_dir() / "data" / "pending_loans_parts", PART_SIZE, overwrite=True,
                  features=model_features(model_dir))
    ctx.console.print(f"batch: split {parts.rows_in:,} pending loans into {len(parts.parts)} part files of about 1MB, "
                      f"each row checked against the model's signature: {parts.rows:,} scorable, "
                      f"{len(parts.rejected):,} set aside", highlight=False)
    cfg = ctx.cfg.batch
    settings = from_config(cfg, "tabular")
    when = datetime.now(timezone.utc)
    spec = JobSpec(
        input=parts.folder,
        output_dir=output_location(cfg, when),
        reports_dir=job_folder(ctx.stack, when),
        settings=settings,
        model_dir=model_dir,
        model_label=f"{ctx.model_name}:{ctx.model_version}",
        overwrite=True,
    )
    result = run_job(spec, console=ctx.console)
    for line in result.lines():
        ctx.console.print(line, highlight=False, soft_wrap=True, markup=False)
    result.raise_for_status()
    c = result.counts
    ctx.console.print(
        f"batch: scored {c.rows_scored:,} pending loans from {c.items_succeeded} part files at "
        f"{result.lines_per_second:,.0f} rows per second ({settings.workers} workers, mini-batches of "
        f"{settings.mini_batch_size} file(s)); rows in {c.rows_in + len(parts.rejected):,}, scored {c.rows_scored:,}, "
        f"rejected {len(parts.rejected):,}; {c.items_failed} files failed; output {result.output_file}",
        highlight=False, markup=False,
    )
    _schedule_preview(ctx, when)
    ctx.facts["batch"] = {
        "rows": c.rows_scored, "rows_in": c.rows_in + len(parts.rejected), "rejected": len(parts.rejected),
        "files": c.items_succeeded, "failed": c.items_failed,
        "rows_per_second": result.lines_per_second, "output": result.output_file,
    }


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
