"""The model files infra uploads come from the MLflow registry, found the way amlops registers them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from amlops.plan import HARNESS, run_plan
from infra.content import content_hash, folder_files
import shutil

from infra.model_source import ModelSourceError, cache_dir, resolve, tracking_uri
from registry_support import registered_state
from tree_support import copy_tree

ROOT = Path(__file__).resolve().parent.parent


def test_tracking_uri_prefers_env_then_config_then_state_sqlite(state, monkeypatch):
    assert tracking_uri(None) == f"sqlite:///{state / 'mlflow.db'}"
    assert tracking_uri("http://mlflow:5000") == "http://mlflow:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert tracking_uri("http://mlflow:5000") == "http://env:5000"


def test_missing_registry_is_reported_without_creating_one(state):
    with pytest.raises(ModelSourceError) as err:
        resolve("chapter12-loans", 1)
    assert str(err.value) == (
        f"model chapter12-loans:1 is not in the registry at sqlite:///{state / 'mlflow.db'} (no registry database yet); "
        "register it with `amlops model train` and `amlops model register`, or pin a registered version in amlops:model.version"
    )
    assert not (state / "mlflow.db").exists()


@pytest.fixture(scope="module")
def registered(tmp_path_factory, trained_model_dir):
    """A state folder whose registry holds chapter12-loans:1 (registered once for this module)."""
    with registered_state(tmp_path_factory.mktemp("registered-state"), trained_model_dir) as folder:
        yield folder


def test_registered_version_resolves_to_its_mlflow_folder(registered, trained_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOPS_STATE_DIR", str(registered))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    source = resolve("chapter12-loans", 1, cache=tmp_path / "cache")
    uri = f"sqlite:///{registered / 'mlflow.db'}"
    assert source.folder == cache_dir(uri, "chapter12-loans", 1, tmp_path / "cache")
    assert source.folder.parent.parent.parent == tmp_path / "cache"
    assert folder_files(source.folder) == folder_files(trained_model_dir)
    assert content_hash(source.folder) == content_hash(trained_model_dir)
    with pytest.raises(ModelSourceError, match=r"^model chapter12-loans:7 is not in the registry at sqlite:///"):
        resolve("chapter12-loans", 7, cache=tmp_path / "cache")


def without_azureml_registry(tmp_path: Path) -> Path:
    """A checkout whose stacks name no Azure ML registry: `pulumi up` from a laptop with the embedded MLflow registry."""
    tree = copy_tree(ROOT, tmp_path / "tree")
    for path in (tree / "stacks").glob("Pulumi.*.yaml"):
        path.write_text(path.read_text().replace("    azuremlRegistry: loansreg\n", ""))
    return tree


def test_plan_uploads_the_registered_version_content_addressed(registered, trained_model_dir, tmp_path):
    plan = run_plan("dev", without_azureml_registry(tmp_path), env={"AMLOPS_STATE_DIR": str(registered), "MLFLOW_TRACKING_URI": ""})
    digest = content_hash(trained_model_dir)
    (version,) = [r for r in plan["resources"] if r["name"] == "model-v1"]
    assert version["inputs"]["properties"]["tags"]["contentHash"] == digest, version["urn"]
    assert version["inputs"]["properties"]["modelUri"] == f"azureml://datastores/amlops_assets/paths/models/chapter12-loans/{digest}", version["urn"]
    blobs = sorted(r["inputs"]["blobName"] for r in plan["resources"] if r["name"].startswith("model-v1-"))
    assert blobs == [f"models/chapter12-loans/{digest}/{rel}" for rel in folder_files(trained_model_dir)], "model-v1 blobs"
    assert plan["warnings"] == []


def test_pulumi_up_without_the_model_fails_naming_the_fix(tmp_path):
    env = {**os.environ, "AMLOPS_STATE_DIR": str(tmp_path), "MLFLOW_TRACKING_URI": "", "AMLOPS_PLAN_OFFLINE": "0"}
    env.pop("GITHUB_ACTIONS", None)
    tree = without_azureml_registry(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(HARNESS), "--stack", "prod", "--root", str(tree)], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == (
        f"model chapter12-loans:1 is not in the registry at sqlite:///{tmp_path / 'mlflow.db'} (no registry database yet); "
        "register it with `amlops model train` and `amlops model register`, or pin a registered version in amlops:model.version"
    )


def test_pulumi_up_in_a_github_job_refuses_a_stack_without_its_azure_ml_registry_in_one_line(tmp_path):
    env = {**os.environ, "AMLOPS_STATE_DIR": str(tmp_path), "MLFLOW_TRACKING_URI": "", "AMLOPS_PLAN_OFFLINE": "0", "GITHUB_ACTIONS": "true"}
    tree = without_azureml_registry(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(HARNESS), "--stack", "staging", "--root", str(tree)], capture_output=True, text=True, env=env, check=False
    )
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.strip() == (
        "stacks/Pulumi.staging.yaml: a deploy from CI needs amlops:model.azuremlRegistry (the Azure ML registry its "
        'models come from; README "From an empty subscription")'
    )


def test_two_registries_with_the_same_name_and_version_never_share_a_cache_entry(state, trained_model_dir, tmp_path, monkeypatch):
    """Versions are numbered per registry: chapter12-loans:1 of A and of B are different models."""
    from amlops.registry import Registry

    other = tmp_path / "other-model"
    shutil.copytree(trained_model_dir, other)
    (other / "registry-b.txt").write_text("registered only in registry B\n")
    uri_a, uri_b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    assert Registry(uri_a).register("chapter12-loans", trained_model_dir).registered.version == 1
    assert Registry(uri_b).register("chapter12-loans", other).registered.version == 1

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri_a)
    from_a = resolve("chapter12-loans", 1).folder  # infra's path (pulumi up), cached first
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri_b)
    from_b = resolve("chapter12-loans", 1).folder
    assert from_a != from_b
    assert content_hash(from_a) == content_hash(trained_model_dir)
    assert content_hash(from_b) == content_hash(other)
    # amlops reads the very same cache entries (one implementation, one cache).
    assert Registry(uri_a).download("chapter12-loans", 1) == from_a
    assert Registry(uri_b).download("chapter12-loans", 1) == from_b
    assert from_a.parent.parent.parent == from_b.parent.parent.parent == state / "models"


def test_registry_download_of_a_missing_version_lists_what_exists(state, trained_model_dir):
    from amlops.errors import ModelNotFound
    from amlops.registry import Registry

    registry = Registry()
    registry.register("chapter12-loans", trained_model_dir)
    with pytest.raises(ModelNotFound) as err:
        registry.download("chapter12-loans", 4)
    assert str(err.value) == "chapter12-loans has no version 4 (versions: 1)"


def test_azureml_tracking_uri_is_refused_naming_the_registry_alternative(state, tmp_path):
    uri = "azureml://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"
    with pytest.raises(ModelSourceError) as err:
        resolve("chapter12-loans", 1, uri, cache=tmp_path / "cache")
    assert str(err.value) == (
        f"model chapter12-loans:1: the tracking URI {uri} is an Azure ML workspace's, which MLflow reads only with "
        "azureml-mlflow (not installable beside mlflow 3.17); use sqlite:///, file: or an MLflow server's http(s):// URI, "
        "and reach Azure ML through an Azure ML registry: `amlops publish` and amlops:model.azuremlRegistry"
    )
    assert not (tmp_path / "cache").exists()
