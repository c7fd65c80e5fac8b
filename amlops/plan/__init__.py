"""The offline plan: a stack's desired state, from its Pulumi program run under mocks.

`run_plan` runs `harness.py` in a subprocess (one process per stack; the harness can plan
any checkout, which `amlops diff` uses for other git revisions).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from amlops.paths import ROOT
from amlops.plan.document import PlanError

HARNESS = Path(__file__).resolve().parent / "harness.py"
OFFLINE_ENV = "AMLOPS_PLAN_OFFLINE"


def run_plan(stack: str, root: Path = ROOT, env: dict[str, str] | None = None, stacks_dir: Path | None = None) -> dict[str, Any]:
    """The plan document of `stack` in the checkout at `root` (its stack file from `stacks_dir`, default root/stacks);
    raises PlanError with the harness's stderr."""
    from amlops.stackfile import stack_path

    stack_path(stack, stacks_dir or root / "stacks")  # StackNotFound (a usage error) before starting a process
    child_env = {**os.environ, **(env or {}), OFFLINE_ENV: "1"}
    proc = subprocess.run(
        [sys.executable, str(HARNESS), "--stack", stack, "--root", str(root), *(["--stacks", str(stacks_dir)] if stacks_dir else [])],
        capture_output=True,
        text=True,
        env=child_env,
        check=False,
    )
    if proc.returncode != 0:
        message = proc.stderr.strip() or f"the plan harness exited with status {proc.returncode}"
        raise PlanError(f"plan of stack {stack!r} failed:\n{message}")
    try:
        plan = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise PlanError(f"plan of stack {stack!r}: the harness printed no JSON document ({exc})") from None
    if plan.get("kind") != "amlops-plan":
        raise PlanError(f"plan of stack {stack!r}: unexpected document kind {plan.get('kind')!r}")
    return plan


__all__ = ["HARNESS", "PlanError", "run_plan"]


def quickstart_stage(ctx) -> None:
    """The quickstart's plan stage: plan ctx.stack offline and print resource counts by type; then the two-model stack
    the train stage wrote (as `AMLOPS_STACKS_DIR=<its folder> amlops plan` plans it), shared first, then model by model."""
    from amlops.paths import STACKS_ENV
    from amlops.plan.render import summary_lines

    document = run_plan(ctx.stack)
    for line in summary_lines(document):
        ctx.console.print(line, highlight=False)
    if ctx.stacks_dir is None:
        return
    ctx.console.print(f"the two-model stack, as `{STACKS_ENV}={ctx.stacks_dir} amlops plan --stack {ctx.stack}` plans it:",
                      highlight=False, markup=False, soft_wrap=True)
    two = run_plan(ctx.stack, stacks_dir=ctx.stacks_dir)
    ctx.facts["two_model_plan"] = two
    for line in summary_lines(two):
        ctx.console.print(line, highlight=False, markup=False, soft_wrap=True)
