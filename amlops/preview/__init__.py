"""Pull-request previews: the desired-state diff between a git revision and the working tree.

`diff_revision` plans the stack at REV (checked out in a temporary worktree) and in the
working tree, then `diff_plans` matches resources by URN; `render` prints the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from amlops.preview.compare import PlanDiff, diff_plans
from amlops.plan.document import DESIRED_STATE_NOTE, Plan, PlanError, parse_plan
from amlops.preview.render import FORMATS, render
from amlops.preview.worktree import GitError, RevisionNotFound, checkout, has_file, repo_root, resolve

Planner = Callable[[str, Path], dict[str, Any]]
"""`(stack, root) -> plan document`; amlops.plan.run_plan by default."""

__all__ = [
    "DESIRED_STATE_NOTE", "FORMATS", "GitError", "Plan", "PlanDiff", "PlanError", "Planner",
    "RevisionNotFound", "diff_plans", "diff_revision", "parse_plan", "plan_at", "render",
]


def _default_planner() -> Planner:
    from amlops.plan import run_plan

    return run_plan


def plan_at(stack: str, root: Path, label: str, planner: Planner | None = None) -> Plan:
    """The plan of `stack` for the tree at `root`; empty (with a warning) if the stack file is absent there."""
    if not (root / "stacks" / f"Pulumi.{stack}.yaml").is_file():
        return Plan(stack=stack, resources={}, warnings=(f"stack {stack!r} has no stack file at {label}: every resource counts as new",))
    doc = (planner or _default_planner())(stack, root)
    return parse_plan(doc, source=f"plan of stack {stack} at {label}")


def diff_revision(stack: str, base: str, repo: Path, planner: Planner | None = None) -> PlanDiff:
    """Plan `stack` at git revision `base` (temporary worktree) and in `repo`'s working tree; diff them."""
    repo = repo_root(repo)
    commit = resolve(repo, base)
    rel = f"stacks/Pulumi.{stack}.yaml"
    if not (repo / rel).is_file() and not has_file(repo, commit, rel):
        from amlops.stackfile import stack_path

        stack_path(stack, repo / "stacks")  # StackNotFound listing the stacks there are: no changes would be a lie
    base_label = base if commit.startswith(base) else f"{base} ({commit[:7]})"
    head_label = "working tree"
    with checkout(repo, commit) as tree:
        base_plan = plan_at(stack, tree, base_label, planner)
    head_plan = plan_at(stack, repo, head_label, planner)
    return diff_plans(base_plan, head_plan, base_label=base_label, head_label=head_label)
