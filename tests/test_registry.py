"""The registry: versions, lineage, the if-better gate, --path, concurrency, and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from amlops.cli import app
from amlops.errors import ModelNotFound, UsageError
from amlops.registry import Registry
from infra.content import content_hash as content_digest

NAME = "chapter12-loans"


def test_register_records_accuracy_framework_lineage_and_run(state, trained_model_dir):
    result = Registry().register(NAME, trained_model_dir)
    v = result.registered
    assert v is not None and v.version == 1 and result.best is None
    assert v.accuracy is not None and v.accuracy > 0.7
    assert v.tags["framework"] == "scikit-learn"
    assert v.tags["serialization_format"] == "skops"
    assert len(v.tags["dataset_digest"]) == 64 and v.tags["dataset_rows"] == "500"
    assert v.tags["model_digest"] == content_digest(trained_model_dir)
    assert v.run_id and v.tags["run_id"] == v.run_id
    assert str(state) in v.source  # artifacts stay under the state folder


def test_versions_increment_and_download_roundtrips(state, trained_model_dir):
    reg = Registry()
    for expected in (1, 2, 3):
        assert reg.register(NAME, trained_model_dir).registered.version == expected
    assert [v.version for v in reg.versions(NAME)] == [1, 2, 3]
    folder = reg.download(NAME, 2)
    assert content_digest(folder) == content_digest(trained_model_dir)


def test_a_registered_version_is_cached_as_mlflow_would_download_it(state, trained_model_dir):
    """Registering keeps the folder in the download cache (a new version's first serve then needs no MLflow
    import); what MLflow itself downloads for that version, with the cache emptied, is the same bytes."""
    from infra import model_source

    reg = Registry()
    version = reg.register(NAME, trained_model_dir, trust=[]).registered.version
    cached = model_source.cache_dir(reg.tracking_uri, NAME, version, model_source.cache_root())
    assert (cached / "MLmodel").is_file()
    kept = content_digest(cached)
    shutil.rmtree(cached)
    downloaded = reg.download(NAME, version)  # through MLflow's download_artifacts
    assert downloaded == cached and content_digest(downloaded) == kept == content_digest(trained_model_dir)
    assert sorted(p.name for p in downloaded.rglob("*")) == sorted(p.name for p in trained_model_dir.rglob("*"))


def test_if_better_refuses_equal_accuracy(state, trained_model_dir):
    reg = Registry()
    reg.register(NAME, trained_model_dir)
    result = reg.register(NAME, trained_model_dir, if_better=True)
    assert result.registered is None
    assert result.best.version == 1 and result.delta == 0.0
    assert [v.version for v in reg.versions(NAME)] == [1]


def test_if_better_registers_a_more_accurate_model(state, trained_model_dir):
    reg = Registry()
    reg.register(NAME, trained_model_dir, accuracy=0.5)
    result = reg.register(NAME, trained_model_dir, if_better=True)
    assert result.registered.version == 2
    assert result.delta == pytest.approx(result.accuracy - 0.5)
    worse = reg.register(NAME, trained_model_dir, if_better=True, accuracy=0.6)
    assert worse.registered is None and worse.best.version == 2


def test_get_unknown_model_and_version_say_what_exists(state, trained_model_dir):
    reg = Registry()
    with pytest.raises(ModelNotFound, match="model 'nope' is not registered"):
        reg.get("nope")
    reg.register(NAME, trained_model_dir)
    with pytest.raises(ModelNotFound, match=r"chapter12-loans has no version 7 \(versions: 1\)"):
        reg.get(NAME, 7)


def test_register_path_that_is_not_a_model(state, tmp_path):
    with pytest.raises(UsageError, match="not an MLflow model folder"):
        Registry().register(NAME, tmp_path)


def test_two_processes_registering_at_once_get_distinct_versions(state, trained_model_dir):
    code = (
        "import sys; from pathlib import Path; from amlops.registry import Registry; "
        f"print(Registry().register({NAME!r}, Path(sys.argv[1])).registered.version)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(trained_model_dir)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    versions = sorted(int(p.communicate(timeout=120)[0].strip()) for p in procs)
    assert all(p.returncode == 0 for p in procs)
    assert versions == [1, 2, 3]
    assert [v.version for v in Registry().versions(NAME)] == [1, 2, 3]


def test_cli_register_path_list_and_show(state, trained_model_dir):
    runner = CliRunner()
    out = runner.invoke(app, ["model", "register", "--path", str(trained_model_dir), "--tag", "team=risk"])
    assert out.exit_code == 0, out.output
    assert "registered chapter12-loans:1" in out.output and "the first version" in out.output
    out = runner.invoke(app, ["model", "register", "--path", str(trained_model_dir), "--if-better"])
    assert out.exit_code == 0, out.output
    assert "not registered" in out.output and "does not beat chapter12-loans:1's" in out.output
    out = runner.invoke(app, ["model", "list"])
    assert out.exit_code == 0 and "chapter12-loans" in out.output
    out = runner.invoke(app, ["model", "show", "chapter12-loans:1"])
    assert out.exit_code == 0, out.output
    assert "team" in out.output and "risk" in out.output and "dataset_digest" in out.output


def test_cli_train_then_register(state):
    runner = CliRunner()
    out = runner.invoke(app, ["model", "train"])
    assert out.exit_code == 0, out.output
    assert "validation accuracy" in out.output
    out = runner.invoke(app, ["model", "register", "--if-better"])
    assert out.exit_code == 0, out.output
    assert "registered chapter12-loans:1" in out.output


# --- trusted types: a reviewed setting, recorded in the version's MLmodel ----------------------

TREE = "sklearn.tree._tree.Tree"


@pytest.fixture(scope="module")
def forest(tmp_path_factory):
    from models_support import forest_case

    return forest_case(tmp_path_factory.mktemp("forest"))


def test_register_untrusted_types_without_trust_lists_them_and_the_flag(state, forest):
    from amlops.modelfile import UntrustedTypes

    with pytest.raises(UntrustedTypes) as err:
        Registry().register("cancer", forest.folder)
    assert str(err.value) == (
        f"{forest.folder / 'model.skops'} needs types outside skops' defaults: {TREE}; review them (they are loaded, "
        f"not executed, but their code is what runs at predict), then pass --trust {TREE}"
    )
    assert Registry().versions("cancer") == []


def test_register_trust_that_the_file_does_not_need_is_refused(state, forest):
    with pytest.raises(UsageError) as err:
        Registry().register("cancer", forest.folder, trust=[TREE, "numpy.float64"])
    assert str(err.value) == f"--trust numpy.float64: model.skops does not use it (types outside skops' defaults: {TREE})"


def test_register_with_trust_records_exactly_those_types(state, forest, tmp_path):
    from amlops import modelfile

    # The user's MLmodel lists more than the file needs: the version records the reviewed list only.
    folder = tmp_path / "model"
    shutil.copytree(forest.folder, folder)
    modelfile.record_trust(folder, [TREE, "builtins.eval"])
    before = content_digest(folder)
    v = Registry().register("cancer", folder, trust=[TREE]).registered
    assert v.tags["skops_trusted_types"] == TREE
    downloaded = Registry().download("cancer", v.version)
    assert modelfile.recorded_trust(downloaded) == [TREE]
    assert v.tags["model_digest"] == content_digest(downloaded) != before
    assert content_digest(folder) == before  # the caller's folder is left as it was


def test_register_loans_needs_no_trust_and_records_none(state, trained_model_dir):
    v = Registry().register(NAME, trained_model_dir).registered
    assert v.tags["skops_trusted_types"] == ""
    assert v.tags["model_digest"] == content_digest(trained_model_dir)


def test_cli_register_lists_untrusted_types_then_registers_with_trust(state, forest, capsys, monkeypatch):
    from cli_support import run_cli

    code, out, err = run_cli(capsys, monkeypatch, "model", "register", "--name", "cancer", "--path", str(forest.folder))
    assert code == 2, out + err
    assert f"needs types outside skops' defaults: {TREE}" in err and f"then pass --trust {TREE}" in err
    code, out, err = run_cli(capsys, monkeypatch, "model", "register", "--name", "cancer", "--path", str(forest.folder), "--trust", TREE)
    assert code == 0, out + err
    assert "registered cancer:1" in out


@pytest.mark.parametrize("command", [["model", "list"], ["model", "show", "chapter12-loans"]])
def test_registry_azureml_workspace_tracking_uri_is_refused_in_one_line_naming_the_supported_paths(capsys, monkeypatch, command):
    from cli_support import run_cli

    uri = "azureml://eastus.api.azureml.ms/mlflow/v1.0/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    code, out, err = run_cli(capsys, monkeypatch, *command)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"error: the tracking URI {uri} is an Azure ML workspace's, which MLflow reads only with azureml-mlflow "
        "(not installable beside mlflow 3.17); use sqlite:///, file: or an MLflow server's http(s):// URI, "
        "and reach Azure ML through an Azure ML registry: `amlops publish` and amlops:model.azuremlRegistry"
    ]
