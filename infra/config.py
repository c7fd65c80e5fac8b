"""The typed schema of a stack file: everything one environment sets, validated in one place.

The Pulumi program reads it through `pulumi.Config("amlops")`; the CLI reads the same
keys straight from `stacks/Pulumi.<stack>.yaml`. Both call `parse_config`, so a bad
value fails the same way in `pulumi up` and in `amlops ... --stack S`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
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


class BatchConfig(_Model):
    """The batch endpoint and its deployment (Azure's names and meanings)."""

    endpoint_name: str
    """3-32 letters, digits, hyphens; unique within the Azure region."""
    deployment_name: str = "loans-batch"
    mode: Literal["tabular", "files"] = "tabular"
    """tabular: tabular_batch.py gets DataFrames; files: file_batch.py gets paths."""
    mini_batch_size: str = "1MB"
    """Bytes (100KB, 1MB) for tabular input; a file count (e.g. "10") for files."""
    max_concurrency_per_instance: int = Field(2, ge=1, le=64)
    """Worker processes per node, each calling init() once."""
    instance_count: int = Field(1, ge=1, le=100)
    """Nodes of the compute cluster the job uses."""
    error_threshold: int = Field(-1, ge=-1)
    """Failed items tolerated before the job fails; -1 ignores all failures."""
    mini_batch_error_threshold: int = Field(-1, ge=-1)
    """Failed mini-batches tolerated; -1 ignores all."""
    retry_settings: RetrySettings = RetrySettings()
    output_action: Literal["append_row", "summary_only"] = "append_row"
    output_file_name: str = "predictions.csv"
    logging_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    environment_variables: dict[str, str] = {}

    @field_validator("endpoint_name", "deployment_name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check_endpoint_name(v)

    @field_validator("output_file_name")
    @classmethod
    def _file_name(cls, v: str) -> str:
        if not v or "/" in v or "\\" in v or v in {".", ".."}:
            raise ValueError(f"must be a plain file name without folders, got {v!r}")
        return v

    def mini_batch_items(self) -> int:
        """The mini-batch size as Azure's miniBatchSize integer: bytes (tabular) or files."""
        if self.mode == "files":
            return int(self.mini_batch_size)
        return parse_size(self.mini_batch_size)


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
    if b.mode == "files":
        if not b.mini_batch_size.isdigit() or int(b.mini_batch_size) < 1:
            yield Problem(("batch", "miniBatchSize"), f"must be a file count (a whole number ≥ 1) in files mode, got {b.mini_batch_size!r}")
    else:
        try:
            size = parse_size(b.mini_batch_size)
            if size < 1024:
                yield Problem(("batch", "miniBatchSize"), f"must be at least 1KB, got {b.mini_batch_size!r}")
        except ValueError as exc:
            yield Problem(("batch", "miniBatchSize"), str(exc))


def _monitoring_problems(cfg: Any) -> Iterator[Problem]:
    m = cfg.monitoring
    if m.alerts_enabled and not m.action_group_email:
        yield Problem(("monitoring", "actionGroupEmail"), "is required when alertsEnabled is true (who the alerts e-mail)")
    if m.alerts_enabled and not m.app_insights:
        yield Problem(("monitoring", "alertsEnabled"), "needs appInsights: true (the alerts query Application Insights)")


_CROSS_CHECKS = (
    (("online",), _online_problems),
    (("online", "compute"), _target_problems),
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
