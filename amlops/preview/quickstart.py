"""The quickstart's preview stage: `amlops check` for the stack, then a promotion dry run and its diff; the same for the
two-model stack the train stage wrote, with a new version of the diabetes regressor, whose diff touches only its resources."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from amlops.paths import ROOT

if TYPE_CHECKING:
    from amlops.quickstart_context import Context


def quickstart_stage(ctx: "Context", root: Path = ROOT) -> None:
    """Check the stack's plan, promote the latest version into a copy of the checkout, print both diffs; then the
    same over the two-model stack (two_models).

    Changes no file of the checkout nor the two-model stack: each promotion edits a temporary copy.
    """
    from amlops.policy.report import render as render_check
    from amlops.policy.runner import check_stack
    from amlops.preview import diff_plans, plan_at, render
    from amlops.preview.worktree import copy_working_tree
    from amlops.promotion import PromotionRefused, promote

    out = ctx.console
    report = check_stack(ctx.stack, root)
    out.print(render_check(report, "text"), end="", highlight=False, markup=False)
    with tempfile.TemporaryDirectory(prefix="amlops-quickstart-") as tmp:
        copy = copy_working_tree(root, Path(tmp))
        ref = f"{ctx.model_name}:{ctx.model_version}"
        try:
            result = promote(ctx.stack, ctx.model_name, ctx.model_version, registry=ctx.registry, stacks_dir=copy / "stacks")
        except PromotionRefused as exc:
            out.print(f"promotion dry run of {ref} into {ctx.stack}: refused: {exc}", highlight=False, markup=False)
            result = None
        if result is not None:
            out.print(f"promotion dry run of {ref} into {ctx.stack} (a copy; no file here changes):", highlight=False)
            out.print(result.gate.describe(), highlight=False, markup=False)
            for action in result.actions:
                out.print(f"- {action}", highlight=False, markup=False)
            if result.after != result.before:
                out.print(result.unified_diff(f"stacks/{result.path.name}"), end="", highlight=False, markup=False)
                diff = diff_plans(plan_at(ctx.stack, root, "working tree"), plan_at(ctx.stack, copy, "after the promotion"),
                                  "working tree", "after the promotion")
                out.print(render(diff, "text"), end="", highlight=False, markup=False)
    if ctx.stacks_dir is not None:
        two_models(ctx, root)


def two_models(ctx: "Context", root: Path = ROOT) -> None:
    """`amlops check` over the two-model stack, then a dry run promoting a new diabetes version into a copy of it: the
    desired-state diff is grouped by model, and says which models it touches (only diabetes)."""
    from amlops.paths import STACKS_ENV
    from amlops.plan import run_plan
    from amlops.policy.report import render as render_check
    from amlops.policy.runner import check_stack
    from amlops.preview import diff_plans, parse_plan, render
    from amlops.promotion import PromotionRefused, promote

    out = ctx.console
    source = ctx.stacks_dir / f"Pulumi.{ctx.stack}.yaml"
    before = run_plan(ctx.stack, root, stacks_dir=ctx.stacks_dir)
    out.print(f"the two-model stack, as `{STACKS_ENV}={ctx.stacks_dir} amlops check --stack {ctx.stack}` checks it:",
              highlight=False, markup=False, soft_wrap=True)
    report = check_stack(ctx.stack, root, planner=lambda stack, r: before, stacks_dir=ctx.stacks_dir)
    out.print(render_check(report, "text"), end="", highlight=False, markup=False)
    name, version = _diabetes_candidate(ctx)
    ref = f"{name}:{version}"
    with tempfile.TemporaryDirectory(prefix="amlops-quickstart-") as tmp:
        stacks = Path(tmp) / "stacks"
        shutil.copytree(ctx.stacks_dir, stacks)
        try:
            result = promote(ctx.stack, name, version, registry=ctx.registry, stacks_dir=stacks, endpoint="diabetes")
        except PromotionRefused as exc:
            out.print(f"promotion dry run of {ref} into the two-model stack: refused: {exc}", highlight=False, markup=False)
            return
        out.print(f"promotion dry run of {ref} into the two-model stack (a copy; no file here changes):", highlight=False, markup=False)
        out.print(result.gate.describe(), highlight=False, markup=False)
        for action in result.actions:
            out.print(f"- {action}", highlight=False, markup=False)
        if result.after == result.before:
            return
        out.print(result.unified_diff(f"Pulumi.{ctx.stack}.yaml"), end="", highlight=False, markup=False)
        after = run_plan(ctx.stack, root, stacks_dir=stacks)
    diff = diff_plans(parse_plan(before, source=f"plan of {source}"), parse_plan(after, source="plan after the promotion"),
                      "the two-model stack", "after the promotion")
    out.print(render(diff, "text"), end="", highlight=False, markup=False)
    touched = [group.key for group, changes in diff.by_group() if changes]
    untouched = [group.title for key, group in diff.groups.items() if key not in touched]
    ctx.facts["two_model_promotion"] = diff
    out.print(
        f"the promotion of {ref} changes {len(diff.changes)} resource(s), all of model {', '.join(touched)}; "
        f"unchanged: {'; '.join(untouched) or 'nothing else'}"
        if len(touched) == 1 else f"the promotion of {ref} changes resources of {', '.join(touched)}",
        highlight=False, markup=False, soft_wrap=True,
    )


def _diabetes_candidate(ctx: "Context") -> tuple[str, int]:
    """A new version of the diabetes regressor to promote: Ridge retrained on another 80/20 split, registered with its
    held-out R² as the score the promotion gate compares (a regressor has no accuracy; a user passes it with
    `amlops model register --accuracy`), behind the if-better gate, so a rerun promotes the best one registered."""
    from amlops.multimodel import diabetes
    from amlops.paths import state_dir

    # its own training rows beside it: the registered version's (the monitor's reference) stay as they are
    where = state_dir() / "quickstart"
    folder, r2 = diabetes.train(where / "diabetes-candidate", seed=7, data_path=where / "diabetes-candidate-training.csv")
    result = ctx.registry.register(diabetes.NAME, folder, if_better=True, accuracy=r2, extra_tags={"r2": f"{r2:.4f}"})
    ctx.console.print(f"a new diabetes version: Ridge on another split (seed 7), held-out R² {r2:.4f} as its gate score; {result.describe()}",
                      highlight=False, markup=False, soft_wrap=True)
    winner = result.registered or result.best
    assert winner is not None
    return winner.name, winner.version
