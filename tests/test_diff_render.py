"""Plan comparison and rendering on hand-written plans: classification, secrets, formats, bad documents."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from amlops.preview import diff_plans, diff_revision, parse_plan, render
from amlops.plan.document import PlanError
from plan_fixtures import AML, changed, find, sample_plan


def _diff(base: dict, head: dict):
    return diff_plans(parse_plan(base), parse_plan(head), "main", "working tree")


def test_diff_identical_plans_have_no_changes():
    doc = sample_plan("dev")
    diff = _diff(doc, changed(doc))
    assert (diff.empty, diff.unchanged) == (True, len(doc["resources"]))
    assert render(diff, "markdown").splitlines()[-1] == f"No changes: {len(doc['resources'])} resources unchanged."


def test_diff_location_change_forces_replacement_and_tags_update_in_place():
    base = sample_plan("dev")
    head = changed(base)
    find(head, "StorageAccount")["inputs"]["location"] = "northeurope"
    find(head, "OnlineEndpoint")["inputs"]["tags"]["owner"] = "ml-serving"
    text = render(_diff(base, head), "text")
    assert text.splitlines()[3:] == [
        "  ~  update   machinelearningservices:OnlineEndpoint  loans-online",
        "        tags.owner: ml-platform → ml-serving",
        "  +- replace  storage:StorageAccount                  loans-storage",
        "        location: westeurope → northeurope  (forces replacement)",
        "",
        f"0 to add, 1 to replace, 1 to update, 0 to remove, {len(base['resources']) - 2} unchanged",
    ]


def test_diff_asset_property_change_is_a_replacement():
    base = sample_plan("dev")
    head = changed(base)
    find(head, "ModelVersion")["inputs"]["properties"]["tags"]["accuracy"] = "0.9"
    [change] = _diff(base, head).changes
    assert (change.action, change.name, [(p.path, p.old, p.new, p.replaces) for p in change.changes]) == (
        "replace", "loans-model", [("properties.tags.accuracy", "0.865", "0.9", True)])


def test_diff_secrets_are_masked_by_marker_and_by_name():
    base = sample_plan("dev")
    head = changed(base)
    find(head, ":Workspace")["inputs"]["connectionString"] = "InstrumentationKey=new"
    find(base, "OnlineDeployment")["inputs"]["properties"]["environmentVariables"] = {
        "API_KEY": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "old"}}
    find(head, "OnlineDeployment")["inputs"]["properties"]["environmentVariables"] = {
        "API_KEY": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "new"}}
    out = render(_diff(base, head), "json")
    doc = json.loads(out)
    assert [(c["name"], [(p["path"], p["old"], p["new"]) for p in c["properties"]]) for c in doc["changes"]] == [
        ("loans-online-blue", [("properties.environmentVariables.API_KEY", "[secret]", "[secret]")]),
        ("loans-workspace", [("connectionString", "[secret]", "[secret]")]),
    ]
    assert "InstrumentationKey" not in out and '"old"' not in out.replace('"old": "[secret]"', "")


def test_diff_markdown_has_summary_table_and_collapsible_details():
    base = sample_plan("prod")
    head = changed(base)
    head["resources"] = [r for r in head["resources"] if not r["type"].endswith("CodeVersion")]
    find(head, "OnlineDeployment")["inputs"]["sku"]["capacity"] = 3
    md = render(_diff(base, head), "markdown")
    assert md == (
        f"### Stack `prod`: 0 to add, 0 to replace, 1 to update, 1 to remove, {len(base['resources']) - 2} unchanged\n"
        "\n"
        "> `amlops diff` main → working tree: compares desired states: the Pulumi program run offline under mocks at "
        "each revision, not a cloud preview (no credentials, no network; drift and values Azure computes are not shown).\n"
        "\n"
        "| action | type | name | properties changed |\n"
        "|---|---|---|---|\n"
        "| ➖ remove | `machinelearningservices:CodeVersion` | `loans-scoring-code` |  |\n"
        "| ✏️ update | `machinelearningservices:OnlineDeployment` | `loans-online-blue` | 1 |\n"
        "\n"
        "<details><summary>Property changes</summary>\n"
        "\n"
        "**✏️ update** `machinelearningservices:OnlineDeployment` `loans-online-blue`\n"
        "\n"
        "| property | old | new |\n"
        "|---|---|---|\n"
        "| `sku.capacity` | `2` | `3` |\n"
        "\n"
        "</details>\n"
    )


def test_diff_protect_option_change_is_reported():
    base = sample_plan("prod")
    head = changed(base)
    find(head, "Vault")["protect"] = False
    [change] = _diff(base, head).changes
    assert [(p.path, p.old, p.new) for p in change.changes] == [("(options).protect", True, False)]


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.update(kind="pulumi-preview"), "plan: kind: must be 'amlops-plan', got 'pulumi-preview' (is this an `amlops plan --format json` output?)"),
    (lambda d: d.update(version=2), "plan: version: this amlops reads version 1, got 2"),
    (lambda d: d["resources"][3].pop("inputs"), "plan: resources[3].inputs: is required"),
    (lambda d: d["resources"][1].update(type=7), "plan: resources[1].type: must be str, got int"),
    (lambda d: d["resources"].append(dict(d["resources"][0])), f"plan: resources[{len(sample_plan()['resources'])}].urn: "
     f"{sample_plan()['resources'][0]['urn']} appears twice"),
])
def test_diff_malformed_plan_document_names_the_field(mutate, message):
    doc = sample_plan("dev")
    mutate(doc)
    with pytest.raises(PlanError) as err:
        parse_plan(doc)
    assert str(err.value) == message


def test_diff_worktree_is_removed_when_planning_fails(tmp_path):
    repo = tmp_path / "repo"
    (repo / "stacks").mkdir(parents=True)
    (repo / "stacks" / "Pulumi.dev.yaml").write_text("config: {}\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "c"], check=True)
    seen: list[Path] = []

    def failing_planner(stack: str, root: Path) -> dict:
        seen.append(root)
        raise PlanError(f"plan of stack {stack!r} failed: boom")

    with pytest.raises(PlanError, match="boom"):
        diff_revision("dev", "HEAD", repo, planner=failing_planner)
    listed = subprocess.run(["git", "-C", str(repo), "worktree", "list"], capture_output=True, text=True).stdout
    assert (len(listed.splitlines()), seen[0].exists()) == (1, False)


def test_diff_stack_missing_at_base_counts_everything_as_added(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README").write_text("x\n")
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "c"], check=True)
    (repo / "stacks").mkdir()
    (repo / "stacks" / "Pulumi.dev.yaml").write_text("config: {}\n")
    diff = diff_revision("dev", "HEAD", repo, planner=lambda stack, root: sample_plan(stack))
    assert (diff.count("add"), diff.warnings) == (
        len(sample_plan()["resources"]), (f"stack 'dev' has no stack file at HEAD ({diff.base_label[6:13]}): every resource counts as new",))
