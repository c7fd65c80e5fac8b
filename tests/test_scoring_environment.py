"""scoring/environment/conda.yaml pins what the model is trained with (requirements.lock)."""

from __future__ import annotations

import re

import yaml

from amlops.paths import ROOT, SCORING_DIR
from amlops.training import read_facts

CONDA = SCORING_DIR / "environment" / "conda.yaml"


def pip_pins() -> dict[str, str]:
    doc = yaml.safe_load(CONDA.read_text())
    pip = next(d["pip"] for d in doc["dependencies"] if isinstance(d, dict) and "pip" in d)
    return dict(line.split("==") for line in pip)


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_scoring_environment_pins_equal_requirements_lock():
    lock = lock_pins()
    pins = pip_pins()
    assert sorted(pins) == ["azureml-ai-monitoring", "azureml-inference-server-http", "numpy", "pandas", "pyyaml", "scikit-learn", "skops"]
    assert {name: lock[name] for name in pins} == pins


def test_scoring_environment_pins_the_models_scikit_learn_version(trained_model_dir):
    assert pip_pins()["scikit-learn"] == read_facts(trained_model_dir)["framework_version"]


def test_scoring_environment_python_matches_the_project():
    doc = yaml.safe_load(CONDA.read_text())
    assert "python=3.11" in doc["dependencies"]
