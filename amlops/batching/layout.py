"""Where a local batch job writes: the output where Azure would put it, mirrored under the state folder, and a job folder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from amlops.paths import state_dir
from infra.config import BatchConfig


def output_location(cfg: BatchConfig, when: datetime) -> Path:
    """`.amlops/datastores/<datastore>/<the stack's output path at `when`>`: the job output Azure writes to that
    datastore path (amlops:batch.output), on this machine."""
    return state_dir() / "datastores" / cfg.output.datastore / cfg.output.render(when)


def job_folder(stack: str, when: datetime, model: str | None = None) -> Path:
    """`.amlops/batch/<stack>/jobs/<UTC time>/`: one job's reports and worker logs; for one model of a stack
    with `amlops:models`, `.amlops/batch/<stack>/<model key>/jobs/<UTC time>/`, so two models' jobs never mix."""
    return state_dir() / "batch" / stack / (model or "") / "jobs" / when.strftime("%Y%m%d-%H%M%S-%f")
