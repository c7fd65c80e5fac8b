"""Which model of the stack a resource serves, so a finding names that model, its endpoint and its stack-file key.

The Pulumi program declares each model's endpoints as components named `<key>-online`, `<key>-batch`
and `<key>-batch-schedule` (plain `online`, `batch`, `batch-schedule` in a stack in the single-model
form; infra/__main__.py, declare_model), an amlops:multiModel group's endpoint `<group>-online` beside its
combined model `<group>-models` (declare_group), and every endpoint resource, deployment, traffic step and
autoscale setting is a descendant of its component. A resource's owner is read from that ancestry:
from the plan's parent links, else from the parent's URN (CrossGuard passes each resource's parent).
Standard library only, as the rest of the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amlops.plan.document import Resource
from amlops.policy.subject import Subject

GROUP_MODEL = "amlops:multi_model_asset:CombinedModel"
"""The component of a multi-model group's combined model: a key that has one is a group, not a model."""
COMPONENT_ROLES = {
    "amlops:online_endpoint:OnlineEndpoint": "online",
    "amlops:batch_endpoint:BatchEndpoint": "batch",
    "amlops:schedule:BatchSchedule": "batch-schedule",
}
"""The components that hold one model's endpoint, and the role their Pulumi name ends with."""


@dataclass(frozen=True)
class Owner:
    """The model a resource serves: its key under amlops:models (None in the single-model form) and its endpoint."""

    key: str | None
    component: str | None = None
    """The URN of the endpoint component the resource belongs to (resources of one endpoint share it)."""
    section: str = "models"
    """Where the stack file holds the key: `models`, or `multiModel` for a group of models in one deployment."""

    def setting(self, path: str) -> str:
        """The stack-file key of one of the model's settings: `amlops:models.fraud.online.traffic` (`amlops:online.traffic`)."""
        return f"amlops:{path}" if self.key is None else f"amlops:{self.section}.{self.key}.{path}"

    def config(self, s: Subject, path: str, default: Any = None) -> Any:
        """The model's setting at `path` (`online.traffic`) in the validated stack config, or `default`."""
        if self.key is not None:
            return s.config_get(f"{self.section}.{self.key}.{path}", default)
        found = s.config_get(path)  # a config in the single-model form's shape
        if found is not None:
            return found
        models = s.config_get("models")
        if isinstance(models, dict) and len(models) == 1:
            return s.config_get(f"models.{next(iter(models))}.{path}", default)
        return default

    def names(self, endpoint: str | None = None) -> str:
        """`model 'fraud', endpoint 'fraud-dev-online-x1': ` to start a finding with; "" in the single-model form."""
        if self.key is None:
            return ""
        what = "model" if self.section == "models" else "multiModel group"
        return f"{what} {self.key!r}, endpoint {endpoint!r}: " if endpoint else f"{what} {self.key!r}: "


def split_urn(urn: str) -> tuple[str, str]:
    """(type, name) of a URN: `urn:pulumi:dev::amlops::a:b:C$x:y:Z::name` → (`x:y:Z`, `name`)."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "", ""
    return parts[2].rsplit("$", 1)[-1], "::".join(parts[3:])


def owner_of(s: Subject, res: Resource) -> Owner:
    """The model `res` serves, found through its nearest endpoint component ancestor; Owner(None) when it has none."""
    seen: set[str] = set()
    parent = res.urn if res.type in COMPONENT_ROLES else res.parent
    while parent and parent not in seen:
        seen.add(parent)
        known = s.plan.resources.get(parent)
        type_, name = (known.type, known.name) if known is not None else split_urn(parent)
        role = COMPONENT_ROLES.get(type_)
        if role is not None:
            key = name[: -len(role)].rstrip("-") if name.endswith(role) else None
            return Owner(key or None, parent, "multiModel" if key and is_group(s, key) else "models")
        parent = known.parent if known is not None else None
    return Owner(None)


def is_group(s: Subject, key: str) -> bool:
    """Whether `key` is an amlops:multiModel group: the stack config says so, else the plan holds its combined model."""
    groups = s.config_get("multiModel") if s.config is not None else None
    if isinstance(groups, dict):
        return key in groups
    return any(r.type == GROUP_MODEL and r.name == f"{key}-models" for r in s.plan.resources.values())


def endpoint_name(res: Resource) -> str:
    """The Azure name of the endpoint a resource is or belongs to (its endpointName input), else its Pulumi name."""
    return str(res.get("endpointName") or res.inputs.get("endpoint_name") or res.name)


def same_endpoint(s: Subject, a: Resource, b: Resource) -> bool:
    """Whether two resources belong to one endpoint: the same endpointName, or the same endpoint component."""
    names = (a.get("endpointName") or a.inputs.get("endpoint_name"), b.get("endpointName") or b.inputs.get("endpoint_name"))
    if names[0] and names[1]:
        return names[0] == names[1]
    component = owner_of(s, a).component
    return component is not None and component == owner_of(s, b).component
