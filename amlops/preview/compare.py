"""Compare two plans resource by resource (matched by URN): added, removed, replaced, updated.

The leaf-path flattening is hand-written rather than taken from dictdiffer/deepdiff: the
report needs one line per changed leaf in Pulumi's path notation (`profiles[0].capacity.minimum`),
secret masking at any depth and a replace decision per path, which those libraries would only
hand back as nested tuples to post-process into the same walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from amlops.plan.document import Plan, Resource
from amlops.plan.groups import Group, by_group, groups, several

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
"""Pulumi's marker key for a secret value in serialized property maps."""
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""Pulumi's sentinel for a value not known until apply."""
SECRET = "[secret]"
_SECRET_NAME = re.compile(r"(password|secret|token$|connectionstring|accountkey|primarykey|secondarykey|sas$)", re.I)
_MISSING = object()

ASSET_TYPES = frozenset(
    f"azure-native:machinelearningservices:{t}"
    for t in ("CodeVersion", "ModelVersion", "EnvironmentVersion", "DataVersion", "ComponentVersion")
)
"""Azure ML assets are immutable once created: any change to one is a replacement."""

IMMUTABLE_INPUTS = frozenset({
    "location", "name", "resourceGroupName", "resourceName", "accountName", "vaultName", "registryName",
    "workspaceName", "endpointName", "deploymentName", "computeName", "containerName", "blobName",
    "autoscaleSettingName", "actionGroupName", "ruleName", "componentName",
})
"""Top-level inputs that are part of an Azure resource's id (or fixed at creation): changing one replaces it."""


@dataclass(frozen=True)
class PropertyChange:
    """One changed leaf: its path, old and new display values, and whether it forces a replacement."""

    path: str
    old: Any
    new: Any
    replaces: bool = False


@dataclass(frozen=True)
class ResourceChange:
    """What happens to one resource: add, remove, replace or update (with its property changes)."""

    action: str
    urn: str
    type: str
    name: str
    changes: tuple[PropertyChange, ...] = ()


@dataclass(frozen=True)
class PlanDiff:
    """The whole comparison: per-resource changes (URN order), unchanged count, output changes."""

    stack: str
    changes: tuple[ResourceChange, ...]
    unchanged: int
    output_changes: tuple[PropertyChange, ...] = ()
    base_label: str = "base"
    head_label: str = "head"
    warnings: tuple[str, ...] = field(default_factory=tuple)
    members: Mapping[str, str] = field(default_factory=dict)
    """Each changed resource's URN → its model key or SHARED (amlops/plan/groups.py)."""
    groups: Mapping[str, Group] = field(default_factory=dict)
    """Every group of either plan, SHARED first, then the models by key."""

    @property
    def several(self) -> bool:
        """Whether either plan declares more than one model (then the changes are shown model by model)."""
        return several(self.groups)

    def by_group(self) -> list[tuple[Group, list[ResourceChange]]]:
        """The changes split by model (SHARED first), each group's changes in URN order; groups without changes left out."""
        changes = {c.urn: c for c in self.changes}
        split = by_group(changes, self.members) if self.several else {"": list(changes)}
        return [(self.groups.get(k) or Group(k), [changes[u] for u in urns]) for k, urns in split.items()]

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def empty(self) -> bool:
        return not self.changes and not self.output_changes


ACTIONS = ("add", "replace", "update", "remove")
"""Actions in the order reports list them."""


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and SECRET_SIG_KEY in value


def display(value: Any) -> Any:
    """A value as reports show it: secrets masked, unknowns named, floats that are ints as ints."""
    if is_secret(value):
        return SECRET
    if value == UNKNOWN:
        return "(known after apply)"
    if isinstance(value, float) and value.is_integer():
        return int(value)  # mocks record every int as a float
    if isinstance(value, Mapping):
        return {k: display(v) for k, v in value.items()}
    if isinstance(value, list):
        return [display(v) for v in value]
    return value


def _join(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def _leaves(old: Any, new: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(path, old, new) for every leaf that differs; _MISSING marks an absent side."""
    if is_secret(old) or is_secret(new):
        if old != new:
            yield path, old, new
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new)):
            yield from _leaves(old.get(key, _MISSING), new.get(key, _MISSING), _join(path, key))
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            yield from _leaves(old[i] if i < len(old) else _MISSING, new[i] if i < len(new) else _MISSING, _join(path, i))
        return
    if _normalize(old) != _normalize(new):
        yield path, old, new


def _normalize(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _shown(path: str, value: Any) -> Any:
    if value is _MISSING:
        return None
    last = re.split(r"[.\[]", path)[-1]
    if is_secret(value) or (_SECRET_NAME.search(last) and isinstance(value, str)):
        return SECRET
    return display(value)


def _forces_replace(res: Resource, path: str) -> bool:
    """Immutable fields: an asset's anything; any resource's location or ARM name parameters."""
    if res.type in ASSET_TYPES:
        return True
    return path in IMMUTABLE_INPUTS


def compare_resources(old: Resource, new: Resource) -> ResourceChange | None:
    """The change between two versions of one URN, or None when they are the same."""
    changes = [
        PropertyChange(path, _shown(path, a), _shown(path, b), _forces_replace(new, path))
        for path, a, b in _leaves(dict(old.inputs), dict(new.inputs), "")
    ]
    if old.protect != new.protect:
        changes.append(PropertyChange("(options).protect", old.protect, new.protect))
    if sorted(old.ignore_changes) != sorted(new.ignore_changes):
        changes.append(PropertyChange("(options).ignoreChanges", sorted(old.ignore_changes), sorted(new.ignore_changes)))
    if old.parent != new.parent:
        changes.append(PropertyChange("(options).parent", old.parent, new.parent, replaces=True))
    if not changes:
        return None
    action = "replace" if any(c.replaces for c in changes) else "update"
    return ResourceChange(action, new.urn, new.type, new.name, tuple(changes))


def diff_plans(base: Plan, head: Plan, base_label: str = "base", head_label: str = "head") -> PlanDiff:
    """Match resources by URN and classify each difference."""
    changes: list[ResourceChange] = []
    unchanged = 0
    for urn in sorted(set(base.resources) | set(head.resources)):
        old, new = base.resources.get(urn), head.resources.get(urn)
        if old is None:
            assert new is not None
            changes.append(ResourceChange("add", urn, new.type, new.name))
        elif new is None:
            changes.append(ResourceChange("remove", urn, old.type, old.name))
        else:
            change = compare_resources(old, new)
            if change is None:
                unchanged += 1
            else:
                changes.append(change)
    members, titles = groups(base, head)
    outputs = tuple(
        PropertyChange(path, _shown(path, a), _shown(path, b))
        for path, a, b in _leaves(dict(base.outputs), dict(head.outputs), "")
    )
    return PlanDiff(
        stack=head.stack,
        changes=tuple(changes),
        unchanged=unchanged,
        output_changes=outputs,
        base_label=base_label,
        head_label=head_label,
        warnings=tuple(dict.fromkeys(base.warnings + head.warnings)),
        members=members,
        groups=titles,
    )
