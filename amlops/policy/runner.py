"""Run the policy rules over a stack's plan (`amlops check`) and collect the violations."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from amlops.errors import AmlopsError
from amlops.paths import ROOT
from amlops.policy.rules import MANDATORY, RULES, Rule
from amlops.policy.subject import Subject, Violation, environment_of
from amlops.plan.document import Plan, parse_plan
from amlops.plan.groups import SHARED, Group, groups, several


class PolicyViolations(AmlopsError):
    """A stack breaks at least one mandatory policy rule."""


@dataclass(frozen=True)
class CheckReport:
    """Every rule that ran over one stack's plan and what each found."""

    stack: str
    environment: str
    rules: tuple[Rule, ...]
    violations: tuple[Violation, ...]
    resources: int
    members: Mapping[str, str] = field(default_factory=dict)
    """Each resource's URN → its model key or SHARED (amlops/plan/groups.py)."""
    groups: Mapping[str, Group] = field(default_factory=dict)
    """Every group of the plan, SHARED first, then the models by key."""

    def by_group(self) -> list[tuple[Group, list[Violation]]]:
        """The findings split by the model of their resource (SHARED first, and for a finding on no resource)."""
        split: dict[str, list[Violation]] = {}
        for v in self.violations:
            split.setdefault(self.members.get(v.urn or "", SHARED) if several(self.groups) else "", []).append(v)
        order = [k for k in self.groups if k in split] + [k for k in split if k not in self.groups]
        return [(self.groups.get(k) or Group(k), split[k]) for k in order]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == MANDATORY]

    @property
    def passed(self) -> bool:
        """No mandatory rule is broken (advisory findings do not fail a check)."""
        return not self.mandatory

    def raise_if_failed(self) -> None:
        """PolicyViolations naming the broken mandatory rules, if any."""
        if self.passed:
            return
        rules = sorted({v.rule for v in self.mandatory})
        raise PolicyViolations(
            f"stack {self.stack} has {len(self.mandatory)} mandatory finding(s) ({', '.join(rules)}); "
            "fix each as its message says (the rules: amlops check --list-rules)"
        )


def check_plan(
    plan: Plan,
    *,
    config: Mapping[str, Any] | None = None,
    environment: str | None = None,
    stack_file: str | None = None,
    rules: Sequence[Rule] = RULES,
) -> CheckReport:
    """Run `rules` over `plan`; environment defaults to the plan's `environment` tag, else its stack."""
    env = environment or environment_of(plan)
    subject = Subject(plan, env, config, stack_file=stack_file or f"stacks/Pulumi.{plan.stack}.yaml")
    violations = [v for r in rules for v in r.run(subject)]
    members, titles = groups(plan)
    return CheckReport(plan.stack, env, tuple(rules), tuple(violations), len(plan.resources), members, titles)


def check_stack(
    stack: str, root: Path = ROOT, planner: Callable[[str, Path], dict[str, Any]] | None = None, stacks_dir: Path | None = None
) -> CheckReport:
    """Validate the stack file (in `stacks_dir`, default root/stacks), plan it offline, and run every rule (plan first,
    config where the plan lacks a fact)."""
    from amlops.stackfile import load_stack

    cfg = load_stack(stack, stacks_dir or root / "stacks")
    if planner is None:
        from amlops.plan import run_plan

        def planner(s: str, r: Path) -> dict[str, Any]:
            return run_plan(s, r, stacks_dir=stacks_dir)
    plan = parse_plan(planner(stack, root), source=f"plan of stack {stack}")
    shown = None if stacks_dir is None else str(stacks_dir / f"Pulumi.{stack}.yaml")
    return check_plan(plan, config=cfg.model_dump(mode="json", by_alias=True), stack_file=shown)
