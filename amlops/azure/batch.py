"""Batch jobs on a deployed batch endpoint: submit an input, read a job's status, download its scores.

`batch_endpoints.invoke` starts a job on the endpoint's deployment; a local file or folder is first
uploaded to the workspace's default datastore by azure-ai-ml, a URI (azureml://, https://) is passed as
is. A batch model deployment reads a `uri_folder` (every file) or a `uri_file`. The job's scores are
its output named `score` (`jobs.download(..., output_name="score")`).
  https://learn.microsoft.com/en-us/azure/machine-learning/how-to-use-batch-model-deployments#run-batch-endpoints-and-access-results
  https://learn.microsoft.com/en-us/azure/machine-learning/how-to-access-data-batch-endpoints-jobs
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amlops.azure.calls import call
from amlops.azure.errors import RemoteError
from amlops.azure.target import Target
from amlops.errors import UsageError

OUTPUT = "score"
"""The batch job's output that holds the predictions (Azure's name for it)."""
DONE = {"Completed"}
FAILED = {"Failed", "Canceled", "NotResponding"}
URI_SCHEMES = ("azureml:", "https://", "http://", "abfss://", "wasbs://")


@dataclass(frozen=True)
class JobInfo:
    """A batch job as the CLI shows it."""

    name: str
    status: str | None
    studio_url: str | None


def batch_input(path_or_uri: str):
    """azure-ai-ml's Input for a local file/folder (absolute, so azure-ai-ml uploads it) or a URI (folder if it ends in /)."""
    from azure.ai.ml import Input
    from azure.ai.ml.constants import AssetTypes

    if path_or_uri.startswith(URI_SCHEMES):
        kind = AssetTypes.URI_FOLDER if path_or_uri.endswith("/") else AssetTypes.URI_FILE
        return Input(type=kind, path=path_or_uri)
    local = Path(path_or_uri).expanduser().resolve()
    if not local.exists():
        raise UsageError(f"--input {path_or_uri}: no such file or folder (or pass a URI: {', '.join(URI_SCHEMES)}…)")
    if local.is_dir() and not any(p.is_file() for p in local.rglob("*")):
        raise UsageError(f"--input {path_or_uri}: the folder holds no files to score")
    return Input(type=AssetTypes.URI_FOLDER if local.is_dir() else AssetTypes.URI_FILE, path=str(local))


def job_info(client: Any, name: str) -> JobInfo:
    job = call(f"batch job {name}", lambda: client.jobs.get(name))
    return JobInfo(job.name, job.status, job.studio_url)


def submit(client: Any, target: Target, path_or_uri: str, deployment: str | None = None) -> JobInfo:
    """Start a batch job on the target's batch endpoint (its default or the named deployment)."""
    spec = batch_input(path_or_uri)
    deployment = deployment or target.batch_deployment
    job = call(
        f"batch endpoint {target.batch_endpoint} (deployment {deployment})",
        lambda: client.batch_endpoints.invoke(endpoint_name=target.batch_endpoint, deployment_name=deployment, input=spec),
        f"is stack {target.stack} deployed to workspace {target.workspace}?",
    )
    return job_info(client, job.name)


def download(client: Any, name: str, dest: Path) -> list[Path]:
    """Download a completed job's `score` output under `dest`; the files written, sorted."""
    info = job_info(client, name)
    if info.status not in DONE:
        if info.status in FAILED:
            raise RemoteError(f"batch job {name} is {info.status}: it has no scores to download; see {info.studio_url}")
        raise RemoteError(f"batch job {name} is {info.status or 'not started'}; download its scores once it is Completed (`amlops batch status {name}`)")
    dest.mkdir(parents=True, exist_ok=True)
    before = {p for p in dest.rglob("*") if p.is_file()}
    call(f"outputs of batch job {name}", lambda: client.jobs.download(name, download_path=str(dest), output_name=OUTPUT))
    return sorted(p for p in dest.rglob("*") if p.is_file() and p not in before)
