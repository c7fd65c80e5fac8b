"""`amlops plan`: the JSON document, the text tree, the quickstart summary and the errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from types import SimpleNamespace

import pytest
from rich.console import Console
from typer.testing import CliRunner

import amlops.plan
from amlops.cli import app

@pytest.fixture(scope="module")
def prod_json() -> dict:
    """`amlops plan --stack prod --format json`, run for real once."""
    result = CliRunner().invoke(app, ["plan", "--stack", "prod", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_plan_json_lists_every_component_and_says_desired_state(prod_json):
    assert prod_json["kind"] == "amlops-plan" and prod_json["stack"] == "prod"
    assert "not a cloud preview" in prod_json["note"]
    # which components the program declares is test_infra_plan's subject; here: the document's shape
    urns = {r["urn"] for r in prod_json["resources"]}
    for r in prod_json["resources"]:
        assert set(r) >= {"urn", "type", "name", "inputs", "parent", "dependencies", "protect", "ignoreChanges", "custom"}, r["urn"]
        assert r["parent"] is None or r["parent"] in urns, r["urn"]
        assert set(r["dependencies"]) <= urns, r["urn"]
    types = {r["type"] for r in prod_json["resources"]}
    for azure in ("OnlineEndpoint", "OnlineDeployment", "BatchEndpoint", "BatchDeployment", "CodeVersion", "EnvironmentVersion", "Compute", "Workspace"):  # prod's model is in its Azure ML registry: no ModelVersion
        assert f"azure-native:machinelearningservices:{azure}" in types, azure


def test_plan_text_is_a_tree_with_options_and_hidden_secrets(prod_json, monkeypatch):
    monkeypatch.setattr(amlops.plan, "run_plan", lambda stack, root=None: prod_json)
    result = CliRunner().invoke(app, ["plan", "--stack", "prod"], env={"COLUMNS": "240"}, terminal_width=240)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("note: desired state of the Pulumi program under pulumi mocks; not a cloud preview")
    assert "├── online  amlops:online_endpoint:OnlineEndpoint" in out
    assert "online-endpoint  azure-native:machinelearningservices:OnlineEndpoint  ignoreChanges=properties.mirrorTraffic,properties.traffic" in out
    assert "workspace-keyvault  azure-native:keyvault:Vault  protect" in out
    assert "properties.enablePurgeProtection = true" in out
    assert "appInsightsConnectionString = [secret]" in out
    assert "InstrumentationKey" not in out


def test_plan_text_without_inputs_lists_only_resources(prod_json, monkeypatch):
    monkeypatch.setattr(amlops.plan, "run_plan", lambda stack, root=None: prod_json)
    result = CliRunner().invoke(app, ["plan", "--stack", "prod", "--no-inputs"], terminal_width=240)
    assert result.exit_code == 0, result.output
    assert "sku.capacity = " not in result.output  # inputs hidden (ignoreChanges=sku.capacity is an option)
    assert "online-blue  azure-native:machinelearningservices:OnlineDeployment" in result.output


def test_quickstart_stage_prints_counts_by_type(prod_json, monkeypatch):
    monkeypatch.setattr(amlops.plan, "run_plan", lambda stack, root=None: prod_json)
    console = Console(record=True, width=200)
    amlops.plan.quickstart_stage(SimpleNamespace(stack="prod", console=console, stacks_dir=None))
    lines = console.export_text().splitlines()
    counts = Counter(r["type"] for r in prod_json["resources"] if r["custom"])
    assert lines[0] == f"stack prod: {sum(counts.values())} Azure resources declared (desired state under pulumi mocks, not a cloud preview)"
    assert lines[1 : 1 + len(counts)] == [f"  {n:3d}  {t}" for t, n in sorted(counts.items())]
    assert f"  {counts['azure-native:storage:Blob']:3d}  azure-native:storage:Blob" in lines


def test_plan_unknown_stack_or_format_is_misuse():
    amlops_bin = [sys.executable, "-c", "from amlops.cli import main; main()"]
    proc = subprocess.run([*amlops_bin, "plan", "--stack", "nope"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: no stack file stacks/Pulumi.nope.yaml for stack 'nope'; known stacks: dev, prod, staging"
    proc = subprocess.run([*amlops_bin, "plan", "--format", "yaml"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --format must be one of text, json, got 'yaml'"
