"""Show a plan document: a Rich tree (parent → children) and a count of resources by type."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Iterator

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from amlops.plan.document import parse_plan
from amlops.plan.groups import Group as ModelGroup, groups, several

MAX_VALUE = 100
"""Longer input values are cut in the text view (the JSON view has them whole)."""


def counts_by_type(plan: dict[str, Any]) -> Counter[str]:
    """Custom (cloud) resources by type token, e.g. azure-native:storage:Blob → 8."""
    return Counter(r["type"] for r in plan["resources"] if r["custom"])


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, value


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = text.replace("\n", "⏎")
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _label(resource: dict[str, Any], names: dict[str, str]) -> Text:
    label = Text()
    label.append(resource["name"], style="bold")
    label.append(f"  {resource['type']}", style="cyan" if resource["custom"] else "magenta")
    if resource["protect"]:
        label.append("  protect", style="yellow")
    if resource["ignoreChanges"]:
        label.append(f"  ignoreChanges={','.join(resource['ignoreChanges'])}", style="yellow")
    deps = [names.get(d, d) for d in resource["dependencies"]]
    if deps:
        label.append(f"\n  depends on: {', '.join(deps)}", style="dim")
    return label


def _grouping(plan: dict[str, Any]) -> tuple[dict[str, str], dict[str, ModelGroup]]:
    return groups(parse_plan(plan, f"plan of stack {plan.get('stack')}"))


def plan_tree(plan: dict[str, Any], show_inputs: bool = True) -> RenderableType:
    """The plan as a tree: what every model shares, then each model's resources (components and their
    resources, each with its inputs and options)."""
    names = {r["urn"]: r["name"] for r in plan["resources"]}
    members, titles = _grouping(plan)
    children: dict[str | None, list[dict[str, Any]]] = {}
    for resource in plan["resources"]:
        children.setdefault(resource["parent"], []).append(resource)
    root = Tree(Text(f"stack {plan['stack']}: {len(plan['resources'])} resources", style="bold"))

    def within(urn: str, group: str) -> bool:
        return members.get(urn) == group or any(within(c["urn"], group) for c in children.get(urn, []))

    def add(node: Tree, parent: str | None, group: str | None) -> None:
        for resource in sorted(children.get(parent, []), key=lambda r: (r["custom"], r["name"])):
            if group is not None and not within(resource["urn"], group):
                continue
            branch = node.add(_label(resource, names))
            if show_inputs and resource["custom"]:
                for key, value in _flatten(resource["inputs"]):
                    branch.add(Text(f"{key} = {_short(value)}", style="dim"))
            add(branch, resource["urn"], group)

    if not several(titles):  # one model: the plain tree
        add(root, None, None)
    # A shared component that holds a model's resources (monitoring: its alert rules) shows under both.
    for key, group in titles.items() if several(titles) else ():
        add(root.add(Text(group.title, style="bold green")), None, key)
    parts: list[RenderableType] = [Text(f"note: {plan['note']}", style="italic"), root]
    if plan["outputs"]:
        outputs = Tree(Text("stack outputs", style="bold"))
        for key, value in plan["outputs"].items():
            outputs.add(Text(f"{key} = {_short(value)}"))
        parts.append(outputs)
    for warning in plan["warnings"]:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    return Group(*parts)


def summary_lines(plan: dict[str, Any]) -> list[str]:
    """A few lines: resources by type (custom resources only) for what the models share and for each model,
    warnings, and what the plan is."""
    counts = counts_by_type(plan)
    members, titles = _grouping(plan)
    lines = [f"stack {plan['stack']}: {sum(counts.values())} Azure resources declared (desired state under pulumi mocks, not a cloud preview)"]
    if not several(titles):
        lines += [f"  {n:3d}  {typ}" for typ, n in sorted(counts.items())]
    for key, group in titles.items() if several(titles) else ():
        own = counts_by_type({"resources": [r for r in plan["resources"] if members.get(r["urn"]) == key]})
        lines.append(f"{group.title}: {sum(own.values())}")
        for typ, n in sorted(own.items()):
            lines.append(f"  {n:3d}  {typ}")
    lines += [f"warning: {w}" for w in plan["warnings"]]
    return lines
