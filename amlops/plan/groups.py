"""Which model each resource of a plan belongs to, so `amlops plan|diff|check` show a stack model by model.

The program declares each model's resources under top-level components named `<key>-<role>`
(infra.naming.MODEL_COMPONENTS; plain `<role>` in a single-model stack file, whose one model is
LEGACY_KEY), and each endpoint's alert rules as `monitoring-<key>-<alert>`. Everything else (the
workspace, network, compute, environments, batch code, action group) is shared by every model.
The grouping is read from the plan alone, so a plan made at another git revision groups the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from amlops.plan.document import Plan, Resource
from infra.config.models import LEGACY_KEY
from infra.naming import MODEL_COMPONENTS, MONITORING_COMPONENT

SHARED = "shared"
"""The group of what every model uses."""
_ENDPOINT_TYPES = ("machinelearningservices:OnlineEndpoint", "machinelearningservices:BatchEndpoint")
_ALERT_TYPES = ("monitor:MetricAlert", "monitor:ScheduledQueryRule")


def _model_key(component: str) -> str | None:
    """`loans-online` → `loans`, `online` → "" (the single-model form), `workspace` → None."""
    for role in sorted(MODEL_COMPONENTS, key=len, reverse=True):  # `batch-schedule` before `batch`
        if component == role:
            return ""
        if component.endswith(f"-{role}"):
            return component[: -len(role) - 1]
    return None


def _top(res: Resource, resources: Mapping[str, Resource]) -> Resource:
    """The resource's top-level ancestor (itself when it has no parent in the plan)."""
    seen = {res.urn}
    while res.parent in resources and res.parent not in seen:
        res = resources[res.parent]
        seen.add(res.urn)
    return res


def model_of(plan: Plan) -> dict[str, str]:
    """Each resource's URN → its model key (LEGACY_KEY for a single-model stack), or SHARED."""
    tops = {urn: _top(r, plan.resources) for urn, r in plan.resources.items()}
    keys = {urn: _model_key(top.name) for urn, top in tops.items()}
    found = {k for k in keys.values() if k is not None}
    out: dict[str, str] = {}
    for urn, key in keys.items():
        res = plan.resources[urn]
        if key is None and tops[urn].name == MONITORING_COMPONENT and res.type.endswith(_ALERT_TYPES):
            key = _alert_key(res.name, found)
        out[urn] = SHARED if key is None else (key or LEGACY_KEY)
    return out


def _alert_key(name: str, keys: set[str]) -> str | None:
    """`monitoring-loans-latency` → `loans` (the longest key that fits); `monitoring-latency` → "" (single form)."""
    rest = name.removeprefix(f"{MONITORING_COMPONENT}-")
    for key in sorted((k for k in keys if k), key=len, reverse=True):
        if rest.startswith(f"{key}-"):
            return key
    return "" if "" in keys else None


@dataclass(frozen=True)
class Group:
    """One model's (or the shared) part of a plan: its key and its endpoints' Azure names."""

    key: str
    endpoints: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """`model loans (loans-dev-online-1a2b3c, loans-dev-batch-1a2b3c)` or `shared (workspace, network, compute…)`."""
        if self.key == SHARED:
            return "shared by every model"
        return f"model {self.key}" + (f" (endpoints {', '.join(self.endpoints)})" if self.endpoints else "")


def groups(*plans: Plan) -> tuple[dict[str, str], dict[str, Group]]:
    """URN → group key over one or more plans (a later plan's grouping wins), and each key's Group,
    models in key order, SHARED first."""
    members: dict[str, str] = {}
    endpoints: dict[str, list[str]] = {}
    for plan in plans:
        for urn, key in model_of(plan).items():
            members[urn] = key
            res = plan.resources[urn]
            name = res.get("endpointName")
            if res.type.endswith(_ENDPOINT_TYPES) and isinstance(name, str) and name not in endpoints.setdefault(key, []):
                endpoints[key].append(name)
    keys = sorted(set(members.values()), key=lambda k: (k != SHARED, k))
    return members, {k: Group(k, tuple(sorted(endpoints.get(k, ()), key=_online_first))) for k in keys}


def _online_first(name: str) -> tuple[bool, str]:
    return ("online" not in name, name)


def several(titles: Mapping[str, Group]) -> bool:
    """Whether the plan declares more than one model: only then is what a command shows split by model
    (one model's plan reads as it always did)."""
    return sum(1 for k in titles if k != SHARED) > 1


def by_group(urns: Iterable[str], members: Mapping[str, str]) -> dict[str, list[str]]:
    """`urns` split by group (SHARED first, then models by key), each in the order given."""
    out: dict[str, list[str]] = {}
    for urn in urns:
        out.setdefault(members.get(urn, SHARED), []).append(urn)
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != SHARED, kv[0])))
