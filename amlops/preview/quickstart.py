"""The quickstart's preview stage: `amlops check` for the stack, then a promotion dry run and its diff."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from amlops.paths import ROOT

if TYPE_CHECKING:
    from amlops.quickstart_context import Context


def quickstart_stage(ctx: "Context", root: Path = ROOT) -> None:
    """Check the stack's plan, promote the latest version into a copy of the checkout, print both diffs.

    Changes no file of the checkout: the promotion edits a temporary copy.
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
            return
        out.print(f"promotion dry run of {ref} into {ctx.stack} (a copy; no file here changes):", highlight=False)
        out.print(result.gate.describe(), highlight=False, markup=False)
        for action in result.actions:
            out.print(f"- {action}", highlight=False, markup=False)
        if result.after == result.before:
            return
        out.print(result.unified_diff(f"stacks/{result.path.name}"), end="", highlight=False, markup=False)
        diff = diff_plans(plan_at(ctx.stack, root, "working tree"), plan_at(ctx.stack, copy, "after the promotion"),
                          "working tree", "after the promotion")
        out.print(render(diff, "text"), end="", highlight=False, markup=False)
