"""`amlops:*`: everything one environment (stack) sets, one field per section."""

from __future__ import annotations

from typing import Any

from pydantic import PrivateAttr, field_validator
from pydantic.alias_generators import to_camel

from infra.config.base import PREFIX, ConfigModel, name_check
from infra.errors import AmbiguousModel, EndpointChoiceError, GroupEndpoint, MissingEndpoint, UnknownEndpoint  # noqa: F401  # re-exported by infra.config
from infra.config.batch import BatchConfig
from infra.config.compute import ComputeConfig
from infra.config.models import LEGACY_OPTIONAL, LEGACY_SECTIONS, ModelConfig, check_models
from infra.config.monitoring import MonitoringConfig
from infra.config.multi_model import MultiModelConfig, check_groups
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
    models: dict[str, ModelConfig]
    """The models it serves, by key (1-12 lowercase letters or digits); each with its own endpoints."""
    multi_model: dict[str, MultiModelConfig] = {}
    """Groups of models served by one online deployment, by key (as model keys; unique across both)."""
    monitoring: MonitoringConfig = MonitoringConfig()
    registry: RegistryConfig = RegistryConfig()
    promotion: PromotionConfig = PromotionConfig()
    network: NetworkConfig = NetworkConfig()

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        return name_check(PREFIX, "must be 2-8 lowercase letters or digits, starting with a letter")(v)

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, v: Any) -> Any:
        return check_models(v) if isinstance(v, dict) else v

    @field_validator("multi_model", mode="before")
    @classmethod
    def _groups(cls, v: Any) -> Any:
        return check_groups(v) if isinstance(v, dict) else v

    _single_form: bool = PrivateAttr(False)
    """Set by parse_config when the file is in the single-model form (top-level model/online/batch); not a key."""

    @property
    def single_form(self) -> bool:
        """Whether the stack file is in the single-model form (top-level model/online/batch)."""
        return self._single_form

    def label(self, key: str) -> str:
        """What a model's Pulumi resource names start with: "" in the single-model form (its names never change),
        else `<key>-`, so no two models' resources share a name."""
        return "" if self.single_form else f"{key}-"

    def migrated(self, key: str) -> bool:
        """Whether `key` is the model that keeps a single-model stack's names after `amlops config migrate`: the
        first model of a stack file in the `models` form. Its components carry Pulumi aliases to their old
        names, and its Azure names that once had no key in them (its scoring code asset, its alert rules)
        stay as they were, so moving a deployed stack to `models:` replaces nothing."""
        return not self.single_form and key == next(iter(self.models))

    def asset_label(self, key: str) -> str:
        """What a model's Azure asset and alert names carry: "" for the single-model form and its migrated model, else `<key>-`."""
        return "" if self.single_form or self.migrated(key) else f"{key}-"

    def only(self) -> tuple[str, ModelConfig]:
        """The key and entry of the stack's one model; AmbiguousModel when it declares several."""
        if len(self.models) != 1:
            raise AmbiguousModel(self.choices(), len(self.models))
        return next(iter(self.models.items()))

    def choices(self) -> list[str]:
        """What `--endpoint` can name, for a message that asks for one: each model's, then each multiModel group's."""
        return self.model_choices() + [f"multiModel group {k} ({g.online.endpoint_name}: {', '.join(g.models)})" for k, g in self.multi_model.items()]

    def model_choices(self) -> list[str]:
        """`<key> (<endpoint names>)` per model; a model without endpoints of its own names the groups that serve it."""
        def own(key: str, m: ModelConfig) -> str:
            names = m.endpoint_names()
            if names:
                return ", ".join(names)
            return "no endpoint of its own; in multiModel group " + ", ".join(g for g, group in self.multi_model.items() if key in group.models)

        return [f"{k} ({own(k, m)})" for k, m in self.models.items()]

    def group(self, endpoint: str | None) -> tuple[str, MultiModelConfig] | None:
        """(key, group) of the amlops:multiModel group `endpoint` names (its key or its online endpoint's name), else None."""
        for key, group in self.multi_model.items():
            if endpoint in (key, group.online.endpoint_name):
                return key, group
        return None

    def select(self, endpoint: str | None) -> tuple[str, ModelConfig]:
        """The model behind `endpoint` (a base name from the stack file, or a model key); with None, the only model.
        A multiModel group's name is GroupEndpoint: a command that takes one model cannot take it."""
        if endpoint is None:
            return self.only()
        for key, m in self.models.items():
            if endpoint == key or endpoint in m.endpoint_names():
                return key, m
        found = self.group(endpoint)
        if found is not None:
            key, group = found
            raise GroupEndpoint(endpoint, key, group.models, self.model_choices())
        raise UnknownEndpoint(endpoint, self.choices())

    def narrow(self, endpoint: str | None) -> "StackConfig":
        """The stack with only the model behind `endpoint` (select's rule: a base name or a model key; None for
        the only model), so a command that works on one model reads its `model`, `online` and `batch`."""
        key, m = self.select(endpoint)
        narrowed = self.model_copy(update={"models": {key: m}})
        narrowed._single_form = self._single_form
        return narrowed

    @property
    def key(self) -> str:
        """The key of the stack's one model (AmbiguousModel when it declares several)."""
        return self.only()[0]

    @property
    def model(self) -> ModelConfig:
        """The one model of a single-model stack (AmbiguousModel when there are several)."""
        return self.only()[1]

    @property
    def online(self) -> OnlineConfig:
        """The one model's online endpoint (AmbiguousModel when there are several models)."""
        online = self.model.online
        if online is None:
            raise MissingEndpoint(self.only()[0], "online")
        return online

    @property
    def batch(self) -> BatchConfig:
        """The one model's batch endpoint (AmbiguousModel when there are several models)."""
        batch = self.model.batch
        if batch is None:
            raise MissingEndpoint(self.only()[0], "batch")
        return batch

    def deployment_model_version(self, deployment: str) -> int:
        """The model version a deployment of the one model serves: its own pin, else the model's."""
        return self.model.deployment_model_version(deployment)

    def model_key(self, key: str, setting: str) -> str:
        """The stack-file key of one model's setting: `amlops:models.<key>.<setting>` (`amlops:model.<setting>`)."""
        return f"amlops:model.{setting}" if self.single_form else f"amlops:models.{key}.{setting}"

    def unset_for_ci(self) -> list[str]:
        """The stack-file keys a deploy from CI needs and this stack leaves unset, in file order.

        CI's runners hold no MLflow registry: every model a CI deploy serves comes from an Azure ML
        registry (README "Where models live for CI"), so each model names one.
        """
        return [self.model_key(k, "azuremlRegistry") for k, m in self.models.items() if m.azureml_registry is None]

    def ci_refusal(self, source: str) -> str | None:
        """One line naming every key `unset_for_ci` finds, or None when a CI deploy has what it needs."""
        unset = self.unset_for_ci()
        if not unset:
            return None
        return f"{source}: a deploy from CI needs {', '.join(unset)} (the Azure ML registry its models come from; README \"From an empty subscription\")"


KEYS: tuple[str, ...] = (*StackConfig.model_fields, *LEGACY_SECTIONS, *LEGACY_OPTIONAL)
"""The top-level config keys (`amlops:<key>`), in snake_case, with the single-model form's."""

TOP_LEVEL_ALIASES: dict[str, str] = {to_camel(k): k for k in KEYS}
