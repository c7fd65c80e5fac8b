"""`amlops plan` and `amlops check` read the stack file from AMLOPS_STACKS_DIR when set (as the local commands do),
unless --repo names a checkout, which brings its own stacks/."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from cli_support import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_plan_and_check_take_the_stack_file_from_amlops_stacks_dir(tmp_path, state, capsys, monkeypatch):
    stacks = tmp_path / "elsewhere"
    stacks.mkdir()
    shutil.copyfile(ROOT / "stacks" / "Pulumi.dev.yaml", stacks / "Pulumi.away.yaml")
    monkeypatch.setenv("AMLOPS_STACKS_DIR", str(stacks))
    monkeypatch.setenv("COLUMNS", "250")
    code, out, err = run_cli(capsys, monkeypatch, "plan", "--stack", "away", "--format", "json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["stack"] == "away"
    endpoints = [r["inputs"]["endpointName"] for r in plan["resources"] if r["type"] == "azure-native:machinelearningservices:OnlineEndpoint"]
    assert len(endpoints) == 1 and endpoints[0].startswith("loans-dev-online-"), endpoints
    code, out, err = run_cli(capsys, monkeypatch, "check", "--stack", "away")
    assert code == 0, err
    assert re.search(rf"^away: \d+ rules over {len(plan['resources'])} resources, 0 mandatory and 0 advisory finding\(s\): passed$", out, re.M), out
    # a checkout given with --repo brings its own stack files: `away` is not one of them
    code, _, err = run_cli(capsys, monkeypatch, "plan", "--stack", "away", "--repo", str(ROOT))
    assert code == 2 and "no stack file stacks/Pulumi.away.yaml for stack 'away'; known stacks: " in " ".join(err.split()), err
