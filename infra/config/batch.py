"""`amlops:batch`: the batch endpoint, its model deployment and where its results land."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from infra.config.base import ENV_VAR, ConfigModel, check_endpoint_name, check_endpoint_base
from infra.config.schedule import BatchScheduleConfig

ID_COLUMNS_ENV = "AMLOPS_ID_COLUMNS"
"""The batch deployment's environment variable that tells both batch scripts which input columns to carry."""


class RetrySettings(ConfigModel):
    """Azure's retry_settings for a batch deployment."""

    max_retries: int = Field(3, ge=0, le=100)
    """Tries after the first for a failed or timed-out mini-batch."""
    timeout: int = Field(30, ge=1, le=86400)
    """Seconds one run() call may take before it is stopped and retried."""


OUTPUT_PLACEHOLDERS: dict[str, str] = {
    "date": "the run's date, YYYY-MM-DD",
    "year": "the run's year, YYYY",
    "month": "the run's month, MM",
    "day": "the run's day of the month, DD",
    "time": "the run's time of day, HHMMSS",
    "job": "the job's name (Azure fills in ${{name}}, its run-time expression for output paths)",
}
"""The placeholders a batch output path may hold; any other is refused."""
RUN_TIME_PLACEHOLDERS = ("date", "year", "month", "day", "time")
"""Placeholders taken from the run's time: amlops renders them; a schedule's fixed invocation cannot."""
AZURE_JOB_NAME = "${{name}}"
"""Azure ML's run-time expression for the job's name in a scheduled pipeline job's output path
(https://learn.microsoft.com/azure/machine-learning/how-to-schedule-pipeline-job#use-supported-expressions-in-schedules)."""
FILE_SHARE_DATASTORES = ("workspacefilestore", "workspaceworkingdirectory")
"""The workspace's Azure Files datastores: batch endpoints write outputs to Blob Storage datastores only
(https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs)."""
_DATASTORE = re.compile(r"^[A-Za-z0-9_]{1,255}$")


def output_placeholders(template: str) -> list[str]:
    """The placeholder names in an output path template, in order; ValueError for a malformed one."""
    import string

    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"is not a path template ({exc}; write a literal brace as {{{{ or }}}}), got {template!r}") from None
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in OUTPUT_PLACEHOLDERS:
            known = ", ".join(f"{{{k}}}" for k in OUTPUT_PLACEHOLDERS)
            raise ValueError(f"has an unknown placeholder {{{name}}} (known: {known}), got {template!r}")
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} takes no format or conversion, got {template!r}")
        names.append(name)
    return names


class BatchOutputConfig(ConfigModel):
    """Where a batch job's results land: a folder of a Blob Storage datastore, one per run."""

    datastore: str = "workspaceblobstore"
    """The datastore name (default the workspace's blob datastore); batch endpoints write to Blob Storage only."""
    path: str = "inferences/loans/{date}/"
    """A folder path template in the datastore, ending with '/'; placeholders: OUTPUT_PLACEHOLDERS."""

    @field_validator("datastore")
    @classmethod
    def _datastore(cls, v: str) -> str:
        if not _DATASTORE.match(v):
            raise ValueError(f"must be a datastore name (letters, digits, underscores), got {v!r}")
        if v in FILE_SHARE_DATASTORES:
            raise ValueError(
                f"is an Azure Files datastore; batch endpoints write outputs to Blob Storage datastores only "
                f"(use workspaceblobstore), got {v!r}"
            )
        return v

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        output_placeholders(v)
        if v.startswith("/") or "\\" in v or "//" in v or ".." in v.split("/") or not v.endswith("/"):
            raise ValueError(f"must be a relative folder path ending with '/', without '..', got {v!r}")
        return v

    def render(self, when: datetime, job: str | None = None) -> str:
        """The datastore folder a run at `when` writes to; `job` fills {job} (default: the run's time)."""
        values = {
            "date": when.strftime("%Y-%m-%d"),
            "year": when.strftime("%Y"),
            "month": when.strftime("%m"),
            "day": when.strftime("%d"),
            "time": when.strftime("%H%M%S"),
            "job": job if job is not None else when.strftime("%Y%m%d-%H%M%S"),
        }
        return self.path.format(**values)

    def scheduled_path(self) -> str:
        """The folder a scheduled job's output names: {job} becomes Azure's ${{name}}; run-time placeholders are refused."""
        timed = [p for p in output_placeholders(self.path) if p in RUN_TIME_PLACEHOLDERS]
        if timed:
            raise ValueError(f"has {{{timed[0]}}}, which a scheduled job's output path cannot fill in")
        return self.path.format(job=AZURE_JOB_NAME)

    def uri(self, folder: str) -> str:
        """The azureml:// URI of a folder of this datastore."""
        return f"azureml://datastores/{self.datastore}/paths/{folder}"


class BatchConfig(ConfigModel):
    """The batch endpoint and its deployment: an Azure ML batch *model* deployment in both modes.

    Azure calls the entry script's run(mini_batch) with a list of file paths and counts
    miniBatchSize, errorThreshold and failed items in files
    (https://learn.microsoft.com/azure/machine-learning/how-to-batch-scoring-script,
    https://learn.microsoft.com/azure/machine-learning/reference-yaml-deployment-batch).
    Every key here is a field of that deployment; parallel-job settings are refused.
    """

    endpoint_name: str
    """A readable base name; the declared endpoint adds the stack suffix (3-32 characters in all)."""
    deployment_name: str = "loans-batch"
    mode: Literal["tabular", "files"] = "tabular"
    """tabular: tabular_batch.py returns every row's prediction (append_row);
    files: file_batch.py writes one output file per input file (custom outputs)."""
    mini_batch_size: int = Field(10, ge=1)
    """Files per mini-batch (Azure's miniBatchSize for model deployments; default 10)."""
    max_concurrency_per_instance: int = Field(2, ge=1, le=64)
    """Worker processes per node, each calling init() once."""
    instance_count: int = Field(1, ge=1, le=100)
    """Nodes of the compute cluster the job uses."""
    error_threshold: int = Field(-1, ge=-1)
    """Failed files tolerated before the job fails; -1 ignores all failures."""
    mini_batch_error_threshold: int | None = None
    """Refused: a parallel-job setting that batch model deployments do not have."""
    retry_settings: RetrySettings = RetrySettings()
    output_action: Literal["append_row", "summary_only"] = "append_row"
    """append_row: what run() returns goes to outputFileName; summary_only: the script writes its own outputs."""
    output_file_name: str = "predictions.csv"
    logging_level: Literal["DEBUG", "INFO", "WARNING"] = "INFO"
    """Azure's batch logging levels (BatchLoggingLevel: Debug, Info, Warning)."""
    environment_variables: dict[str, str] = {}
    """Set in the deployment's environment (and locally in every worker)."""
    id_columns: list[str] = []
    """Input columns carried into every output row beside the prediction (default none: whole rows)."""
    output: BatchOutputConfig = BatchOutputConfig()
    """Where results land (default workspaceblobstore, inferences/loans/{date}/), in Azure and under the state folder."""
    schedule: BatchScheduleConfig | None = None
    """Score with the deployment's script and settings on a cron or recurrence trigger (default none; infra/schedule.py)."""

    @field_validator("endpoint_name")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        return check_endpoint_base(v)

    @field_validator("deployment_name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_endpoint_name(v)

    @field_validator("mini_batch_size", mode="before")
    @classmethod
    def _count(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip().isdigit():
            raise ValueError(
                f"must be a number of files, got {v!r}: a batch model deployment hands run() lists of files and "
                "counts miniBatchSize in files; split a large table into part files with `amlops batch split --part-size 1MB`"
            )
        return v

    @field_validator("output_file_name")
    @classmethod
    def _file_name(cls, v: str) -> str:
        if not v or "/" in v or "\\" in v or v in {".", ".."}:
            raise ValueError(f"must be a plain file name without folders, got {v!r}")
        return v

    @field_validator("environment_variables")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not ENV_VAR.match(key):
                raise ValueError(f"{key!r} is not an environment variable name (letters, digits, underscores)")
            if key.startswith("AZUREML_") or key == ID_COLUMNS_ENV:
                raise ValueError(f"{key!r} is set by Azure or by amlops; choose another name")
        return v

    @field_validator("id_columns")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        blank = [i for i, c in enumerate(v) if not c.strip()]
        if blank:
            raise ValueError(f"item {blank[0]} is empty; list the input columns to carry into the output")
        dupes = sorted({c for c in v if v.count(c) > 1})
        if dupes:
            raise ValueError(f"lists {', '.join(dupes)} more than once")
        return v

    def deployment_environment(self) -> dict[str, str]:
        """The deployment's environment variables: the stack's, plus the id columns the scripts read."""
        env = dict(self.environment_variables)
        if self.id_columns:
            env[ID_COLUMNS_ENV] = ",".join(self.id_columns)
        return env
