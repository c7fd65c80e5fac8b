"""The quickstart's profiling stage: a short profile of the local endpoint, printed, nothing written."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from amlops.paths import STACKS_DIR
from amlops.profiling.quickstart import QUICK_PLAN, quickstart_stage
from amlops.quickstart import Context
from amlops.registry import Registry
from amlops.stackfile import load_stack


@pytest.mark.slow
def test_profile_quickstart_stage_prints_table_and_recommendation(state, trained_model_dir):
    registry = Registry()
    version = registry.register("chapter12-loans", trained_model_dir).registered.version
    stack_text = (STACKS_DIR / "Pulumi.dev.yaml").read_text()
    out = io.StringIO()
    ctx = Context(stack="dev", cfg=load_stack("dev"), registry=registry, console=Console(file=out, width=120),
                  model_name="chapter12-loans", model_version=version)
    quickstart_stage(ctx)
    text = " ".join(out.getvalue().split())
    reports = list((state / "profiles").glob("*/profile.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    assert report["model"] == f"chapter12-loans:{version}"
    assert [s["concurrency"] for s in report["profile"]["steps"]] == QUICK_PLAN.concurrencies() == [1, 2, 4]
    assert all(s["requests"] <= 300 and s["errors"] == 0 for s in report["profile"]["steps"])
    assert f"recommendation: {report['recommendation']['verdict']}" in text
    assert "dev/blue at http://127.0.0.1:" in text
    assert "★ best" in text
    assert (STACKS_DIR / "Pulumi.dev.yaml").read_text() == stack_text  # no --write in the quickstart
