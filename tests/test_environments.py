"""The two conda environments hold what Azure's drivers and our scripts import, at the versions tested here.

- scoring/environment/conda.yaml: the online server (azureml-inference-server-http runs score.py,
  https://learn.microsoft.com/azure/machine-learning/how-to-inference-server-http) and score.py's imports.
- batch/environment/conda.yaml: Azure's batch driver imports azureml (azureml-core:
  https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-batch-endpoints#no-module-named-azureml)
  and the batch scripts' imports.
Both are compared with azureml-examples' environments of the same kind (recorded below: tests never
reach the network) and each pip section is resolved by pip in a scratch virtualenv.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from amlops.paths import ROOT, SCORING_DIR
from amlops.training import read_facts

SCORING_CONDA = SCORING_DIR / "environment" / "conda.yaml"
BATCH_CONDA = ROOT / "batch" / "environment" / "conda.yaml"
DRIVER_ONLY = {"azureml-core"}
"""Pins of an environment that no script of ours imports (what Azure's driver imports), so not in requirements.lock."""

# azureml-examples at commit 085cd6ea399038c1e07843acff811f34261c0887 (Azure/azureml-examples, 2026-07-31):
# the pip package names of each environment that runs an entry script (MLflow no-code environments excluded).
EXAMPLES_COMMIT = "085cd6ea399038c1e07843acff811f34261c0887"
EXAMPLE_BATCH_ENVIRONMENTS = {
    "cli/endpoints/batch/deploy-models/heart-classifier-mlflow/deployment-custom/environment/conda.yaml":
        {"mlflow", "cloudpickle", "scikit-learn", "xgboost", "azureml-core"},
    "cli/endpoints/batch/deploy-models/custom-outputs-parquet/environment/conda.yaml":
        {"mlflow", "cloudpickle", "scikit-learn", "xgboost", "azureml-core"},
    "cli/endpoints/batch/deploy-models/mnist-classifier/deployment-torch/environment/conda.yaml":
        {"torch", "torchvision", "pytorch-lightning", "pandas", "azureml-core", "azureml-dataset-runtime"},
    "cli/endpoints/batch/deploy-models/imagenet-classifier/environment/conda.yaml":
        {"pandas", "tensorflow", "pillow", "azureml-core", "azureml-dataset-runtime"},
    "cli/endpoints/batch/deploy-models/openai-embeddings/environment/conda.yaml":
        {"openai", "requests", "tenacity", "tiktoken", "azureml-core", "azure-identity", "datasets", "mlflow"},
}
EXAMPLE_ONLINE_ENVIRONMENTS = {
    "cli/endpoints/online/model-1/environment/conda.yaml": {"azureml-inference-server-http", "inference-schema", "joblib"},
    "cli/endpoints/online/model-2/environment/conda.yaml": {"azureml-inference-server-http", "inference-schema", "joblib"},
    "cli/endpoints/online/ncd/sklearn-diabetes/environment/conda.yaml":
        {"mlflow", "scikit-learn", "cloudpickle", "psutil", "pandas", "azureml-inference-server-http"},
}


def pip_pins(conda: Path) -> dict[str, str]:
    doc = yaml.safe_load(conda.read_text())
    pip = next(d["pip"] for d in doc["dependencies"] if isinstance(d, dict) and "pip" in d)
    return dict(line.split("==") for line in pip)


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions(folder: Path) -> set[str]:
    """The installed distributions that the folder's scripts import (stdlib and the folder's own modules left out)."""
    local = {p.stem for p in folder.glob("*.py")}
    modules = set()
    for script in folder.glob("*.py"):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = {m for m in modules - local - {"__future__"} if m not in sys.stdlib_module_names}
    dists = packages_distributions()
    missing = sorted(m for m in third_party if m not in dists)
    assert not missing, f"{folder.name}/ imports modules no installed distribution provides: {missing}"
    return {_normalized(d) for m in third_party for d in dists[m]}


@pytest.mark.parametrize("conda", [SCORING_CONDA, BATCH_CONDA], ids=["scoring", "batch"])
def test_environment_pins_equal_requirements_lock(conda):
    lock = lock_pins()
    pins = {k: v for k, v in pip_pins(conda).items() if k not in DRIVER_ONLY}
    assert {name: lock.get(name) for name in pins} == pins, f"{conda.relative_to(ROOT)}: a pin differs from requirements.lock"


def test_scoring_environment_pins():
    assert sorted(pip_pins(SCORING_CONDA)) == ["azureml-ai-monitoring", "azureml-inference-server-http", "numpy", "pandas", "pyyaml", "scikit-learn", "skops"]


@pytest.mark.parametrize("conda,folder", [(SCORING_CONDA, SCORING_DIR), (BATCH_CONDA, ROOT / "batch")], ids=["scoring", "batch"])
def test_environment_holds_what_its_scripts_import(conda, folder):
    pinned = {_normalized(n) for n in pip_pins(conda)}
    imported = imported_distributions(folder)
    assert imported - pinned == set(), f"{conda.relative_to(ROOT)} lacks what {folder.name}/ imports"
    # The model's own unpickling needs scikit-learn (and scipy, which it imports) even though no script names it.
    assert "scikit-learn" in pinned


def test_batch_environment_holds_what_every_azureml_examples_batch_environment_lists_for_the_driver():
    common = set.intersection(*EXAMPLE_BATCH_ENVIRONMENTS.values())
    assert common == {"azureml-core"}, f"azureml-examples@{EXAMPLES_COMMIT[:8]}: what every batch environment lists"
    assert common <= set(pip_pins(BATCH_CONDA)), f"{BATCH_CONDA.relative_to(ROOT)} lacks {sorted(common - set(pip_pins(BATCH_CONDA)))}"


def test_scoring_environment_holds_what_every_azureml_examples_online_environment_lists_for_the_server():
    common = set.intersection(*EXAMPLE_ONLINE_ENVIRONMENTS.values())
    assert common == {"azureml-inference-server-http"}, f"azureml-examples@{EXAMPLES_COMMIT[:8]}: what every scripted online environment lists"
    assert common <= set(pip_pins(SCORING_CONDA))
    # The online server's version is the one the local `amlops serve` runs (and the examples pin the same).
    assert pip_pins(SCORING_CONDA)["azureml-inference-server-http"] == lock_pins()["azureml-inference-server-http"] == "1.4.1"


def test_scoring_environment_pins_the_models_scikit_learn_version(trained_model_dir):
    assert pip_pins(SCORING_CONDA)["scikit-learn"] == read_facts(trained_model_dir)["framework_version"]


@pytest.mark.parametrize("conda", [SCORING_CONDA, BATCH_CONDA], ids=["scoring", "batch"])
def test_environment_python_matches_the_project(conda):
    doc = yaml.safe_load(conda.read_text())
    assert "python=3.11" in doc["dependencies"]
    assert sys.version_info[:2] == (3, 11)


@pytest.mark.slow
@pytest.mark.parametrize("conda", [SCORING_CONDA, BATCH_CONDA], ids=["scoring", "batch"])
def test_environment_pip_section_resolves(conda, tmp_path):
    """pip resolves the pip section as written (every pin together) for this Python, in a scratch virtualenv."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(f"{k}=={v}" for k, v in pip_pins(conda).items()) + "\n")
    report = tmp_path / "report.json"
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check",
         "--report", str(report), "-r", str(requirements)],
        capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, f"{conda.relative_to(ROOT)}: pip cannot resolve its pip section:\n{done.stderr[-3000:]}"
    import json

    resolved = {_normalized(i["metadata"]["name"]): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    assert {_normalized(k): resolved.get(_normalized(k)) for k in pip_pins(conda)} == {_normalized(k): v for k, v in pip_pins(conda).items()}
