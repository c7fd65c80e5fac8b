"""`amlops:online`: the online endpoint, its deployments, traffic and autoscale."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from infra.config.base import ENV_VAR, ConfigModel, check_endpoint_base
from infra.config.model_monitor import DataCollectorConfig
from infra.config.monitoring import AlertsConfig
from infra.skus import ONLINE_INSTANCE_TYPES

ENDPOINT_ENV = "AMLOPS_ENDPOINT"
"""The endpoint's Azure name, set in every deployment (infra/online_endpoint.py) and by `amlops serve`: score.py puts
it in its trace lines' customDimensions, so each endpoint's rejected-loans alert (infra/monitoring.py) counts its own."""
MAX_ROWS_ENV = "AMLOPS_MAX_ROWS"
"""The variable score.py reads request_settings.max_rows from (set by the deployment and by `amlops serve`)."""


class RequestSettings(ConfigModel):
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
    """Most rows one request may score; more is a 400 (passed to score.py as MAX_ROWS_ENV)."""


class ProbeSettings(ConfigModel):
    """A liveness or readiness probe (Azure's probe settings, in seconds)."""

    initial_delay: int = Field(10, ge=0, le=3600)
    period: int = Field(10, ge=1, le=3600)
    timeout: int = Field(2, ge=1, le=3600)
    failure_threshold: int = Field(30, ge=1, le=1000)
    success_threshold: int = Field(1, ge=1, le=1000)


class DeploymentConfig(ConfigModel):
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
    data_collector: DataCollectorConfig | None = None
    """Azure's data collector: score.py logs model_inputs/model_outputs to the workspace's blob storage
    (what a model monitor reads); default off."""

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, v: str) -> str:
        if v not in ONLINE_INSTANCE_TYPES:
            raise ValueError(f"must be one of {', '.join(ONLINE_INSTANCE_TYPES)}, got {v!r}")
        return v

    @field_validator("environment_variables")
    @classmethod
    def _env_names(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if not ENV_VAR.match(k)]
        if bad:
            raise ValueError(f"environment variable names must match [A-Za-z_][A-Za-z0-9_]*, got {bad}")
        return v


class AutoscaleConfig(ConfigModel):
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


class OnlineConfig(ConfigModel):
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
    alerts: AlertsConfig | None = None
    """This endpoint's alert thresholds; default monitoring.alerts (alerts exist only where monitoring.alertsEnabled)."""

    @field_validator("endpoint_name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_endpoint_base(v)

    def live_deployment(self, exclude: tuple[str, ...] | frozenset[str] = ()) -> str | None:
        """The deployment with the most live traffic, or None if none takes any.

        A tie goes to the deployment declared first in `deployments` (the incumbent: `amlops promote`
        appends new deployments), never to the first by name.
        """
        declared = [n for n in self.deployments if n not in exclude and self.traffic.get(n, 0) > 0]
        if not declared:
            return None
        return max(declared, key=lambda n: (self.traffic[n], -declared.index(n)))
