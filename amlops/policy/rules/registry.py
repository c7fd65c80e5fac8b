"""The rule registry: what a rule is, how one is declared, and the severities (used by every rules module)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from amlops.policy.subject import Subject, Violation

MANDATORY = "mandatory"
ADVISORY = "advisory"
SEVERITIES = (MANDATORY, ADVISORY)

Finding = tuple["str | None", str]
"""(URN or None for the whole stack, message)."""
Check = Callable[[Subject], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """A policy rule: id (kebab-case, also the CrossGuard policy name), severity, one-line description.

    A rule that judges several kinds of resource (endpoint-auth: online and batch endpoints) has one
    check per rules module that holds its part; they run in the order they were declared.
    """

    id: str
    severity: str
    description: str
    checks: tuple[Check, ...]

    def run(self, subject: Subject) -> list[Violation]:
        return [Violation(self.id, self.severity, message, urn) for check in self.checks for urn, message in check(subject)]


RULES: list[Rule] = []


def rule(id: str, severity: str) -> Callable[[Check], Check]:
    """Register a rule's check; the first check's docstring's first line is the rule's description.

    Declaring the same id again (from another rules module, with the same severity) adds that
    module's part of the rule.
    """
    assert severity in SEVERITIES

    def register(fn: Check) -> Check:
        for i, known in enumerate(RULES):
            if known.id == id:
                assert known.severity == severity, f"rule {id}: declared {known.severity} and {severity}"
                RULES[i] = Rule(id, severity, known.description, (*known.checks, fn))
                return fn
        RULES.append(Rule(id, severity, (fn.__doc__ or "").strip().splitlines()[0], (fn,)))
        return fn

    return register


def by_id() -> dict[str, Rule]:
    return {r.id: r for r in RULES}


def number(value: Any) -> float | None:
    """Ints arrive as floats from the mocks and autoscale capacities are strings in ARM."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
