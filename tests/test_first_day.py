"""The first day from an empty subscription, as committed (issue 19, point 2).

The README's "Every value to set" equals what the workflows read and what a CI deploy requires of a
stack; each Azure job's first step names every unset secret in one line; a stack without its Azure ML
registry is refused in one line; and deploy.yml's jobs, run in order (each `run:` step's amlops commands
with the step's environment from the workflow, Azure faked at azure-ai-ml's MLClient), publish the model
before dev's deploy, whose model resolution then downloads it and packages its swagger.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from cli_support import run_cli
from remote_fakes import install
from workflow_env import RUNNER_BASE, WORKFLOWS, find_step, run_commands, step_env, workflow

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CHECK_STEP = "are the required GitHub secrets set?"
EXPRESSION = re.compile(r"\$\{\{\s*(secrets|vars)\.([A-Za-z0-9_]+)\s*\}\}")
CI_STACKS = ("dev", "staging", "prod")
"""The stacks deploy.yml deploys."""


def readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"### {title}\n")
    end = text.find("\n#", start + 4)
    return text[start:end]


def values_table() -> list[dict[str, str]]:
    rows = [line for line in readme_section("Every value to set").splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in row.strip("|").split("|")))) for row in rows[1:] if not row.startswith("|---")]


def ticked(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def workflow_values() -> dict[tuple[str, str], set[str]]:
    """(kind, name) → the workflow files whose expressions read it (GitHub's own token is no value to set)."""
    found: dict[tuple[str, str], set[str]] = {}
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for kind, name in EXPRESSION.findall(path.read_text()):
            if name != "GITHUB_TOKEN":
                found.setdefault(("GitHub secret" if kind == "secrets" else "GitHub variable", name), set()).add(path.name)
    return found


def deploy_order() -> list[str]:
    """deploy.yml's jobs in the order `needs` runs them (each needs exactly the one before)."""
    jobs = workflow("deploy.yml")["jobs"]
    order = [name for name, job in jobs.items() if "needs" not in job]
    while len(order) < len(jobs):
        (after,) = [n for n, j in jobs.items() if n not in order and j.get("needs") in (order[-1], [order[-1]])]
        order.append(after)
    return order


# --- the README's list -------------------------------------------------------------------


def test_readme_lists_every_github_value_the_workflows_read_and_who_reads_it():
    listed = {}
    for row in values_table():
        if row["kind"].startswith("GitHub"):
            (name,) = ticked(row["value"])
            listed[(row["kind"], name)] = {w for w in ticked(row["read by"]) if w.endswith(".yml")}
    assert listed == workflow_values()


def test_readme_lists_the_stack_keys_a_ci_deploy_requires(stacks_copy):
    from amlops.stackfile import load_stack
    from infra.config import parse_config

    (row,) = [r for r in values_table() if r["kind"] == "stack key"]
    dev = stacks_copy / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("    azuremlRegistry: loansreg\n", ""))
    single = load_stack("dev", stacks_copy).unset_for_ci()
    raw = yaml.safe_load(dev.read_text())["config"]
    model, online, batch = raw.pop("amlops:model"), raw.pop("amlops:online"), raw.pop("amlops:batch")
    raw["amlops:models"] = {"loans": {**model, "online": online, "monitor": raw.pop("amlops:monitor")}, "fraud": {**model, "name": "fraud", "batch": batch}}
    many = parse_config({k.removeprefix("amlops:"): v for k, v in raw.items()}, source="two-models").unset_for_ci()
    assert single == ["amlops:model.azuremlRegistry"]
    assert many == ["amlops:models.loans.azuremlRegistry", "amlops:models.fraud.azuremlRegistry"]
    assert ticked(row["value"]) == {"amlops:models.<key>.azuremlRegistry", *single}
    for stack in CI_STACKS:  # as committed, every stack CI deploys names the registry
        assert load_stack(stack).unset_for_ci() == [], stack
        assert load_stack(stack).model.azureml_registry == "loansreg", stack


def test_readme_gives_the_order_of_the_first_runs():
    line = next(line for line in readme_section("Every value to set").splitlines() if " → " in line)
    stated = re.findall(r"`([a-z]+)`", line)
    assert stated == deploy_order() == ["test", "model", "dev", "staging", "prod"]


# --- refusals in one line ----------------------------------------------------------------


@pytest.mark.parametrize(("workflow_name", "job_name", "stack"), [("deploy-stack.yml", "up", "dev"), ("model.yml", "publish", None)])
def test_first_step_names_every_unset_secret_in_one_line(workflow_name, job_name, stack):
    job = workflow(workflow_name)["jobs"][job_name]
    assert job["steps"][0]["name"] == CHECK_STEP
    script = job["steps"][0]["run"]
    (names,) = re.findall(r"for name in ([A-Z_ ]+);", script)
    reads = {value for kind, value in EXPRESSION.findall(yaml.safe_dump(job["env"])) if kind == "secrets"}
    assert set(names.split()) == reads, "the step checks exactly the secrets the job reads"
    inputs = {"stack": stack} if stack else {"rows": "500"}
    env = step_env(workflow_name, job_name, CHECK_STEP, oidc_url=None, inputs=inputs)
    ok = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert (ok.returncode, ok.stdout) == (0, "")
    unset = sorted(reads)[::2]
    env = step_env(workflow_name, job_name, CHECK_STEP, oidc_url=None, inputs=inputs, secrets={n: "" for n in unset})
    bad = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    where = stack or "registry"
    missing = " ".join(n for n in names.split() if n in unset)
    assert (bad.returncode, bad.stdout) == (1, f"::error::unset GitHub secrets of environment {where}: {missing} (README: From an empty subscription)\n")


def test_check_ci_refuses_a_stack_without_its_registry_in_one_line(tmp_path, capsys, monkeypatch):
    import shutil

    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    dev = tmp_path / "stacks" / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("    azuremlRegistry: loansreg\n", ""))
    code, out, err = run_cli(capsys, monkeypatch, "check", "--stack", "dev", "--ci", "--repo", str(tmp_path))
    assert (code, out) == (1, "")
    assert err == (
        "error: stacks/Pulumi.dev.yaml: a deploy from CI needs amlops:model.azuremlRegistry (the Azure ML registry its "
        'models come from; README "From an empty subscription")\n'
    )



def test_check_ci_names_the_stack_file_amlops_stacks_dir_points_at(tmp_path, capsys, monkeypatch):
    import shutil

    shutil.copytree(ROOT / "stacks", tmp_path / "elsewhere")
    dev = tmp_path / "elsewhere" / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("    azuremlRegistry: loansreg\n", ""))
    monkeypatch.setenv("AMLOPS_STACKS_DIR", str(tmp_path / "elsewhere"))
    code, out, err = run_cli(capsys, monkeypatch, "check", "--stack", "dev", "--ci")
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {dev}: a deploy from CI needs amlops:model.azuremlRegistry "), err


# --- deploy.yml, run in order against fakes at the Azure boundary ------------------------


def run_step(workflow_name: str, job_name: str, step_name: str, inputs: dict, capsys, monkeypatch) -> list[tuple[list[str], int, str]]:
    """Every amlops command of the step, in order, in-process with the step's environment; stops at a failure."""
    env = step_env(workflow_name, job_name, step_name, oidc_url=None, inputs=inputs)
    for key, value in env.items():
        if key not in RUNNER_BASE:
            monkeypatch.setenv(key, value)
    ran = []
    for words in run_commands(find_step(workflow(workflow_name)["jobs"][job_name], step_name), env):
        assert words[0] == ".venv/bin/amlops", words
        code, out, err = run_cli(capsys, monkeypatch, *words[1:])
        ran.append((words[1:], code, out))
        assert code == 0, (words, out, err)
    return ran


def test_deploy_publishes_the_model_before_devs_deploy_resolves_it(state, capsys, monkeypatch):
    from amlops.stackfile import load_stack
    from infra.model_resolution import model_files
    from infra.scoring_package import scoring_codes
    from infra.swagger import FILES

    azure = install(monkeypatch)
    jobs = workflow("deploy.yml")["jobs"]
    assert deploy_order().index("model") < deploy_order().index("dev")
    assert jobs["model"]["uses"] == "./.github/workflows/model.yml"
    assert jobs["dev"]["uses"] == "./.github/workflows/deploy-stack.yml" and jobs["dev"]["with"] == {"stack": "dev"}
    model_job = workflow("model.yml")
    rows = model_job["on"]["workflow_call"]["inputs"]["rows"]["default"]
    named = [s.get("name") for s in model_job["jobs"]["publish"]["steps"] if "run" in s]
    assert named == [CHECK_STEP, "install", "train and register (the runner's embedded MLflow registry)", "publish to the Azure ML registry (if more accurate)"]

    ran = []
    for step in named[2:]:
        ran += run_step("model.yml", "publish", step, {"rows": rows}, capsys, monkeypatch)
    assert [words[:2] for words, _, _ in ran] == [["model", "train"], ["model", "register"], ["publish", "chapter12-loans:1"]]
    assert ran[-1][2] == (
        "published chapter12-loans:1 (accuracy "
        + re.search(r"accuracy (\d\.\d{4})", ran[-1][2]).group(1)
        + ") to Azure ML registry loansreg as version 1; pin it with `amlops promote chapter12-loans:1 --to STACK`\n"
    )
    assert [m.version for m in azure.models] == ["1"] and azure.clients == [{"registry_name": "loansreg"}]

    # dev's job: the stack check with --ci (the first refusal passes; the policy run is tested elsewhere), then pulumi up.
    up = workflow("deploy-stack.yml")["jobs"]["up"]
    (check,) = run_commands(find_step(up, "amlops check"), {"STACK": "dev"})
    assert check == [".venv/bin/amlops", "check", "--stack", "dev", "--ci"]
    cfg = load_stack("dev")
    assert cfg.ci_refusal("stacks/Pulumi.dev.yaml") is None
    for key, value in step_env("deploy-stack.yml", "up", "pulumi up", oidc_url=None, inputs={"stack": "dev"}).items():
        if key not in RUNNER_BASE:
            monkeypatch.setenv(key, value)
    ((version, folder),) = [(f.version, f.folder) for f in model_files(cfg.model, cfg.registry.tracking_uri, offline=False)]
    assert version == 1 and (folder / "MLmodel").is_file()
    assert azure.calls[-1] == ("models.download", (), {"name": "chapter12-loans", "version": "1", "download_path": azure.calls[-1][2]["download_path"]})
    assert azure.clients[-1] == {"registry_name": "loansreg"}
    codes, warnings = scoring_codes(cfg.model, {1: folder}, ROOT / "scoring")
    assert warnings == []
    assert all((codes[0].folder / name).is_file() for name in FILES)
    # A second resolution (another stack, the same runner) reads the cache, not the registry.
    calls = len(azure.calls)
    assert model_files(cfg.model, cfg.registry.tracking_uri, offline=False)[0].folder == folder and len(azure.calls) == calls
