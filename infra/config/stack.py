"""`amlops:*`: everything one environment (stack) sets, one field per section."""

from __future__ import annotations

from pydantic import field_validator
from pydantic.alias_generators import to_camel

from infra.config.base import PREFIX, ConfigModel, name_check
from infra.config.batch import BatchConfig
from infra.config.compute import ComputeConfig
from infra.config.model import ModelPin
from infra.config.monitoring import MonitoringConfig
from infra.config.network import NetworkConfig
from infra.config.online import OnlineConfig
from infra.config.promotion import PromotionConfig
from infra.config.registry import RegistryConfig
from infra.config.workspace import WorkspaceConfig


class StackConfig(ConfigModel):
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
        return name_check(PREFIX, "must be 2-8 lowercase letters or digits, starting with a letter")(v)

    def deployment_model_version(self, deployment: str) -> int:
        """The model version a deployment serves: its own pin, else the stack's."""
        return self.online.deployments[deployment].model_version or self.model.version


KEYS: tuple[str, ...] = tuple(StackConfig.model_fields)
"""The top-level config keys (`amlops:<key>`), in snake_case."""

TOP_LEVEL_ALIASES: dict[str, str] = {to_camel(k): k for k in KEYS}
