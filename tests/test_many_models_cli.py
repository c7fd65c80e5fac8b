"""Every command works per model (issue 22), through the CLI: a stack with two models (the book's loans
classifier and a Ridge regressor on scikit-learn's bundled diabetes data), each with its own online and
batch endpoint; plan/diff/check grouped by model, promote finding the model's endpoint, serve/invoke/
keys/logs/swagger/batch/profile choosing an endpoint, and `config migrate` keeping a deployed stack's URNs."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from amlops.multimodel.diabetes import NAME
from amlops.multimodel.stack import write_two_model_stack
from amlops.paths import STACKS_ENV
from cli_support import run_cli
from models_support import ridge_case
from tree_support import copy_tree

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from amlops.cli import main; main()"]
DIABETES = NAME


def two_model_stack(stacks: Path, name: str = "two") -> Path:
    """stacks/Pulumi.<name>.yaml: dev rewritten by `amlops config migrate` (key loans) plus the diabetes model."""
    return write_two_model_stack(stacks / "Pulumi.dev.yaml", stacks / f"Pulumi.{name}.yaml")


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    """A copy of the checkout's program and stacks with the two-model stack `two`; the CLI reads its stacks."""
    root = copy_tree(ROOT, tmp_path / "repo")
    two_model_stack(root / "stacks")
    monkeypatch.setenv(STACKS_ENV, str(root / "stacks"))
    return root


@pytest.fixture
def registered(state, trained_model_dir, tmp_path) -> dict[str, Path]:
    """The loans model and the diabetes Ridge registered as version 1 in the test's registry."""
    from amlops.registry import Registry

    diabetes = ridge_case(tmp_path / "ridge").folder
    registry = Registry()
    for name, folder in (("chapter12-loans", trained_model_dir), (DIABETES, diabetes)):
        assert registry.register(name, folder).registered.version == 1
    return {"loans": trained_model_dir, "diabetes": diabetes}


# --- plan, check, diff: grouped by model -------------------------------------------------------------


def test_plan_two_models_shows_shared_then_each_model_with_its_endpoints(tree, state, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    code, out, err = run_cli(capsys, monkeypatch, "plan", "--stack", "two", "--repo", str(tree), "--no-inputs")
    assert code == 0, err
    shared, loans, diabetes = (out.index(t) for t in ("shared by every model", "model loans (endpoints", "model diabetes (endpoints"))
    assert shared < diabetes < loans or shared < loans < diabetes
    diabetes_part = out[diabetes:loans] if diabetes < loans else out[diabetes:]
    assert "diabetes-online  amlops:online_endpoint:OnlineEndpoint" in diabetes_part
    assert "loans-online" not in diabetes_part and "workspace-workspace  " not in diabetes_part
    assert re.search(r"model diabetes \(endpoints diabetes-dev-online-[0-9a-f]{6}, diabetes-dev-batch-[0-9a-f]{6}\)", out), out


def test_check_two_models_groups_findings_by_the_model_of_their_resource(tree, state, capsys, monkeypatch):
    from amlops.stackedit import StackEditor

    editor = StackEditor(tree / "stacks" / "Pulumi.two.yaml").focus("diabetes")
    editor.set("online", "deployments", "blue", "appInsightsEnabled", value=False)
    editor.save()
    code, out, err = run_cli(capsys, monkeypatch, "check", "--stack", "two", "--repo", str(tree), "--format", "json")
    doc = json.loads(out)
    found = [(v["rule"], v["model"]) for v in doc["violations"] if v["rule"] == "deployment-app-insights"]
    assert found == [("deployment-app-insights", "diabetes")], doc["violations"]
    code, text, err = run_cli(capsys, monkeypatch, "check", "--stack", "two", "--repo", str(tree))
    heading = text.index("model diabetes (endpoints")
    assert text.index("deployment-app-insights") > heading, text
    assert "model loans (endpoints" not in text[heading:text.index("deployment-app-insights")], text


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def test_diff_a_change_to_one_model_is_listed_under_that_model_only(tree, state, capsys, monkeypatch):
    from amlops.preview.worktree import copy_working_tree
    from amlops.stackedit import StackEditor

    repo = copy_working_tree(ROOT, tree.parent / "git")
    shutil.copyfile(tree / "stacks" / "Pulumi.two.yaml", repo / "stacks" / "Pulumi.two.yaml")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "two models")
    editor = StackEditor(repo / "stacks" / "Pulumi.two.yaml").focus("diabetes")
    editor.set("online", "deployments", "blue", "instanceCount", value=2)
    editor.save()
    code, out, err = run_cli(capsys, monkeypatch, "diff", "--stack", "two", "--base", "HEAD", "--repo", str(repo), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert {c["model"] for c in doc["changes"]} == {"diabetes"}, doc["changes"]
    assert [c["name"] for c in doc["changes"]] == ["diabetes-online-blue"]
    assert list(doc["models"]) == ["diabetes"] and doc["models"]["diabetes"]["update"] == 1
    code, text, err = run_cli(capsys, monkeypatch, "diff", "--stack", "two", "--base", "HEAD", "--repo", str(repo))
    assert re.search(r"^model diabetes \(endpoints [^)]*\): 1 to update$", text, re.M), text
    assert "model loans (" not in text and "shared by every model" not in text


# --- config migrate: comments kept, URNs kept through aliases, Azure names unchanged ------------------


def _old_urns(plan: dict) -> dict[str, str]:
    """Each resource's URN as Pulumi resolves it through aliases (an alias renames its resource, and its
    children's names that start with the parent's new name follow: Pulumi's alias inheritance)."""
    by_urn = {r["urn"]: r for r in plan["resources"]}
    old: dict[str, str] = {}

    def old_name(r: dict) -> str:
        if r.get("aliases"):
            return r["aliases"][0]
        parent = by_urn.get(r["parent"] or "")
        if parent is not None:
            renamed = old_name(parent)
            if renamed != parent["name"] and r["name"].startswith(parent["name"]):
                return renamed + r["name"][len(parent["name"]):]
        return r["name"]

    for urn, r in by_urn.items():
        old[urn[: urn.rindex("::") + 2] + old_name(r)] = urn
    return old


def test_config_migrate_keeps_comments_and_every_urn_and_input_of_a_deployed_stack(tmp_path, state, capsys, monkeypatch):
    from amlops.plan import run_plan

    before_root = copy_tree(ROOT, tmp_path / "before")
    after_root = copy_tree(ROOT, tmp_path / "after")
    monkeypatch.setenv(STACKS_ENV, str(after_root / "stacks"))
    original = (before_root / "stacks" / "Pulumi.prod.yaml").read_text()
    code, out, err = run_cli(capsys, monkeypatch, "config", "migrate", "--stack", "prod", "--key", "loans")
    assert code == 0, err
    assert out.rstrip().endswith("moved amlops:model, online and batch into amlops:models.loans; its Pulumi resources keep their URNs through aliases (see `amlops diff`)")
    migrated = (after_root / "stacks" / "Pulumi.prod.yaml").read_text()
    comments = [line.strip() for line in original.splitlines() if line.strip().startswith("#")]
    assert comments and all(c in migrated for c in comments)
    config = yaml.safe_load(migrated)["config"]
    assert "amlops:model" not in config and list(config["amlops:models"]) == ["loans"]
    assert config["amlops:models"]["loans"]["online"] == yaml.safe_load(original)["config"]["amlops:online"]
    before, after = run_plan("prod", before_root), run_plan("prod", after_root)
    resolved = _old_urns(after)
    assert sorted(resolved) == sorted(r["urn"] for r in before["resources"])
    inputs = {r["urn"]: r["inputs"] for r in after["resources"]}
    changed = [old for old, r in ((r["urn"], r) for r in before["resources"]) if inputs[resolved[old]] != r["inputs"]]
    assert changed == [], changed  # same Azure names and settings: `pulumi up` replaces and updates nothing
    aliased = sorted(r["name"] for r in after["resources"] if r.get("aliases"))
    assert "loans-online" in aliased and "monitoring-loans-rejected-loans" in aliased, aliased
    code, _, err = run_cli(capsys, monkeypatch, "config", "migrate", "--stack", "prod")
    assert (code, err.strip()) == (2, f"error: {after_root / 'stacks' / 'Pulumi.prod.yaml'}: already declares amlops:models; nothing to migrate")


# --- per-endpoint alerts and descriptions --------------------------------------------------------------


def test_plan_each_endpoint_alerts_on_its_own_rejections_and_its_description_names_its_model(tree, state):
    from amlops.plan import run_plan
    from amlops.stackedit import StackEditor

    editor = StackEditor(tree / "stacks" / "Pulumi.two.yaml")
    editor.set("monitoring", "alertsEnabled", value=True)
    editor.set("monitoring", "actionGroupEmail", value="ml-oncall@example.com")
    editor.save()
    plan = run_plan("two", tree)
    endpoints = {r["name"]: r["inputs"] for r in plan["resources"] if r["type"] == "azure-native:machinelearningservices:OnlineEndpoint"}
    assert {n: e["properties"]["description"] for n, e in endpoints.items()} == {
        "loans-online-endpoint": "model chapter12-loans, managed online endpoint",
        "diabetes-online-endpoint": f"model {DIABETES}, managed online endpoint",
    }
    queries = {r["inputs"]["ruleName"]: r["inputs"]["criteria"]["allOf"][0]["query"] for r in plan["resources"] if r["type"].endswith(":ScheduledQueryRule")}
    # The first model keeps a migrated stack's rule names; the other's carry its key.
    assert set(queries) == {"monitoring-rejected-loans", "monitoring-diabetes-rejected-loans"}
    for rule, online in (("monitoring-rejected-loans", "loans-online-endpoint"), ("monitoring-diabetes-rejected-loans", "diabetes-online-endpoint")):
        name = endpoints[online]["endpointName"]
        assert f'| where tostring(customDimensions.endpoint) == "{name}"' in queries[rule], queries[rule]
    deployments = {r["name"]: r["inputs"]["properties"]["environmentVariables"] for r in plan["resources"] if r["type"].endswith(":OnlineDeployment")}
    assert deployments["diabetes-online-blue"]["AMLOPS_ENDPOINT"] == endpoints["diabetes-online-endpoint"]["endpointName"]


# --- promote -------------------------------------------------------------------------------------------


def test_promote_finds_the_endpoint_serving_the_model_and_edits_only_its_entry(tree, state, capsys, monkeypatch):
    from cli_support import FakeRegistry
    from amlops import promotion

    path = tree / "stacks" / "Pulumi.two.yaml"
    before = path.read_text()
    result = promotion.promote("two", DIABETES, 2, registry=FakeRegistry(), stacks_dir=tree / "stacks", traffic={"green": 10})
    config = yaml.safe_load(path.read_text())["config"]
    diabetes = config["amlops:models"]["diabetes"]["online"]
    assert diabetes["deployments"]["green"]["modelVersion"] == 2 and diabetes["traffic"] == {"blue": 90, "green": 10}
    assert config["amlops:models"]["loans"] == yaml.safe_load(before)["config"]["amlops:models"]["loans"]
    assert [c for c in before.splitlines() if c.strip().startswith("#")] == [c for c in path.read_text().splitlines() if c.strip().startswith("#")]
    assert result.deployment == "green"
    code, _, err = run_cli(capsys, monkeypatch, "promote", "nope:2", "--to", "two", "--repo", str(tree), "--dry-run", "--no-diff")
    assert code == 2 and "stack two serves no model 'nope' (models: loans: chapter12-loans (loans-dev-online, loans-dev-batch); diabetes: diabetes-ridge" in err


# --- serve, invoke, keys, logs, swagger, batch, profile: one endpoint chosen, or every endpoint served --


def amlops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "250", **(env or {})}, timeout=300)


def test_commands_on_a_two_model_stack_without_endpoint_list_the_choices(tree, state):
    for args in (("invoke", "--data", "{}"), ("endpoint", "keys"), ("batch", "schedule"), ("endpoint", "swagger")):
        out = amlops(*args, "--stack", "two")
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.strip() == (
            "error: stack two: the stack serves 2 models; choose one with --endpoint: "
            "loans (loans-dev-online, loans-dev-batch); diabetes (diabetes-dev-online, diabetes-dev-batch)"
        ), args


def test_endpoint_keys_differ_per_endpoint_and_persist(tree, state):
    loans = amlops("endpoint", "keys", "--stack", "two", "--endpoint", "loans-dev-online")
    diabetes = amlops("endpoint", "keys", "--stack", "two", "-e", "diabetes")
    assert loans.returncode == diabetes.returncode == 0, loans.stderr + diabetes.stderr
    assert "keys of loans-dev-online" in loans.stdout and "keys of diabetes-dev-online" in diabetes.stdout
    assert (state / "endpoints" / "loans-dev-online").is_dir() and (state / "endpoints" / "diabetes-dev-online").is_dir()
    key = lambda out: re.search(r"primary\s+│?\s*(\S+)", out).group(1)  # noqa: E731
    assert key(loans.stdout) != key(diabetes.stdout)
    assert key(amlops("endpoint", "keys", "--stack", "two", "-e", "diabetes").stdout) == key(diabetes.stdout)


@pytest.mark.slow
def test_serve_two_endpoints_at_once_each_on_its_port_with_its_key(tree, state, registered):
    env = {**os.environ, "COLUMNS": "250"}
    server = subprocess.Popen([*CLI, "serve", "--stack", "two", "--port", "0", "--no-logs"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines: list[str] = []
        while sum(line.startswith("  try: ") for line in lines) < 2 and len(lines) < 20:  # each endpoint's banner ends with `try:`
            lines.append(server.stdout.readline())
        text = "".join(lines)
        assert "serving chapter12-loans:1 as loans-dev-online/blue at http://127.0.0.1:" in text, text + server.stderr.read()
        assert "serving diabetes-ridge:1 as diabetes-dev-online/blue at http://127.0.0.1:" in text, text
        urls = re.findall(r"at (http://127\.0\.0\.1:\d+)/score", text)
        assert len(set(urls)) == 2, urls
        assert "try: amlops invoke --stack two --endpoint diabetes --data" in text
        loans = amlops("invoke", "--stack", "two", "--endpoint", "loans", "--data", '{"data": [[2000, 2, 45], [9000, 1, 60]]}')
        assert loans.returncode == 0, loans.stderr
        assert json.loads(loans.stdout[: loans.stdout.rindex("}") + 1]) == {"predict": [0, 1]}
        row = [0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]
        diabetes = amlops("invoke", "--stack", "two", "-e", "diabetes-dev-online", "--data", json.dumps({"data": [row]}))
        assert diabetes.returncode == 0, diabetes.stderr
        answer = json.loads(diabetes.stdout[: diabetes.stdout.rindex("}") + 1])
        from amlops.modelfile import load

        expected = load(registered["diabetes"]).predict(__import__("pandas").DataFrame([row], columns=["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]))
        assert answer["predict"] == pytest.approx(expected.tolist())
        wrong = amlops("invoke", "--stack", "two", "-e", "diabetes", "--data", '{"data": [[2000, 2, 45]]}')
        assert wrong.returncode == 1 and "expected 10 values" in wrong.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert "stopped loans-dev-online (gunicorn exit code 0)" in out and "stopped diabetes-dev-online (gunicorn exit code 0)" in out
    logs = amlops("endpoint", "logs", "--stack", "two", "-e", "diabetes")
    assert logs.stdout.count("POST /score") == 2, logs.stdout  # its own requests only: one scored, one refused
    loans_logs = amlops("endpoint", "logs", "--stack", "two", "-e", "loans")
    assert loans_logs.stdout.count("POST /score") == 1, loans_logs.stdout


def test_batch_run_per_endpoint_uses_that_endpoints_id_columns(tree, state, registered, tmp_path):
    import pandas as pd

    from amlops.multimodel.diabetes import patients

    patients(50).to_csv(tmp_path / "patients.csv", index=False)
    out_dir = tmp_path / "out"
    done = amlops("batch", "run", "--stack", "two", "--endpoint", "diabetes", "--input", str(tmp_path / "patients.csv"), "--output", str(out_dir), "--no-progress")
    assert done.returncode == 0, done.stderr
    scored = pd.read_csv(out_dir / "predictions.csv", header=None)
    assert len(scored) == 50 and sorted(scored[0]) == list(range(100_000, 100_050))
    assert any((state / "batch" / "two" / "diabetes" / "jobs").iterdir())
    refused = amlops("batch", "run", "--stack", "two", "--endpoint", "loans", "--input", str(tmp_path / "patients.csv"), "--output", str(tmp_path / "o2"), "--no-progress")
    assert refused.returncode != 0 and "application_id" in refused.stderr + refused.stdout


def test_endpoint_swagger_per_endpoint_describes_that_model(tree, state, registered, tmp_path):
    out = amlops("endpoint", "swagger", "--stack", "two", "-e", "diabetes", "--out", str(tmp_path / "sw"))
    assert out.returncode == 0, out.stderr
    spec = json.loads((tmp_path / "sw" / "swagger.json").read_text())
    assert "bmi" in json.dumps(spec) and "income" not in json.dumps(spec)


def test_remote_target_is_the_chosen_models_endpoints(tree, state):
    from amlops.azure.target import target_for
    from amlops.stackfile import load_endpoint

    loans = target_for("two", load_endpoint("two", "loans"), "sub-1")
    diabetes = target_for("two", load_endpoint("two", "diabetes-dev-batch"), "sub-1")
    assert (loans.resource_group, loans.workspace) == (diabetes.resource_group, diabetes.workspace)
    assert loans.online_endpoint.startswith("loans-dev-online-") and diabetes.online_endpoint.startswith("diabetes-dev-online-")
    assert (diabetes.batch_endpoint.removesuffix(diabetes.batch_endpoint[-7:]), diabetes.batch_deployment) == ("diabetes-dev-batch", "diabetes-batch")
    refused = amlops("batch", "submit", "--stack", "two", "--input", "azureml://x/", "--subscription", "sub-1")
    assert refused.returncode == 2 and "choose one with --endpoint" in refused.stderr


def test_profile_per_endpoint_refuses_the_loans_payloads_for_another_models_columns(tree, state, registered):
    out = amlops("profile", "--stack", "two", "--endpoint", "diabetes", "--max-concurrency", "1")
    assert out.returncode == 1, out.stderr
    assert " ".join(out.stderr.split()).startswith(f"error: {DIABETES}:1 has no input example (")
    assert "its columns are not the loans features; pass --requests FILE" in " ".join(out.stderr.split())
