"""The plan document model: an offline plan (`{"kind": "amlops-plan", ...}`) as checked, URN-indexed resources.

Standard library only: the CrossGuard pack under policy/ imports the policy rules, which read
plans through this module, in a virtualenv that has none of amlops's dependencies. `amlops plan`
makes these documents, `amlops diff` compares two, and `amlops check` runs the rules over one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from amlops.errors import AmlopsError

KIND = "amlops-plan"
VERSION = 1
DESIRED_STATE_NOTE = (
    "compares desired states: the Pulumi program run offline under mocks at each revision, "
    "not a cloud preview (no credentials, no network; drift and values Azure computes are not shown)"
)


class PlanError(AmlopsError):
    """A plan could not be made (the Pulumi program failed under mocks) or read (a document not in the amlops-plan format)."""


def lookup(node: Any, path: str | Iterable[str], default: Any = None) -> Any:
    """The value at a dotted path (`properties.authMode`) or a sequence of keys in nested mappings, or `default`.

    The one dotted-key getter: plan inputs, stack config in policy rules, and stack-file edits use it.
    """
    for part in path.split(".") if isinstance(path, str) else path:
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


@dataclass(frozen=True)
class Resource:
    """One resource of a plan, as the harness recorded it."""

    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    protect: bool = False
    ignore_changes: tuple[str, ...] = ()
    custom: bool = True

    def get(self, path: str, default: Any = None) -> Any:
        """The input at a dotted path (`properties.enablePurgeProtection`), or `default`."""
        return lookup(self.inputs, path, default)

    @property
    def label(self) -> str:
        """How messages name the resource: `<type> <name>`."""
        return f"{self.type} {self.name!r}"


@dataclass(frozen=True)
class Plan:
    """A whole plan: resources by URN (in URN order), stack outputs and the harness's warnings."""

    stack: str
    resources: dict[str, Resource]
    outputs: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def of_type(self, suffix: str) -> list[Resource]:
        """Resources whose type is `suffix` or ends with `:suffix` (`keyvault:Vault`)."""
        return [r for r in self.resources.values() if r.type == suffix or r.type.endswith(":" + suffix)]


def _require(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, source: str) -> Any:
    if key not in doc:
        raise PlanError(f"{source}: {where}{key}: is required")
    value = doc[key]
    if not isinstance(value, kind):
        names = " or ".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
        raise PlanError(f"{source}: {where}{key}: must be {names}, got {type(value).__name__}")
    return value


def parse_resource(raw: Any, where: str, source: str) -> Resource:
    """One entry of `resources`, checked field by field."""
    if not isinstance(raw, Mapping):
        raise PlanError(f"{source}: {where}: must be an object, got {type(raw).__name__}")
    w = f"{where}."
    parent = raw.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise PlanError(f"{source}: {w}parent: must be a URN or null, got {type(parent).__name__}")
    return Resource(
        urn=_require(raw, "urn", str, w, source),
        type=_require(raw, "type", str, w, source),
        name=_require(raw, "name", str, w, source),
        inputs=_require(raw, "inputs", Mapping, w, source),
        parent=parent,
        dependencies=tuple(raw.get("dependencies") or ()),
        protect=bool(raw.get("protect", False)),
        ignore_changes=tuple(raw.get("ignoreChanges") or ()),
        custom=bool(raw.get("custom", True)),
    )


def parse_plan(doc: Any, source: str = "plan") -> Plan:
    """Check an amlops-plan document and index its resources by URN.

    Raises PlanError naming `source` and the offending field (`resources[3].inputs`).
    """
    if not isinstance(doc, Mapping):
        raise PlanError(f"{source}: must be a JSON object, got {type(doc).__name__}")
    kind = doc.get("kind")
    if kind != KIND:
        raise PlanError(f"{source}: kind: must be {KIND!r}, got {kind!r} (is this an `amlops plan --format json` output?)")
    if doc.get("version") != VERSION:
        raise PlanError(f"{source}: version: this amlops reads version {VERSION}, got {doc.get('version')!r}")
    stack = _require(doc, "stack", str, "", source)
    raw_resources = _require(doc, "resources", list, "", source)
    resources: dict[str, Resource] = {}
    for i, raw in enumerate(raw_resources):
        res = parse_resource(raw, f"resources[{i}]", source)
        if res.urn in resources:
            raise PlanError(f"{source}: resources[{i}].urn: {res.urn} appears twice")
        resources[res.urn] = res
    outputs = doc.get("outputs") or {}
    if not isinstance(outputs, Mapping):
        raise PlanError(f"{source}: outputs: must be an object, got {type(outputs).__name__}")
    warnings = tuple(str(w) for w in doc.get("warnings") or ())
    return Plan(stack=stack, resources=dict(sorted(resources.items())), outputs=outputs, warnings=warnings)
