"""CI's model registry: `amlops publish` copies an MLflow-registered version to the stack's Azure ML registry; the promotion gate reads it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from amlops.registry import Registry
from cli_support import run_cli
from infra.content import content_hash
from remote_fakes import install, registry_model

ROOT = Path(__file__).resolve().parent.parent
NAME = "chapter12-loans"


@pytest.fixture
def azure(monkeypatch, state):
    return install(monkeypatch)


@pytest.fixture
def registered(state, trained_model_dir):
    """chapter12-loans:1 in the embedded MLflow registry, at accuracy 0.80."""
    return Registry().register(NAME, trained_model_dir, accuracy=0.80).registered


def test_publish_copies_folder_and_tags_as_the_registrys_next_version(azure, registered, trained_model_dir, capsys, monkeypatch):
    azure.models = [registry_model(NAME, 1, 0.70), registry_model(NAME, 2, 0.75)]
    code, out, err = run_cli(capsys, monkeypatch, "publish", f"{NAME}:1", "--stack", "dev", "--registry", "loansreg", "--if-better")
    assert (code, err) == (0, "")
    assert out == (
        f"published {NAME}:1 (accuracy 0.8000) to Azure ML registry loansreg as version 3; "
        f"pin it with `amlops promote {NAME}:3 --to STACK`\n"
    )
    assert azure.clients == [{"registry_name": "loansreg"}]
    (created,) = [c[1][0] for c in azure.calls if c[0] == "models.create_or_update"]
    assert (created.name, created.version, created.type) == (NAME, "3", "mlflow_model")
    assert content_hash(Path(created.path)) == content_hash(trained_model_dir)
    assert created.tags["accuracy"] == "0.800000" and created.tags["model_digest"] == registered.tags["model_digest"]
    assert (created.tags["run_id"], created.tags["published_from"]) == (registered.run_id, f"{NAME}:1")


def test_publish_if_better_refuses_a_less_accurate_version(azure, registered, capsys, monkeypatch):
    azure.models = [registry_model(NAME, 1, 0.90), registry_model(NAME, 2, 0.75)]
    code, out, err = run_cli(capsys, monkeypatch, "publish", f"{NAME}:1", "--stack", "dev", "--registry", "loansreg", "--if-better")
    assert (code, err) == (0, "")
    assert out == f"not published: {NAME}:1 (accuracy 0.8000) is not more accurate than {NAME}:1 (0.9000) in Azure ML registry loansreg\n"
    assert [c[0] for c in azure.calls] == ["models.list"]


def test_publish_without_a_registry_is_a_usage_error(azure, stacks_copy, capsys, monkeypatch):
    import amlops.stackfile

    dev = stacks_copy / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("    azuremlRegistry: loansreg\n", ""))
    load = amlops.stackfile.load_stack
    monkeypatch.setattr("amlops.stackfile.load_stack", lambda stack: load(stack, stacks_copy))
    code, out, err = run_cli(capsys, monkeypatch, "publish", f"{NAME}:1", "--stack", "dev")
    assert (code, out) == (2, "")
    assert err == (
        "error: stack dev names no Azure ML registry: set amlops:model.azuremlRegistry in stacks/Pulumi.dev.yaml "
        "or pass --registry NAME\n"
    )


def test_promote_gate_reads_the_stacks_azure_ml_registry(azure, tmp_path, capsys, monkeypatch):
    repo = tmp_path / "checkout"
    shutil.copytree(ROOT / "stacks", repo / "stacks")
    assert "    azuremlRegistry: loansreg\n" in (repo / "stacks" / "Pulumi.dev.yaml").read_text()  # as committed
    azure.models = [registry_model(NAME, 1, 0.80), registry_model(NAME, 2, 0.85)]
    code, out, err = run_cli(capsys, monkeypatch, "promote", f"{NAME}:2", "--to", "dev", "--no-diff", "--repo", str(repo))
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"gate passed: {NAME}:2 accuracy 0.8500 ≥ {NAME}:1's 0.8000 (served by blue; Δ +0.0500)"
    assert azure.clients[0] == {"registry_name": "loansreg"}
    code, out, err = run_cli(capsys, monkeypatch, "promote", f"{NAME}:7", "--to", "dev", "--no-diff", "--repo", str(repo))
    assert (code, out, err) == (1, "", f"error: {NAME} has no version 7 in Azure ML registry loansreg (versions: 1, 2)\n")


def test_publish_needs_a_version(azure, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "publish", NAME, "--stack", "dev", "--registry", "loansreg")
    assert (code, out, azure.calls) == (2, "", [])
    assert err == "error: publish takes NAME:VERSION with a version ≥ 1, e.g. chapter12-loans:1, got 'chapter12-loans'\n"
