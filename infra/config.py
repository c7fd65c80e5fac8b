"""The typed schema of a stack file: everything one environment sets, validated in one place.

The Pulumi program reads it through `pulumi.Config("amlops")`; the CLI reads the same
keys straight from `stacks/Pulumi.<stack>.yaml`. Both call `parse_config`, so a bad
value fails the same way in `pulumi up` and in `amlops ... --stack S`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from infra.skus import COMPUTE_VM_SIZES, ONLINE_INSTANCE_TYPES
from infra.naming import endpoint_name

PROJECT = "amlops"
"""The Pulumi project name; stack-file keys are `amlops:<key>`."""

# Azure's naming rules, per resource type, for the names a stack file sets directly.
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")  # 3-32, unique per region
_DEPLOYMENT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")  # 3-32
_COMPUTE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,14}[a-zA-Z0-9]$")  # 2-16
_MODEL_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$")
_PREFIX = re.compile(r"^[a-z][a-z0-9]{1,7}$")  # lands inside storage/key vault/ACR names
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SIZE = re.compile(r"^(\d+)\s*(B|KB|MB|GB)$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
_FQDN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_RULE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$")
_NOT_PUBLIC = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8"))
ID_COLUMNS_ENV = "AMLOPS_ID_COLUMNS"
"""The batch deployment's environment variable that tells both batch scripts which input columns to carry."""


def parse_size(text: str) -> int:
    """`100KB` → 102400 bytes. Raises ValueError naming the accepted forms."""
    m = _SIZE.match(text.strip())
    if not m:
        raise ValueError(f"must be a size such as 100KB or 1MB (units B, KB, MB, GB), got {text!r}")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def _name_check(pattern: re.Pattern[str], rule: str):
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{rule}, got {value!r}")
        return value

    return check


_check_compute_name = _name_check(
    _COMPUTE_NAME, "must be 2-16 letters, digits or hyphens, starting with a letter"
)
_check_endpoint_name = _name_check(
    _ENDPOINT_NAME,
    "must be 3-32 letters, digits or hyphens, starting with a letter and not ending with a hyphen",
)


def check_endpoint_base(value: str) -> str:
    """A readable endpoint base name that infra.naming.endpoint_name can suffix within Azure's 32 characters."""
    endpoint_name(value, "0" * 6)  # raises ValueError with the rule
    return value


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class WorkspaceConfig(_Model):
    """The ML workspace and its dependencies."""

    public_network_access: Literal["Enabled", "Disabled"] = "Enabled"
    """Default Enabled; prod sets Disabled (reach it through private endpoints)."""
    sku: Literal["Basic"] = "Basic"
    """The ML workspace SKU; Azure ML v2 offers Basic only."""
    purge_protection: bool = False
    """Key vault purge protection; default off (dev/staging), on in prod."""
    hbi_workspace: bool = False
    """High business impact: Microsoft-managed encryption with less telemetry."""
    storage_sku: Literal["Standard_LRS", "Standard_ZRS", "Standard_GRS", "Standard_RAGRS"] = (
        "Standard_LRS"
    )
    """The storage account's replication; default Standard_LRS."""
    registry_sku: Literal["Basic", "Standard", "Premium"] = "Basic"
    """The container registry SKU; Premium is needed for private endpoints."""
    log_retention_days: int = Field(30, ge=30, le=730)
    """Log Analytics retention in days (30-730)."""
    protect: bool | None = None
    """Pulumi `protect` on the stateful resources (workspace, storage, key vault, registry,
    logs); default: the same as purgeProtection, so on in prod."""

    deployer_principal_type: Literal["ServicePrincipal", "User", "Group"] = "ServicePrincipal"
    """What kind of principal runs `pulumi up` (its data-plane role assignment must say so; Azure refuses a
    mismatch): ServicePrincipal for CI (default; a workload identity is one), User for a person."""

    def protect_state(self) -> bool:
        """Whether `pulumi destroy` must refuse to delete the stateful resources."""
        return self.purge_protection if self.protect is None else self.protect


class KubernetesAttachConfig(_Model):
    """An existing AKS cluster attached as a Kubernetes compute (online target `kubernetes`)."""

    name: str = "aks-online"
    """The compute name inside the workspace (2-16 characters)."""
    resource_id: str
    """The AKS cluster's ARM id; it must run the Azure ML extension."""
    namespace: str = "azureml"
    """The namespace the Azure ML extension serves from."""
    extension_name: str = "azureml"
    """The name of the Azure ML extension installed on the cluster."""
    instance_type: str = "defaultinstancetype"
    """The instance type defined by the extension's InstanceType CRD."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check_compute_name(v)

    @field_validator("resource_id")
    @classmethod
    def _aks_id(cls, value: str) -> str:
        if "/providers/Microsoft.ContainerService/managedClusters/" not in value:
            raise ValueError(
                "must be an AKS cluster id (/subscriptions/…/providers/"
                f"Microsoft.ContainerService/managedClusters/NAME), got {value!r}"
            )
        return value


class ComputeConfig(_Model):
    """The AmlCompute cluster batch jobs run on."""

    name: str = "cpu-sm-cluster"
    """The cluster name (2-16 letters, digits, hyphens); the book's `cpu-sm-cluster`."""
    vm_size: str = "Standard_DS3_v2"
    """One of the known VM sizes (infra/skus.py)."""
    priority: Literal["LowPriority", "Dedicated"] = "LowPriority"
    """LowPriority outside prod: cheaper, can be pre-empted."""
    min_nodes: int = Field(0, ge=0, le=100)
    """Default 0 so an idle cluster costs nothing."""
    max_nodes: int = Field(4, ge=1, le=100)
    """Must be ≥ minNodes."""
    idle_seconds_before_scale_down: int = Field(120, ge=60, le=86400)
    """Seconds a node idles before it is released (60-86400)."""
    kubernetes: KubernetesAttachConfig | None = None
    """An AKS cluster to attach; required when online.target is kubernetes."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check_compute_name(v)

    @field_validator("vm_size")
    @classmethod
    def _vm_size(cls, v: str) -> str:
        if v not in COMPUTE_VM_SIZES:
            raise ValueError(f"must be one of {', '.join(COMPUTE_VM_SIZES)}, got {v!r}")
        return v


class ModelPin(_Model):
    """Which registered model version this environment serves."""

    name: str = "chapter12-loans"
    """The registered model name (the book's `chapter12-loans`)."""
    version: int = Field(ge=1)
    """The version every deployment defaults to; a deployment may pin its own."""
    azureml_registry: str | None = None
    """Reference the model in this Azure ML registry instead of uploading it."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _name_check(_MODEL_NAME, "must be letters, digits, '-', '_' or '.', up to 255 characters")(v)


class RequestSettings(_Model):
    """How a deployment takes requests (Azure's request_settings, plus the local body limit)."""

    request_timeout_ms: int = Field(5000, ge=100, le=180000)
    """Scoring timeout per request (Azure default 5000 ms; at most 180000)."""
    max_concurrent_requests_per_instance: int = Field(1, ge=1, le=1000)
    """Requests one instance takes at once before queueing (Azure default 1)."""
    max_queue_wait_ms: int = Field(500, ge=0, le=60000)
    """How long a request may wait in the queue (Azure default 500 ms)."""
    max_body_bytes: int = Field(1_048_576, ge=1024, le=104_857_600)
    """Largest request body `amlops serve` accepts (413 above); Azure's front end has its own."""
    max_rows: int = Field(1000, ge=1, le=1_000_000)
    """Most rows one request may score; more is a 400 (passed to score.py as AMLOPS_MAX_ROWS)."""


class ProbeSettings(_Model):
    """A liveness or readiness probe (Azure's probe settings, in seconds)."""

    initial_delay: int = Field(10, ge=0, le=3600)
    period: int = Field(10, ge=1, le=3600)
    timeout: int = Field(2, ge=1, le=3600)
    failure_threshold: int = Field(30, ge=1, le=1000)
    success_threshold: int = Field(1, ge=1, le=1000)


class DeploymentConfig(_Model):
    """One online deployment (blue, green, …) behind the endpoint."""

    model_version: int | None = Field(None, ge=1)
    """The model version it serves; default: model.version."""
    instance_type: str = "Standard_DS2_v2"
    """A managed online instance type (infra/skus.py); ignored on kubernetes."""
    instance_count: int = Field(1, ge=1, le=100)
    """Instances (`sku.capacity` in Azure); autoscale moves it between min and max."""
    worker_count: int = Field(1, ge=1, le=32)
    """Server worker processes per instance (Azure's WORKER_COUNT)."""
    request_settings: RequestSettings = RequestSettings()
    liveness_probe: ProbeSettings = ProbeSettings()
    readiness_probe: ProbeSettings = ProbeSettings()
    app_insights_enabled: bool = True
    """Send the deployment's logs and requests to Application Insights."""
    environment_variables: dict[str, str] = {}
    """Extra environment variables for the scoring container."""

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, v: str) -> str:
        if v not in ONLINE_INSTANCE_TYPES:
            raise ValueError(f"must be one of {', '.join(ONLINE_INSTANCE_TYPES)}, got {v!r}")
        return v

    @field_validator("environment_variables")
    @classmethod
    def _env_names(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if not _ENV_VAR.match(k)]
        if bad:
            raise ValueError(f"environment variable names must match [A-Za-z_][A-Za-z0-9_]*, got {bad}")
        return v


class AutoscaleConfig(_Model):
    """Autoscale applied to every online deployment (monitor.AutoscaleSetting)."""

    enabled: bool = False
    min_instances: int = Field(1, ge=1, le=100)
    """Never fewer instances than this."""
    max_instances: int = Field(3, ge=1, le=100)
    """Never more instances than this; must be ≥ minInstances."""
    default_instances: int = Field(1, ge=1, le=100)
    """Instances when metrics are missing; between min and max."""
    cpu_scale_out_percent: int = Field(70, ge=1, le=100)
    """Add an instance when average CPU exceeds this over 5 minutes."""
    cpu_scale_in_percent: int = Field(25, ge=0, le=99)
    """Remove an instance when average CPU falls below this; must be < scale-out."""
    latency_scale_out_ms: int = Field(200, ge=1, le=180000)
    """Add an instance when average request latency exceeds this."""
    cooldown_minutes: int = Field(5, ge=1, le=60)


class OnlineConfig(_Model):
    """The online endpoint: its deployments, traffic and autoscale."""

    endpoint_name: str
    """The readable base name (2-25 letters, digits, hyphens); Azure's name appends the stack
    suffix (infra.naming.endpoint_name), since endpoint names are unique per region."""
    target: Literal["managed", "kubernetes"] = "managed"
    """managed (Azure runs the VMs) or kubernetes (an attached AKS cluster)."""
    auth_mode: Literal["key", "aml_token", "aad_token"] = "key"
    """key (the book's ACI), aml_token (the book's AKS token auth) or aad_token."""
    deployments: dict[str, DeploymentConfig] = {}
    """By deployment name (blue, green, …)."""
    traffic: dict[str, int] = {}
    """Percent of live traffic per deployment; sums to 0 or 100."""
    mirror_traffic: dict[str, int] = {}
    """Percent copied to a deployment without live traffic; at most 50."""
    autoscale: AutoscaleConfig = AutoscaleConfig()

    @field_validator("endpoint_name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_endpoint_base(v)


class RetrySettings(_Model):
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
"""Azure ML's run-time expression for the job's name in a scheduled job's output path
(https://learn.microsoft.com/azure/machine-learning/how-to-schedule-pipeline-job#expressions-supported-in-schedule)."""
FILE_SHARE_DATASTORES = ("workspacefilestore", "workspaceworkingdirectory")
"""The workspace's Azure Files datastores: batch endpoints write outputs to Blob Storage datastores only
(https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs)."""
_DATASTORE = re.compile(r"^[A-Za-z0-9_]{1,255}$")
_DATASTORE_INPUT = re.compile(r"^azureml://datastores/[A-Za-z0-9_]+/paths/\S+$")
_DATA_ASSET_INPUT = re.compile(r"^azureml:([A-Za-z0-9][A-Za-z0-9_.-]{0,254}):([1-9][0-9]*)$")
# Azure's schedules use NCrontab: five fields (minute hour day month weekday), numbers, *, ranges, lists,
# steps and month/day names; croniter also accepts seconds, L, W, # and ?, which NCrontab does not.
_CRON_FIELDS = (
    ("minute", re.compile(r"^[0-9*,/-]+$")),
    ("hour", re.compile(r"^[0-9*,/-]+$")),
    ("day of month", re.compile(r"^[0-9*,/-]+$")),
    ("month", re.compile(r"^([0-9*,/-]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)+$", re.IGNORECASE)),
    ("day of week", re.compile(r"^([0-6*,/-]|SUN|MON|TUE|WED|THU|FRI|SAT)+$", re.IGNORECASE)),
)


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


def check_cron(expression: str) -> str:
    """An NCrontab expression Azure's schedules accept: five fields, validated by croniter too."""
    from croniter import croniter

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"must have five fields (minute hour day-of-month month day-of-week, e.g. '0 2 * * *'), got {expression!r}"
        )
    for (label, pattern), value in zip(_CRON_FIELDS, fields):
        if not pattern.match(value):
            raise ValueError(f"has an invalid {label} field {value!r} (NCrontab: numbers, *, -, /, commas, names), got {expression!r}")
    if not croniter.is_valid(expression):
        raise ValueError(f"is not a valid cron expression (a value is out of range), got {expression!r}")
    return expression


def windows_time_zone(iana: str) -> str:
    """The Windows name Azure's schedule triggers take for an IANA time zone (CLDR's mapping, via tzlocal)."""
    try:
        from tzlocal.windows_tz import tz_win
    except ImportError:  # say what is missing rather than fail with a trace
        raise ValueError(f"cannot be translated: the tzlocal package (CLDR's Windows zone names) is not installed, got {iana!r}") from None
    name = tz_win.get(iana)
    if name is None:
        raise ValueError(f"has no Windows time zone equivalent (Azure schedules take Windows names); choose another zone, got {iana!r}")
    return name


class BatchOutputConfig(_Model):
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
        """The folder a scheduled invocation names: {job} becomes Azure's ${{name}}; run-time placeholders are refused."""
        timed = [p for p in output_placeholders(self.path) if p in RUN_TIME_PLACEHOLDERS]
        if timed:
            raise ValueError(f"has {{{timed[0]}}}, which a scheduled invocation cannot fill in")
        return self.path.format(job=AZURE_JOB_NAME)

    def uri(self, folder: str) -> str:
        """The azureml:// URI of a folder of this datastore."""
        return f"azureml://datastores/{self.datastore}/paths/{folder}"


class RecurrenceConfig(_Model):
    """A recurrence trigger (Azure's RecurrenceTrigger): every `interval` frequency units, optionally at set times."""

    frequency: Literal["minute", "hour", "day", "week", "month"]
    interval: int = Field(1, ge=1, le=1000)
    """How many frequency units between runs (default 1)."""
    hours: list[int] = []
    """Hours of the day (0-23) to run at; day, week and month frequencies only; needs minutes."""
    minutes: list[int] = []
    """Minutes of the hour (0-59) to run at; needs hours."""
    week_days: list[Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]] = []
    """Days of the week to run on; week and month frequencies only."""

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: list[int]) -> list[int]:
        bad = [h for h in v if not 0 <= h <= 23]
        if bad:
            raise ValueError(f"hours must be 0-23, got {bad[0]}")
        return sorted(set(v))

    @field_validator("minutes")
    @classmethod
    def _minutes(cls, v: list[int]) -> list[int]:
        bad = [m for m in v if not 0 <= m <= 59]
        if bad:
            raise ValueError(f"minutes must be 0-59, got {bad[0]}")
        return sorted(set(v))

    def has_pattern(self) -> bool:
        return bool(self.hours or self.minutes or self.week_days)


class BatchScheduleConfig(_Model):
    """Score new data on a schedule: Azure invokes the batch endpoint (its default deployment) with this input.

    The trigger is Azure's (machinelearningservices.Schedule, a CronTrigger or RecurrenceTrigger,
    https://learn.microsoft.com/azure/machine-learning/reference-yaml-schedule); `amlops batch schedule
    --stack S` prints its next runs.
    """

    enabled: bool = True
    """Whether Azure runs it (default true); a disabled schedule is declared but never fires."""
    cron: str | None = None
    """An NCrontab expression, five fields (e.g. '0 2 * * *' = 02:00 daily); exclusive with recurrence."""
    recurrence: RecurrenceConfig | None = None
    """A recurrence (frequency, interval, hours, minutes, weekDays); exclusive with cron."""
    time_zone: str = "UTC"
    """An IANA time zone (e.g. Europe/Amsterdam) the trigger's times are in; Azure gets its Windows name."""
    start_time: str | None = None
    """First possible run, ISO 8601 local time without an offset (e.g. 2026-12-01T02:00:00); default: when declared."""
    input: str
    """What each run scores: azureml://datastores/<name>/paths/<folder>/ or a data asset azureml:<name>:<version>."""

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        return None if v is None else check_cron(v)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"is not a known IANA time zone (e.g. UTC, Europe/Amsterdam, America/New_York), got {v!r}") from None
        windows_time_zone(v)
        return v

    @field_validator("start_time")
    @classmethod
    def _start(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            parsed = datetime.fromisoformat(v)
        except ValueError:
            raise ValueError(f"must be an ISO 8601 local time such as 2026-12-01T02:00:00, got {v!r}") from None
        if parsed.tzinfo is not None:
            raise ValueError(f"must have no UTC offset (timeZone says which zone it is in), got {v!r}")
        return v

    @field_validator("input")
    @classmethod
    def _input(cls, v: str) -> str:
        if v.startswith("azureml:") and "@" in v:
            raise ValueError(f"must pin a data asset version (azureml:<name>:<version>): the schedule's invocation is fixed when declared, got {v!r}")
        if not (_DATASTORE_INPUT.match(v) or _DATA_ASSET_INPUT.match(v)):
            raise ValueError(
                "must be a datastore folder azureml://datastores/<name>/paths/<folder>/ or a data asset "
                f"azureml:<name>:<version>, got {v!r}"
            )
        return v

    @model_validator(mode="after")
    def _one_trigger(self) -> "BatchScheduleConfig":
        if self.cron is not None and self.recurrence is not None:
            raise ValueError("must set one of cron and recurrence, got both")
        if self.cron is None and self.recurrence is None:
            raise ValueError("must set cron or recurrence (when the endpoint is invoked), got neither")
        return self

    def zone(self):
        """The trigger's time zone as a tzinfo."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.time_zone)

    def input_type(self) -> str:
        """UriFolder for a folder (a path ending with '/', or a data asset), else UriFile."""
        return "UriFile" if _DATASTORE_INPUT.match(self.input) and not self.input.endswith("/") else "UriFolder"


class BatchConfig(_Model):
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
    """Invoke the endpoint on a cron or recurrence trigger (default none)."""

    @field_validator("endpoint_name")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        return check_endpoint_base(v)

    @field_validator("deployment_name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check_endpoint_name(v)

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
            if not _ENV_VAR.match(key):
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


class AlertsConfig(_Model):
    """Alert thresholds; alerts exist only where monitoring.alertsEnabled is true."""

    latency_ms: int = Field(500, ge=1)
    """Average request latency (ms) over 5 minutes that fires an alert."""
    failed_requests: int = Field(10, ge=1)
    """Failed requests (5xx) in 5 minutes that fire an alert."""
    rejected_loans: int = Field(100, ge=1)
    """The book's Kusto alert: more than this many rejected loans in 30 minutes."""


class MonitoringConfig(_Model):
    """Application Insights and alerts."""

    app_insights: bool = True
    """Workspace-based Application Insights for the workspace and endpoints."""
    alerts_enabled: bool = False
    """Declare the action group and alert rules (prod, staging)."""
    action_group_email: str | None = None
    """Who the alerts e-mail; required when alertsEnabled."""
    alerts: AlertsConfig = AlertsConfig()

    @field_validator("action_group_email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not _EMAIL.match(v):
            raise ValueError(f"must be an e-mail address, got {v!r}")
        return v


class PromotionConfig(_Model):
    """How `amlops promote` may change this stack (read by amlops only; no Azure resource has it)."""

    require_canary: bool = False
    """Default false; prod sets true: `promote --finish` needs the candidate to have served a live
    traffic share in an earlier committed (deployed) revision of this stack file, or --override-canary."""


class RegistryConfig(_Model):
    """Where models are registered (MLflow)."""

    tracking_uri: str | None = None
    """An MLflow tracking URI (an Azure ML workspace's is one); default: the local sqlite
    registry under .amlops/, or MLFLOW_TRACKING_URI when set."""


class OutboundRuleConfig(_Model):
    """A user-defined outbound rule of the workspace's managed network (Azure ML's FQDN rule)."""

    type: Literal["FQDN"] = "FQDN"
    """FQDN: the only user-defined rule a stack declares (private-endpoint rules to the workspace's
    own storage, key vault and registry are Azure's required rules, added by Azure)."""
    destination: str
    """A host name, optionally with a leading wildcard label (pypi.org, *.pythonhosted.org)."""

    @field_validator("destination")
    @classmethod
    def _host(cls, v: str) -> str:
        if not _FQDN.match(v):
            raise ValueError(f"must be a host name such as pypi.org or *.pythonhosted.org, got {v!r}")
        return v


class VirtualNetworkConfig(_Model):
    """The virtual network the private endpoints live in (access: private)."""

    address_space: str = "10.40.0.0/16"
    """The network's IPv4 range (CIDR)."""
    private_endpoint_subnet: str = "10.40.1.0/24"
    """The subnet of the workspace, storage, key vault and registry private endpoints; inside addressSpace."""
    runner_subnet: str | None = None
    """A subnet for the self-hosted runner that deploys the stack (it must reach the private endpoints); default none."""

    @field_validator("address_space", "private_endpoint_subnet", "runner_subnet")
    @classmethod
    def _cidr(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ipaddress.IPv4Network(v)
            except ValueError:
                raise ValueError(f"must be an IPv4 network in CIDR form such as 10.40.1.0/24, got {v!r}") from None
        return v


class NetworkConfig(_Model):
    """Who reaches the workspace and its storage, key vault and registry, and what the workspace reaches.

    Azure ML's network isolation: https://learn.microsoft.com/azure/machine-learning/how-to-managed-network
    (managed network, isolation modes, outbound rules) and
    https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link (private endpoints).
    """

    access: Literal["public", "ipRanges", "private"] = "public"
    """public (default): reachable from anywhere with Entra auth; ipRanges: storage, key vault and registry
    accept only allowedIpRanges (the workspace API itself has no IP rules in Azure's stable API);
    private: nothing is public, everything is reached through private endpoints in virtualNetwork."""
    allowed_ip_ranges: list[str] = []
    """Public IPv4 addresses or CIDR ranges (not /31) admitted with access ipRanges; required there, refused elsewhere."""
    isolation_mode: Literal["Disabled", "AllowInternetOutbound", "AllowOnlyApprovedOutbound"] = "Disabled"
    """The workspace managed network: Disabled (default), AllowInternetOutbound, or AllowOnlyApprovedOutbound
    (only Azure's required rules and outboundRules); needed by ipRanges and private so computes and
    deployments reach the locked-down storage, key vault and registry through managed private endpoints."""
    outbound_rules: dict[str, OutboundRuleConfig] = {}
    """User-defined FQDN rules by name (only with AllowOnlyApprovedOutbound)."""
    virtual_network: VirtualNetworkConfig | None = None
    """The network of the private endpoints; required with access private, refused elsewhere."""

    @field_validator("allowed_ip_ranges")
    @classmethod
    def _ranges(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                net = ipaddress.IPv4Network(item)
            except ValueError:
                raise ValueError(f"must list IPv4 addresses or CIDR ranges such as 203.0.113.0/24, got {item!r}") from None
            if any(net.overlaps(p) for p in _NOT_PUBLIC):
                raise ValueError(f"must list public ranges (storage IP rules refuse RFC 1918, loopback and link-local ones), got {item!r}")
            if net.prefixlen == 31:
                raise ValueError(f"cannot hold a /31 (storage IP rules refuse it; list the two addresses), got {item!r}")
        return v

    @field_validator("outbound_rules")
    @classmethod
    def _rule_names(cls, v: dict[str, OutboundRuleConfig]) -> dict[str, OutboundRuleConfig]:
        bad = [k for k in v if not _RULE_NAME.match(k)]
        if bad:
            raise ValueError(f"rule names must be 1-64 letters, digits, hyphens or underscores, starting with a letter, got {bad}")
        return v


class StackConfig(_Model):
    """Everything one environment (stack) sets."""

    location: str = "westeurope"
    """The Azure region of every resource."""
    prefix: str
    """2-8 lowercase letters or digits; starts every derived resource name."""
    tags: dict[str, str] = {}
    """Tags on every taggable resource."""
    workspace: WorkspaceConfig = WorkspaceConfig()
    compute: ComputeConfig = ComputeConfig()
    model: ModelPin
    online: OnlineConfig
    batch: BatchConfig
    monitoring: MonitoringConfig = MonitoringConfig()
    registry: RegistryConfig = RegistryConfig()
    promotion: PromotionConfig = PromotionConfig()
    network: NetworkConfig = NetworkConfig()

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        return _name_check(_PREFIX, "must be 2-8 lowercase letters or digits, starting with a letter")(v)

    def deployment_model_version(self, deployment: str) -> int:
        """The model version a deployment serves: its own pin, else the stack's."""
        return self.online.deployments[deployment].model_version or self.model.version


KEYS: tuple[str, ...] = tuple(StackConfig.model_fields)
"""The top-level config keys (`amlops:<key>`), in snake_case."""

TOP_LEVEL_ALIASES: dict[str, str] = {to_camel(k): k for k in KEYS}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stack's config, at a dotted key path."""

    path: tuple[str | int, ...]
    message: str

    def key(self) -> str:
        """The key as a user writes it: `amlops:online.traffic`."""
        parts = [str(p) for p in self.path]
        if not parts:
            return f"{PROJECT}:"
        return f"{PROJECT}:" + ".".join(parts)


class ConfigError(Exception):
    """A stack's config is invalid; carries every problem found."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(f"{self.source}: {p.key()}: {p.message}" for p in self.problems)


def _pydantic_problems(err: ValidationError) -> list[Problem]:
    problems = []
    for e in err.errors():
        loc = tuple(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            msg = "is required"
        elif e["type"] == "extra_forbidden":
            msg = "is not a known setting (check its spelling; keys are camelCase)"
        elif "got " not in msg and e["type"] not in {"model_type", "dict_type"}:
            msg = f"{msg}, got {e['input']!r}"
        problems.append(Problem(loc, msg))
    return problems


def _online_problems(cfg: Any) -> Iterator[Problem]:
    online = cfg.online
    deployments = set(online.deployments)
    for field, mapping in (("traffic", online.traffic), ("mirrorTraffic", online.mirror_traffic)):
        for name, pct in mapping.items():
            if name not in deployments:
                known = ", ".join(sorted(deployments)) or "none are declared"
                yield Problem(("online", field, name), f"names no deployment (deployments: {known})")
            if not 0 <= pct <= 100:
                yield Problem(("online", field, name), f"must be a percentage 0-100, got {pct}")
    total = sum(online.traffic.values())
    if total not in (0, 100):
        yield Problem(("online", "traffic"), f"must sum to 0 or 100, got {total}")
    mirror_total = sum(online.mirror_traffic.values())
    if mirror_total > 50:
        yield Problem(("online", "mirrorTraffic"), f"must total at most 50 percent, got {mirror_total}")
    for name, pct in online.mirror_traffic.items():
        if pct > 0 and online.traffic.get(name, 0) > 0:
            yield Problem(
                ("online", "mirrorTraffic", name),
                f"mirrors to a deployment that takes live traffic ({online.traffic[name]}%); "
                "mirror only to a deployment with 0% traffic",
            )
    for name, d in online.deployments.items():
        if d.liveness_probe.success_threshold != 1:
            yield Problem(
                ("online", "deployments", name, "livenessProbe", "successThreshold"),
                f"must be 1 (a liveness probe that failed restarts the container; Kubernetes accepts no other value), got {d.liveness_probe.success_threshold}",
            )
        if not _DEPLOYMENT_NAME.match(name):
            yield Problem(
                ("online", "deployments", name),
                "deployment names must be 3-32 letters, digits or hyphens, starting with a letter",
            )
    a = online.autoscale
    if a.enabled:
        if a.min_instances > a.max_instances:
            yield Problem(("online", "autoscale", "minInstances"), f"must be ≤ maxInstances ({a.max_instances}), got {a.min_instances}")
        elif not a.min_instances <= a.default_instances <= a.max_instances:
            yield Problem(
                ("online", "autoscale", "defaultInstances"),
                f"must be between minInstances ({a.min_instances}) and maxInstances ({a.max_instances}), got {a.default_instances}",
            )
        if a.cpu_scale_in_percent >= a.cpu_scale_out_percent:
            yield Problem(
                ("online", "autoscale", "cpuScaleInPercent"),
                f"must be below cpuScaleOutPercent ({a.cpu_scale_out_percent}), got {a.cpu_scale_in_percent}",
            )


def _target_problems(cfg: Any) -> Iterator[Problem]:
    if cfg.online.target == "kubernetes" and cfg.compute.kubernetes is None:
        yield Problem(("compute", "kubernetes"), "is required when online.target is kubernetes (the AKS cluster to attach)")


def _compute_problems(cfg: Any) -> Iterator[Problem]:
    c = cfg.compute
    if c.min_nodes > c.max_nodes:
        yield Problem(("compute", "minNodes"), f"must be ≤ maxNodes ({c.max_nodes}), got {c.min_nodes}")


def _batch_problems(cfg: Any) -> Iterator[Problem]:
    b = cfg.batch
    if b.mini_batch_error_threshold is not None:
        yield Problem(
            ("batch", "miniBatchErrorThreshold"),
            "is a parallel-job setting; Azure batch model deployments have no such field and would ignore it "
            "(remove it; errorThreshold counts failed files)",
        )
    if b.mode == "tabular" and b.output_action != "append_row":
        yield Problem(
            ("batch", "outputAction"),
            "must be append_row in tabular mode: tabular_batch.py returns its predictions from run(), which only "
            "append_row writes (files mode writes per-file outputs with summary_only)",
        )
    yield from _schedule_problems(b)


def _schedule_problems(b: Any) -> Iterator[Problem]:
    s = b.schedule
    if s is None:
        return
    where = ("batch", "schedule")
    r = s.recurrence
    if r is not None:
        if r.has_pattern() and r.frequency in ("minute", "hour"):
            yield Problem((*where, "recurrence"), f"hours, minutes and weekDays apply to day, week and month frequencies, got frequency {r.frequency!r}")
        elif r.has_pattern() and not (r.hours and r.minutes):
            yield Problem((*where, "recurrence"), "needs both hours and minutes when it sets a pattern (Azure requires both)")
        if r.week_days and r.frequency == "day":
            yield Problem((*where, "recurrence", "weekDays"), "applies to week and month frequencies only, got frequency 'day'")
    try:
        b.output.scheduled_path()
    except ValueError as exc:
        yield Problem(
            ("batch", "output", "path"),
            f"{exc}: Azure documents no run-time expression for the time in a schedule's invocation, so every run "
            f"would write to the same literal folder; use {{job}} (each run's job name) when batch.schedule is set, "
            f"got {b.output.path!r}",
        )


def _monitoring_problems(cfg: Any) -> Iterator[Problem]:
    m = cfg.monitoring
    if m.alerts_enabled and not m.action_group_email:
        yield Problem(("monitoring", "actionGroupEmail"), "is required when alertsEnabled is true (who the alerts e-mail)")
    if m.alerts_enabled and not m.app_insights:
        yield Problem(("monitoring", "alertsEnabled"), "needs appInsights: true (the alerts query Application Insights)")


def _kubernetes_autoscale_problems(cfg: Any) -> Iterator[Problem]:
    online = cfg.online
    if online.target == "kubernetes" and online.autoscale.enabled:
        yield Problem(
            ("online", "autoscale", "enabled"),
            "must be false when online.target is kubernetes: autoscale (monitor.AutoscaleSetting on sku.capacity) "
            "scales managed deployments only, and a Kubernetes deployment would silently ignore it; "
            "size it with amlops:online.deployments.<name>.instanceCount",
        )


def _network_problems(cfg: Any) -> Iterator[Problem]:
    n, w = cfg.network, cfg.workspace
    if n.access == "private" and w.public_network_access != "Disabled":
        yield Problem(("workspace", "publicNetworkAccess"), f"must be Disabled when network.access is private, got {w.public_network_access!r}")
    if w.public_network_access == "Disabled" and n.access != "private":
        yield Problem(
            ("network", "access"),
            f"must be private when workspace.publicNetworkAccess is Disabled (else nothing reaches the workspace), got {n.access!r}",
        )
    if n.access == "private" and n.virtual_network is None:
        yield Problem(("network", "virtualNetwork"), "is required when access is private (the network of the private endpoints)")
    if n.access != "private" and n.virtual_network is not None:
        yield Problem(("network", "virtualNetwork"), f"is only used with access private, got access {n.access!r}; remove it")
    if n.access == "ipRanges" and not n.allowed_ip_ranges:
        yield Problem(("network", "allowedIpRanges"), "must list at least one range when access is ipRanges")
    if n.access != "ipRanges" and n.allowed_ip_ranges:
        yield Problem(("network", "allowedIpRanges"), f"is only used with access ipRanges, got access {n.access!r}; remove it")
    if n.access != "public" and n.isolation_mode == "Disabled":
        yield Problem(
            ("network", "isolationMode"),
            f"must be AllowInternetOutbound or AllowOnlyApprovedOutbound when access is {n.access} "
            "(computes and deployments reach the locked-down storage, key vault and registry through the managed network)",
        )
    if n.outbound_rules and n.isolation_mode != "AllowOnlyApprovedOutbound":
        yield Problem(
            ("network", "outboundRules"),
            f"are only read with isolationMode AllowOnlyApprovedOutbound, got {n.isolation_mode!r}; remove them or change the mode",
        )
    if n.access != "public" and w.registry_sku != "Premium":
        yield Problem(
            ("workspace", "registrySku"),
            f"must be Premium when network.access is {n.access} (private endpoints and IP rules need a Premium registry), got {w.registry_sku!r}",
        )
    v = n.virtual_network
    if v is not None:
        space = ipaddress.IPv4Network(v.address_space)
        subnets = {"privateEndpointSubnet": v.private_endpoint_subnet, "runnerSubnet": v.runner_subnet}
        for key, value in subnets.items():
            if value is not None and not ipaddress.IPv4Network(value).subnet_of(space):
                yield Problem(("network", "virtualNetwork", key), f"must lie inside addressSpace {v.address_space}, got {value!r}")
        if v.runner_subnet is not None and ipaddress.IPv4Network(v.runner_subnet).overlaps(ipaddress.IPv4Network(v.private_endpoint_subnet)):
            yield Problem(("network", "virtualNetwork", "runnerSubnet"), f"must not overlap privateEndpointSubnet {v.private_endpoint_subnet}, got {v.runner_subnet!r}")


_CROSS_CHECKS = (
    (("online",), _online_problems),
    (("online", "compute"), _target_problems),
    (("online",), _kubernetes_autoscale_problems),
    (("network", "workspace"), _network_problems),
    (("compute",), _compute_problems),
    (("batch",), _batch_problems),
    (("monitoring",), _monitoring_problems),
)
"""Rules across fields, each with the top-level sections it reads."""


def _cross_problems(sections: dict[str, Any]) -> Iterator[Problem]:
    """Every cross-field rule whose sections are valid (a section with a field problem skips its rules)."""
    view = SimpleNamespace(**sections)
    for needs, check in _CROSS_CHECKS:
        if all(name in sections for name in needs):
            yield from check(view)


def _without(node: Any, path: tuple[Any, ...]) -> Any:
    """A copy of `node` without the key at `path` (so its default applies)."""
    if not path or not isinstance(node, dict) or path[0] not in node:
        return node
    if len(path) == 1:
        return {k: v for k, v in node.items() if k != path[0]}
    return {**node, path[0]: _without(node[path[0]], path[1:])}


def _valid_sections(raw: dict[str, Any], err: ValidationError) -> dict[str, Any]:
    """The sections the cross-field rules read, each validated alone with its faulty keys left out.

    So a bad `online.authMode` does not hide a traffic sum of 90; a section that still fails
    (a required key is missing or wrong) skips its rules.
    """
    faulty = [tuple(e["loc"]) for e in err.errors() if e["loc"]]
    sections: dict[str, Any] = {}
    for name in {n for needs, _ in _CROSS_CHECKS for n in needs}:
        field = StackConfig.model_fields[name]
        alias = to_camel(name)
        if alias not in raw:
            if not field.is_required():
                sections[name] = field.get_default(call_default_factory=True)
            continue
        value = raw[alias]
        for loc in faulty:
            if loc[0] == alias:
                value = _without(value, loc[1:])
        try:
            sections[name] = field.annotation.model_validate(value, by_alias=True)  # type: ignore[union-attr]
        except ValidationError:
            continue
    return sections


SECURE_MESSAGE = (
    "is an encrypted Pulumi secret (secure: …); the amlops CLI reads stack files without Pulumi and cannot "
    "decrypt it, and no amlops setting is secret: store the value in plain text with "
    "`pulumi config set --path {key} VALUE --plaintext`"
)
"""For `key: {secure: v1:…}`; `--path` and `--plaintext`: https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set/"""


def _secure_paths(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where a stack file holds Pulumi secrets (`key: {secure: v1:…}`)."""
    if isinstance(node, dict):
        if set(node) == {"secure"} and isinstance(node["secure"], str):
            yield path
            return
        for key, value in node.items():
            yield from _secure_paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _secure_paths(value, (*path, i))


def parse_config(raw: dict[str, Any], source: str) -> StackConfig:
    """Validate the `amlops:` keys of a stack (without the prefix) into a StackConfig.

    Raises ConfigError with every problem, each naming `source` and the key path.
    """
    secure = list(_secure_paths(raw))
    problems: list[Problem] = []
    try:
        cfg = StackConfig.model_validate(raw, by_alias=True)
        sections = {name: getattr(cfg, name) for needs, _ in _CROSS_CHECKS for name in needs}
    except ValidationError as err:
        cfg = None
        problems += _pydantic_problems(err)
        sections = _valid_sections(raw, err)
    problems += _cross_problems(sections)
    # a secret's own type or cross-field error would only repeat its secure: message; one line per problem
    problems = [Problem(p, SECURE_MESSAGE.format(key=Problem(p, "").key())) for p in secure] + list(
        dict.fromkeys(p for p in problems if not any(p.path[: len(s)] == s for s in secure))
    )
    if problems or cfg is None:
        raise ConfigError(source, problems)
    return cfg
