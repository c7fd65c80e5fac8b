"""`amlops diff` over real commits in a temporary git repository (a copy of this checkout's files)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from amlops.plan import run_plan
from amlops.preview.worktree import copy_working_tree
from amlops.promotion import promote
from cli_support import FakeRegistry, run_cli

ROOT = Path(__file__).resolve().parent.parent
AML = "machinelearningservices"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A git repository whose first commit holds this checkout's files (what git sees of them), with dev's
    model in the local MLflow registry: these diffs follow a promotion through the ModelVersion it adds,
    which a model of an Azure ML registry (the committed stacks' `azuremlRegistry`) is referenced without."""
    repo = tmp_path_factory.mktemp("template") / "repo"
    copy_working_tree(ROOT, repo)
    dev = repo / "stacks" / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("    azuremlRegistry: loansreg\n", ""))
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "base")
    return repo


@pytest.fixture
def repo(template, tmp_path, state) -> Path:
    """A fresh clone of the template to commit changes in (the registry is empty: state fixture)."""
    dest = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(template), str(dest)], check=True)
    return dest


def diff_json(capsys, monkeypatch, repo: Path, base: str = "HEAD~1") -> dict:
    code, out, err = run_cli(capsys, monkeypatch, "diff", "--stack", "dev", "--base", base, "--format", "json", "--repo", str(repo))
    assert (code, err) == (0, "")
    return json.loads(out)


def worktrees(repo: Path) -> list[str]:
    return [line for line in git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]


def changes(doc: dict) -> list[tuple[str, str, str]]:
    return [(c["action"], c["type"].removeprefix("azure-native:"), c["name"]) for c in doc["changes"]]


def properties(doc: dict, name: str) -> list[tuple[str, object, object, bool]]:
    found = [c for c in doc["changes"] if c["name"] == name]
    assert len(found) == 1, name
    return [(p["path"], p["old"], p["new"], p["replaces"]) for p in found[0]["properties"]]


def test_diff_no_change_reports_every_resource_unchanged(repo, capsys, monkeypatch):
    resources = len(run_plan("dev", repo)["resources"])
    code, out, err = run_cli(capsys, monkeypatch, "diff", "--stack", "dev", "--base", "HEAD", "--repo", str(repo))
    assert (code, err) == (0, "")
    sha = git(repo, "rev-parse", "--short=7", "HEAD").strip()
    assert out.splitlines()[:4] == [
        f"amlops diff: stack dev, HEAD ({sha}) → working tree",
        "note: compares desired states: the Pulumi program run offline under mocks at each revision, not a cloud "
        "preview (no credentials, no network; drift and values Azure computes are not shown)",
        "",
        f"no changes: {resources} resources unchanged",
    ]
    assert worktrees(repo) == [f"worktree {repo}"]  # the temporary worktree is gone


def test_diff_scoring_script_change_replaces_code_asset_and_updates_deployment(repo, capsys, monkeypatch):
    score = repo / "scoring" / "score.py"
    score.write_text(score.read_text() + "\n# a one-line change\n")
    commit(repo, "scoring: comment")
    doc = diff_json(capsys, monkeypatch, repo)
    assert doc["note"].startswith("compares desired states")
    assert changes(doc) == [
        ("replace", f"{AML}:CodeVersion", "scoring-code-version"),
        ("replace", "storage:Blob", "scoring-code-datacollection.py"),
        ("replace", "storage:Blob", "scoring-code-environment/conda.yaml"),
        ("replace", "storage:Blob", "scoring-code-score.py"),
        ("replace", "storage:Blob", "scoring-code-score_multi.py"),
        ("update", f"{AML}:OnlineDeployment", "online-blue"),
    ]
    version = properties(doc, "scoring-code-version")
    old, new = version[-1][1], version[-1][2]
    assert [(path, a, b, r) for path, a, b, r in version[1:]] == [
        ("properties.tags.contentHash", old, new, True),
        ("version", old, new, True),
    ]
    [(path, old_uri, new_uri, replaces)] = version[:1]
    assert (path, old_uri.endswith(f"/loans-scoring/{old}"), new_uri.endswith(f"/loans-scoring/{new}"), replaces) == (
        "properties.codeUri", True, True, True)
    assert old != new
    [(path, _, code_id, replaces)] = properties(doc, "online-blue")
    assert (path, code_id.endswith(f"/codeVersions/loans-scoring/versions/{new}"), replaces) == (
        "properties.codeConfiguration.codeId", True, False)
    assert [(o["path"], o["old"], o["new"]) for o in doc["outputs"]] == [("scoringCodeVersion", old, new)]


def test_diff_model_promotion_adds_deployment_and_model_version(repo, capsys, monkeypatch):
    promote("dev", "chapter12-loans", 2, registry=FakeRegistry(), stacks_dir=repo / "stacks")
    commit(repo, "promote chapter12-loans:2 to dev")
    doc = diff_json(capsys, monkeypatch, repo)
    assert changes(doc) == [
        ("add", f"{AML}:ModelVersion", "model-v2"),
        ("add", f"{AML}:OnlineDeployment", "online-green"),
        ("update", "pulumi-python:dynamic:Resource", "online-traffic"),
    ]
    assert properties(doc, "online-traffic") == [("traffic.green", None, 0, False)]
    assert [(o["path"], o["old"], o["new"]) for o in doc["outputs"]] == [
        ("modelVersions[1]", None, 2), ("onlineDeploymentNames[1]", None, "green"),
    ]


def test_diff_removed_deployment_is_listed_as_removed(repo, capsys, monkeypatch):
    promote("dev", "chapter12-loans", 2, registry=FakeRegistry(), stacks_dir=repo / "stacks")
    commit(repo, "promote chapter12-loans:2 to dev")
    promote("dev", "chapter12-loans", 2, registry=FakeRegistry(), stacks_dir=repo / "stacks", finish=True)
    commit(repo, "finish: green takes all traffic, blue retired")
    code, out, err = run_cli(capsys, monkeypatch, "diff", "--stack", "dev", "--base", "HEAD~1", "--format", "markdown", "--repo", str(repo))
    assert (code, err) == (0, "")
    sha = git(repo, "rev-parse", "--short=7", "HEAD~1").strip()
    resources = len(run_plan("dev", repo)["resources"])
    assert out.split("<details>")[0] == (
        f"### Stack `dev`: 0 to add, 0 to replace, 3 to update, 2 to remove, {resources - 3} unchanged\n"
        "\n"
        f"> `amlops diff` HEAD~1 ({sha}) → working tree: compares desired states: the Pulumi program run offline under "
        "mocks at each revision, not a cloud preview (no credentials, no network; drift and values Azure computes are not shown).\n"
        "\n"
        "| action | type | name | properties changed |\n"
        "|---|---|---|---|\n"
        "| ✏️ update | `machinelearningservices:BatchDeployment` | `batch-deployment` | 1 |\n"
        "| ➖ remove | `machinelearningservices:ModelVersion` | `model-v1` |  |\n"
        "| ✏️ update | `machinelearningservices:Schedule` | `monitor-schedule` | 4 |\n"
        "| ➖ remove | `machinelearningservices:OnlineDeployment` | `online-blue` |  |\n"
        "| ✏️ update | `pulumi-python:dynamic:Resource` | `online-traffic` | 2 |\n"
        "\n"
    )
    assert "| `traffic.blue` | `100` | `(absent)` |\n| `traffic.green` | `0` | `100` |\n" in out
    # the model monitor follows the live deployment: green's collected data, green as its target
    assert re.search(r"\| `properties\.action\.monitorDefinition\.monitoringTarget\.deploymentId` \| `azureml:loans-dev-online-\w+:blue` \| `azureml:loans-dev-online-\w+:green` \|", out)


def test_diff_unknown_base_revision_is_a_usage_error(repo, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "diff", "--stack", "dev", "--base", "no-such-branch", "--repo", str(repo))
    assert (code, out) == (2, "")
    assert err == (
        f"error: 'no-such-branch' is not a commit in {repo} (try HEAD, origin/main or a commit id; in CI fetch the "
        "base branch first, e.g. actions/checkout with fetch-depth: 0)\n"
    )
    assert worktrees(repo) == [f"worktree {repo}"]


def test_diff_of_a_stack_that_exists_at_neither_revision_is_a_usage_error(repo, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "diff", "--stack", "qa", "--base", "HEAD", "--repo", str(repo))
    assert (code, out) == (2, "")
    assert err == f"error: no stack file {repo / 'stacks' / 'Pulumi.qa.yaml'} for stack 'qa'; known stacks: dev, prod, staging\n"
    assert worktrees(repo) == [f"worktree {repo}"]  # refused before any worktree was made


def test_diff_of_a_stack_added_since_the_base_shows_every_resource_added(repo, capsys, monkeypatch):
    (repo / "stacks" / "Pulumi.qa.yaml").write_text((repo / "stacks" / "Pulumi.dev.yaml").read_text())
    code, out, err = run_cli(capsys, monkeypatch, "diff", "--stack", "qa", "--base", "HEAD", "--format", "json", "--repo", str(repo))
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["changes"] and {c["action"] for c in doc["changes"]} == {"add"}
