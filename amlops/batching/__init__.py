"""The local batch runner: Azure ML's parallel-job semantics for the batch/ entry scripts, on this machine.

Public surface: `BatchSettings` / `from_config` (the stack's settings), `JobSpec`,
`run_job` (returns a `JobResult`), `resolve_model`, and the errors `BatchJobFailed`,
`EntryScriptFailed` and `BatchInterrupted`. `amlops.batching.quickstart.quickstart_stage`
is the quickstart's batch stage.
"""

from amlops.batching.errors import BatchInterrupted, BatchJobFailed, EntryScriptFailed
from amlops.batching.job import JobSpec, run_job
from amlops.batching.model import resolve_model
from amlops.batching.reports import JobResult
from amlops.batching.settings import BatchSettings, from_config

__all__ = [
    "BatchInterrupted",
    "BatchJobFailed",
    "BatchSettings",
    "EntryScriptFailed",
    "JobResult",
    "JobSpec",
    "from_config",
    "resolve_model",
    "run_job",
]
