"""The plan harness hides secret inputs, not only secret outputs (plans are printed and posted on PRs)."""

from __future__ import annotations

import json
from pathlib import Path

from amlops.plan import run_plan

PROGRAM = '''
import pulumi
from pulumi_azure_native import resources

rg = resources.ResourceGroup(
    "secretive-rg",
    resource_group_name="rg-secretive",
    location="westeurope",
    tags={"token": pulumi.Output.secret("nested-s3cr3t"), "owner": "ml-platform"},
)
resources.ResourceGroup(
    "whole-rg",
    resource_group_name=pulumi.Output.secret("rg-whole-s3cr3t"),
    location="westeurope",
)
pulumi.export("groupName", rg.name)
pulumi.export("groupTags", rg.tags)
'''


def _checkout(root: Path) -> Path:
    (root / "infra").mkdir(parents=True)
    (root / "infra" / "__main__.py").write_text(PROGRAM)
    (root / "stacks").mkdir()
    (root / "stacks" / "Pulumi.t.yaml").write_text("config: {}\n")
    return root


def test_plan_secret_inputs_are_recorded_as_secret_at_any_depth(tmp_path):
    plan = run_plan("t", _checkout(tmp_path / "tree"))
    text = json.dumps(plan)
    assert "s3cr3t" not in text, f"a secret input reached the plan: {text}"
    by_name = {r["name"]: r for r in plan["resources"]}
    nested = by_name["secretive-rg"]
    # The SDK lifts a nested secret to its top-level property: the whole tags map is secret.
    assert nested["inputs"]["tags"] == "[secret]", nested["urn"]
    assert nested["inputs"]["resourceGroupName"] == "rg-secretive", nested["urn"]
    whole = by_name["whole-rg"]
    assert whole["inputs"]["resourceGroupName"] == "[secret]", whole["urn"]
    # The mock still reads the secret name (it echoes inputs into outputs), and outputs derived
    # from a secret input stay secret, as they would in Azure.
    assert plan["outputs"] == {"groupName": "rg-secretive", "groupTags": "[secret]"}, plan["outputs"]
