"""The typed schema of a stack file: everything one environment sets, validated in one place.

The Pulumi program reads it through `pulumi.Config("amlops")`; the CLI reads the same
keys straight from `stacks/Pulumi.<stack>.yaml`. Both call `parse_config`, so a bad
value fails the same way in `pulumi up` and in `amlops ... --stack S`.

One module per section of the stack file (`workspace`, `compute`, `model`, `online`,
`batch`, `schedule`, `monitoring`, `registry`, `promotion`, `network`), the models (`models`: each a
registered model with its own endpoints), the stack that holds them (`stack`), the rules across sections
(`rules`) and the parser (`parse`); what it reports (Problem, ConfigError) lives in infra/errors.py, which
the CLI imports without pydantic.
Everything is importable from `infra.config` as before.
"""

from infra.config.base import ConfigModel, check_endpoint_base, parse_size
from infra.config.batch import (
    AZURE_JOB_NAME,
    FILE_SHARE_DATASTORES,
    ID_COLUMNS_ENV,
    OUTPUT_PLACEHOLDERS,
    RUN_TIME_PLACEHOLDERS,
    BatchConfig,
    BatchOutputConfig,
    RetrySettings,
    output_placeholders,
)
from infra.config.compute import ComputeConfig, KubernetesAttachConfig
from infra.config.model import ModelPin
from infra.config.models import LEGACY_KEY, MODEL_KEY, ModelConfig
from infra.config.monitoring import AlertsConfig, MonitoringConfig
from infra.config.multi_model import MultiModelConfig
from infra.config.network import NetworkConfig, OutboundRuleConfig, VirtualNetworkConfig
from infra.config.online import ENDPOINT_ENV, MAX_ROWS_ENV, AutoscaleConfig, DeploymentConfig, OnlineConfig, ProbeSettings, RequestSettings
from infra.config.parse import SECURE_MESSAGE, parse_config
from infra.errors import PROJECT, ConfigError, Problem
from infra.config.promotion import PromotionConfig
from infra.config.registry import RegistryConfig
from infra.config.schedule import BatchScheduleConfig, RecurrenceConfig, check_cron, windows_time_zone
from infra.config.stack import (
    KEYS,
    TOP_LEVEL_ALIASES,
    AmbiguousModel,
    EndpointChoiceError,
    GroupEndpoint,
    MissingEndpoint,
    StackConfig,
    UnknownEndpoint,
)
from infra.config.workspace import WorkspaceConfig

__all__ = [
    "AZURE_JOB_NAME",
    "FILE_SHARE_DATASTORES",
    "ID_COLUMNS_ENV",
    "KEYS",
    "LEGACY_KEY",
    "MODEL_KEY",
    "OUTPUT_PLACEHOLDERS",
    "ENDPOINT_ENV",
    "MAX_ROWS_ENV",
    "PROJECT",
    "RUN_TIME_PLACEHOLDERS",
    "SECURE_MESSAGE",
    "TOP_LEVEL_ALIASES",
    "AlertsConfig",
    "AmbiguousModel",
    "EndpointChoiceError",
    "GroupEndpoint",
    "MissingEndpoint",
    "ModelConfig",
    "UnknownEndpoint",
    "AutoscaleConfig",
    "BatchConfig",
    "BatchOutputConfig",
    "BatchScheduleConfig",
    "ComputeConfig",
    "ConfigError",
    "ConfigModel",
    "DeploymentConfig",
    "KubernetesAttachConfig",
    "ModelPin",
    "MonitoringConfig",
    "MultiModelConfig",
    "NetworkConfig",
    "OnlineConfig",
    "OutboundRuleConfig",
    "ProbeSettings",
    "Problem",
    "PromotionConfig",
    "RecurrenceConfig",
    "RegistryConfig",
    "RequestSettings",
    "RetrySettings",
    "StackConfig",
    "VirtualNetworkConfig",
    "WorkspaceConfig",
    "check_cron",
    "check_endpoint_base",
    "output_placeholders",
    "parse_config",
    "parse_size",
    "windows_time_zone",
]
