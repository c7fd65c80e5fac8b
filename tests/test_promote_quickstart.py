"""The quickstart's preview stage: check, a promotion dry run into a copy, and the diffs; the checkout stays as it is."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from amlops.preview.quickstart import quickstart_stage
from amlops.quickstart import Context
from amlops.stackfile import load_stack
from cli_support import FakeRegistry

ROOT = Path(__file__).resolve().parent.parent


def test_promote_quickstart_stage_checks_promotes_a_copy_and_prints_the_diff(state):
    before = {p.name: p.read_text() for p in (ROOT / "stacks").glob("*.yaml")}
    console = Console(record=True, width=200)
    ctx = Context(stack="dev", cfg=load_stack("dev"), registry=FakeRegistry(), console=console,
                  model_name="chapter12-loans", model_version=2)
    quickstart_stage(ctx)
    lines = console.export_text().splitlines()
    assert lines[0] == "amlops check: stack dev (environment dev)"
    assert lines[1].endswith("0 mandatory and 0 advisory finding(s): passed")
    assert lines[2:5] == [
        "promotion dry run of chapter12-loans:2 into dev (a copy; no file here changes):",
        "gate passed: chapter12-loans:2 accuracy 0.8500 ≥ chapter12-loans:1's 0.8000 (served by blue; Δ +0.0500)",
        "- added deployment green serving version 2 (settings copied from blue) with 0% live traffic",
    ]
    assert "amlops diff: stack dev, working tree → after the promotion" in lines
    assert "  +  add      machinelearningservices:OnlineDeployment  online-green" in lines
    assert {p.name: p.read_text() for p in (ROOT / "stacks").glob("*.yaml")} == before
