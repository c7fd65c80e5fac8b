"""The quickstart's batch stage: score the 512,000 pending loans with the stack's batch settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amlops.batching.job import JobSpec, run_job
from amlops.batching.settings import from_config
from amlops.paths import state_dir

if TYPE_CHECKING:
    from amlops.quickstart import Context


def quickstart_stage(ctx: "Context") -> None:
    """Run batch/tabular_batch.py over the pending loans CSV with `ctx.stack`'s batch settings and the
    model version the quickstart just registered (or kept); print rows per second."""
    assert ctx.data is not None, "the data stage runs first"
    settings = from_config(ctx.cfg.batch, "tabular", None if ctx.cfg.batch.mode == "tabular" else "1MB")
    spec = JobSpec(
        input=ctx.data.pending_csv.path,
        output_dir=state_dir() / "batch" / ctx.stack / "quickstart",
        settings=settings,
        model_dir=ctx.registry.download(ctx.model_name, ctx.model_version),
        model_label=f"{ctx.model_name}:{ctx.model_version}",
        overwrite=True,
    )
    result = run_job(spec, console=ctx.console)
    for line in result.lines():
        ctx.console.print(line, highlight=False, soft_wrap=True)
    result.raise_for_status()
    c = result.counts
    ctx.console.print(
        f"batch: scored [bold]{c.items_succeeded:,}[/bold] pending loans at [bold]{result.rows_per_second:,.0f} rows per second[/bold] "
        f"({settings.workers} workers, {c.mini_batches_created} mini-batches of {ctx.cfg.batch.mini_batch_size}); "
        f"{c.items_failed:,} failed",
        highlight=False,
    )
    ctx.facts["batch"] = {"rows": c.items_succeeded, "failed": c.items_failed, "rows_per_second": result.rows_per_second, "output": result.output_file}
