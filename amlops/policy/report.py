"""Render a CheckReport as text, Markdown (a PR comment section) or JSON."""

from __future__ import annotations

import json

from amlops.plan.groups import SHARED, several
from amlops.policy.runner import CheckReport
from amlops.policy.rules import ADVISORY, MANDATORY

FORMATS = ("text", "markdown", "json")


def verdict(report: CheckReport) -> str:
    """`prod: 13 rules, 0 mandatory and 1 advisory finding(s): passed`."""
    m = len(report.mandatory)
    a = len(report.violations) - m
    outcome = "passed" if report.passed else "FAILED"
    return (
        f"{report.stack}: {len(report.rules)} rules over {report.resources} resources, "
        f"{m} mandatory and {a} advisory finding(s): {outcome}"
    )


def to_text(report: CheckReport) -> str:
    lines = [f"amlops check: stack {report.stack} (environment {report.environment})"]
    grouped = several(report.groups)
    for group, found in report.by_group():
        if grouped:
            lines.append(f"{group.title}:")
        for v in sorted(found, key=lambda v: (v.severity != MANDATORY, v.rule, v.urn or "")):
            lines.append(f"  {v.severity:<9} {v.rule}: {v.message}")
    lines.append(verdict(report))
    return "\n".join(lines) + "\n"


def to_markdown(report: CheckReport) -> str:
    icon = "✅" if report.passed else "❌"
    lines = [f"### {icon} `amlops check` stack `{report.stack}`", "", verdict(report), ""]
    for group, found in report.by_group():
        lines += ([f"**{group.title}**", ""] if several(report.groups) else []) + ["| severity | rule | finding |", "|---|---|---|"]
        for v in sorted(found, key=lambda v: (v.severity != MANDATORY, v.rule)):
            badge = "🛑 mandatory" if v.severity == MANDATORY else "💡 advisory"
            message = v.message.replace("|", "\\|")
            lines.append(f"| {badge} | `{v.rule}` | {message} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_json(report: CheckReport) -> str:
    doc = {
        "kind": "amlops-check",
        "version": 1,
        "stack": report.stack,
        "environment": report.environment,
        "passed": report.passed,
        "rules": [{"id": r.id, "severity": r.severity, "description": r.description} for r in report.rules],
        "violations": [
            {"rule": v.rule, "severity": v.severity, "urn": v.urn, "model": report.members.get(v.urn or "", SHARED), "message": v.message}
            for v in report.violations
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def rule_table() -> str:
    """Every rule as `id  severity  description`, one a line."""
    from amlops.policy.rules import RULES

    width = max(len(r.id) for r in RULES)
    return "".join(f"{r.id:<{width}}  {r.severity:<9}  {r.description}\n" for r in RULES)


def render(report: CheckReport, fmt: str) -> str:
    return {"text": to_text, "markdown": to_markdown, "json": to_json}[fmt](report)


__all__ = ["ADVISORY", "FORMATS", "MANDATORY", "render", "verdict"]
