"""Render a PlanDiff as text (terminal), Markdown (one pull-request comment section) or JSON."""

from __future__ import annotations

import json
from typing import Any

from amlops.preview.compare import ACTIONS, PlanDiff, PropertyChange, ResourceChange
from amlops.plan.document import DESIRED_STATE_NOTE
from amlops.plan.groups import by_group

FORMATS = ("text", "markdown", "json")
_TEXT_MARK = {"add": "+", "replace": "+-", "update": "~", "remove": "-"}
_MD_MARK = {"add": "➕ add", "replace": "♻️ replace", "update": "✏️ update", "remove": "➖ remove"}
_MAX_VALUE = 120


def summary_line(diff: PlanDiff) -> str:
    """`1 to add, 0 to replace, 2 to update, 0 to remove, 40 unchanged`."""
    parts = [f"{diff.count(a)} to {a}" for a in ACTIONS]
    return ", ".join(parts) + f", {diff.unchanged} unchanged"


def _counts(changes: list[ResourceChange]) -> str:
    """`1 to replace, 2 to update` (only the actions that occur)."""
    return ", ".join(f"{n} to {a}" for a in ACTIONS if (n := sum(1 for c in changes if c.action == a)))


def short_type(type_: str) -> str:
    return type_.removeprefix("azure-native:")


def value_text(value: Any) -> str:
    """One value on one line: JSON for structures, bare strings, `(absent)` for a missing side."""
    if value is None:
        return "(absent)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) <= _MAX_VALUE:
        return text
    head = 30  # ids and URIs differ at their end: keep it
    return text[:head] + "…" + text[-(_MAX_VALUE - head - 1):]


def _change_text(c: PropertyChange) -> str:
    note = "  (forces replacement)" if c.replaces else ""
    return f"{c.path}: {value_text(c.old)} → {value_text(c.new)}{note}"


def to_text(diff: PlanDiff) -> str:
    lines = [
        f"amlops diff: stack {diff.stack}, {diff.base_label} → {diff.head_label}",
        f"note: {DESIRED_STATE_NOTE}",
        "",
    ]
    if diff.empty:
        lines.append(f"no changes: {diff.unchanged} resources unchanged")
    width = max((len(short_type(c.type)) for c in diff.changes), default=0)
    for group, changes in diff.by_group():
        if diff.several:
            lines.append(f"{group.title}: {_counts(changes)}")
        for c in changes:
            lines.append(f"  {_TEXT_MARK[c.action]:<2} {c.action:<8} {short_type(c.type):<{width}}  {c.name}")
            lines.extend(f"        {_change_text(p)}" for p in c.changes)
    if diff.output_changes:
        lines.append("  stack outputs:")
        lines.extend(f"        {_change_text(p)}" for p in diff.output_changes)
    if not diff.empty:
        lines += ["", summary_line(diff)]
    lines.extend(f"warning: {w}" for w in diff.warnings)
    return "\n".join(lines) + "\n"


def _md_cell(value: Any) -> str:
    text = value_text(value).replace("|", "\\|").replace("`", "'")
    return f"`{text}`"


def _md_details(c: ResourceChange) -> list[str]:
    lines = [f"**{_MD_MARK[c.action]}** `{short_type(c.type)}` `{c.name}`", "", "| property | old | new |", "|---|---|---|"]
    for p in c.changes:
        flag = " (forces replacement)" if p.replaces else ""
        lines.append(f"| `{p.path}`{flag} | {_md_cell(p.old)} | {_md_cell(p.new)} |")
    return lines + [""]


def _md_warnings(diff: PlanDiff) -> list[str]:
    return ["", *[f"- ⚠️ {w}" for w in diff.warnings]] if diff.warnings else []


def to_markdown(diff: PlanDiff) -> str:
    """One self-contained section: heading, note, summary table, collapsible property details."""
    lines = [
        f"### Stack `{diff.stack}`: {summary_line(diff)}",
        "",
        f"> `amlops diff` {diff.base_label} → {diff.head_label}: {DESIRED_STATE_NOTE}.",
        "",
    ]
    if diff.empty:
        lines.append(f"No changes: {diff.unchanged} resources unchanged.")
        return "\n".join(lines + _md_warnings(diff)).rstrip() + "\n"
    for i, (group, changes) in enumerate(diff.by_group()):
        if diff.several:
            lines += ([""] if i else []) + [f"**{group.title}**: {_counts(changes)}", ""]
        if diff.several or not i:
            lines += ["| action | type | name | properties changed |", "|---|---|---|---|"]
        for c in changes:
            lines.append(f"| {_MD_MARK[c.action]} | `{short_type(c.type)}` | `{c.name}` | {len(c.changes) or ''} |")
    detailed = [c for c in diff.changes if c.changes]
    if detailed or diff.output_changes:
        lines += ["", "<details><summary>Property changes</summary>", ""]
        for c in detailed:
            lines += _md_details(c)
        if diff.output_changes:
            lines += ["**stack outputs**", "", "| output | old | new |", "|---|---|---|"]
            lines += [f"| `{p.path}` | {_md_cell(p.old)} | {_md_cell(p.new)} |" for p in diff.output_changes]
            lines.append("")
        lines.append("</details>")
    return "\n".join(lines + _md_warnings(diff)).rstrip() + "\n"


def _model_counts(diff: PlanDiff) -> dict[str, Any]:
    """Changes per model (and SHARED), with each model's endpoints, for any number of models."""
    split = by_group([c.urn for c in diff.changes], diff.members)
    actions = {c.urn: c.action for c in diff.changes}
    return {
        key: {"endpoints": list(diff.groups[key].endpoints) if key in diff.groups else [], **{a: sum(1 for u in urns if actions[u] == a) for a in ACTIONS}}
        for key, urns in split.items()
    }


def to_json(diff: PlanDiff) -> str:
    doc = {
        "kind": "amlops-diff",
        "version": 1,
        "stack": diff.stack,
        "base": diff.base_label,
        "head": diff.head_label,
        "note": DESIRED_STATE_NOTE,
        "summary": {**{a: diff.count(a) for a in ACTIONS}, "unchanged": diff.unchanged},
        "models": _model_counts(diff),
        "changes": [
            {
                "action": c.action,
                "urn": c.urn,
                "type": c.type,
                "name": c.name,
                "model": diff.members.get(c.urn),
                "properties": [{"path": p.path, "old": p.old, "new": p.new, "replaces": p.replaces} for p in c.changes],
            }
            for c in diff.changes
        ],
        "outputs": [{"path": p.path, "old": p.old, "new": p.new} for p in diff.output_changes],
        "warnings": list(diff.warnings),
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def render(diff: PlanDiff, fmt: str) -> str:
    """The diff in one of FORMATS."""
    return {"text": to_text, "markdown": to_markdown, "json": to_json}[fmt](diff)
