"""The scoring code asset the Pulumi program uploads is the package `amlops serve` serves: scoring/ plus the
swagger files generated for each deployment's model version (infra/scoring_package.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
import yaml

from amlops.plan import run_plan
from amlops.registry import Registry
from amlops.serving.endpoint import LocalEndpoint
from amlops.stackfile import load_stack
from infra.content import content_hash, folder_files
from infra.swagger import FILES
from registry_support import registered_state
from tree_support import copy_tree, with_local_models

ROOT = Path(__file__).resolve().parent.parent
SPEC_VERSIONS = {"swagger.json": None, "swagger3.json": "3", "swagger3.1.json": "3.1"}
"""Each spec file and the ?version= that serves it."""


@pytest.fixture(scope="module")
def registered(tmp_path_factory, trained_model_dir):
    """A state folder whose registry holds chapter12-loans:1 and :2 (the same trained model twice)."""
    with registered_state(tmp_path_factory.mktemp("registered-state"), trained_model_dir, versions=2) as folder:
        yield folder


@pytest.fixture
def env(registered, monkeypatch) -> dict[str, str]:
    """The registered state for the plan's process and for this one (LocalEndpoint packages in it)."""
    monkeypatch.setenv("AMLOPS_STATE_DIR", str(registered))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return {"AMLOPS_STATE_DIR": str(registered), "MLFLOW_TRACKING_URI": ""}


@pytest.fixture
def tree(tmp_path) -> Path:
    return with_local_models(copy_tree(ROOT, tmp_path / "tree"))


def by_name(plan: dict, name: str) -> dict:
    found = [r for r in plan["resources"] if r["name"] == name]
    assert len(found) == 1, f"stack {plan['stack']}: expected one resource named {name!r}, found {len(found)}"
    return found[0]


def served_app_root(tree: Path, stack: str, deployment: str) -> Path:
    """The app root `amlops serve --stack S --deployment D` serves: scoring/ packaged for D's pinned model."""
    cfg = load_stack(stack, tree / "stacks")
    model_dir = Registry(cfg.registry.tracking_uri).download(cfg.model.name, cfg.deployment_model_version(deployment))
    return LocalEndpoint(cfg, model_dir, deployment=deployment, auth=False, telemetry=False, scoring_dir=tree / "scoring").app_root


def planned_files(plan: dict, code: str) -> dict[str, dict]:
    """The blobs of the code asset resource `code` (e.g. scoring-code-v2), by file path inside the asset."""
    version = by_name(plan, f"{code}-version")["inputs"]
    prefix = f"{version['name']}/{version['version']}/"
    blobs = [r for r in plan["resources"] if r["type"] == "azure-native:storage:Blob" and r["urn"] in by_name(plan, f"{code}-version")["dependencies"]]
    assert all(b["inputs"]["blobName"].startswith(prefix) for b in blobs), f"{code}: blobs outside {prefix}"
    return {b["inputs"]["blobName"].removeprefix(prefix): b["inputs"]["source"] for b in blobs}


def sha12(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_plan_scoring_code_with_a_registered_model_is_the_package_amlops_serve_serves(env, tree):
    plan = run_plan("dev", tree, env=env)
    assert plan["warnings"] == []
    app_root = served_app_root(tree, "dev", "blue")
    version = by_name(plan, "scoring-code-version")
    assert version["inputs"]["version"] == content_hash(app_root), version["urn"]
    files = planned_files(plan, "scoring-code")
    assert sorted(files) == folder_files(app_root) == sorted(["datacollection.py", "environment/conda.yaml", "score.py", "score_multi.py", *FILES])
    assert {rel: src["sha256"] for rel, src in files.items()} == {rel: sha12(app_root / rel) for rel in files}
    assert (app_root / "score.py").read_bytes() == (tree / "scoring" / "score.py").read_bytes()
    blue = by_name(plan, "online-blue")["inputs"]["properties"]["codeConfiguration"]
    assert blue == {"codeId": blue["codeId"], "scoringScript": "score.py"} and blue["codeId"].endswith(f"/versions/{content_hash(app_root)}")
    # What the uploaded spec files hold is what the local server answers on /swagger.json.
    cfg = load_stack("dev", tree / "stacks")
    with LocalEndpoint(cfg, Registry(cfg.registry.tracking_uri).download("chapter12-loans", 1), auth=False, telemetry=False, workers=1, scoring_dir=tree / "scoring") as ep:
        for name, query in SPEC_VERSIONS.items():
            served = httpx.get(ep.swagger_url, params={"version": query} if query else None, timeout=30)
            assert served.status_code == 200, (name, served.text)
            assert served.json() == json.loads(Path(files[name]["fileAsset"]).read_text()), name
    assert json.loads(Path(files["swagger.json"]["fileAsset"]).read_text())["info"]["title"] == "chapter12-loans:1"


def test_plan_one_byte_in_score_py_with_a_registered_model_changes_only_scoring_code_and_its_deployment(env, tree, tmp_path):
    before = run_plan("prod", tree, env=env)
    with (tree / "scoring" / "score.py").open("ab") as f:
        f.write(b"\n")
    after = run_plan("prod", tree, env=env)
    old = {r["urn"]: r for r in before["resources"]}
    new = {r["urn"]: r for r in after["resources"]}
    assert old.keys() == new.keys(), sorted(old.keys() ^ new.keys())
    modified = {r["name"] for urn, r in new.items() if r != old[urn]}
    app_root = served_app_root(tree, "prod", "blue")
    assert modified == {"scoring-code-version", "online-blue"} | {f"scoring-code-{rel}" for rel in folder_files(app_root)}, sorted(modified)
    assert by_name(after, "scoring-code-version")["inputs"]["version"] == content_hash(app_root)
    assert set(FILES) <= set(planned_files(after, "scoring-code")), "the specs are uploaded after the change too"


def test_plan_deployments_on_two_model_versions_each_run_their_own_package(env, tree):
    path = tree / "stacks" / "Pulumi.prod.yaml"
    doc = yaml.safe_load(path.read_text())
    deployments = doc["config"]["amlops:online"]["deployments"]
    deployments["green"] = {**deployments["blue"], "modelVersion": 2}
    path.write_text(yaml.safe_dump(doc))
    plan = run_plan("prod", tree, env=env)
    assert plan["warnings"] == []
    for deployment, code, title in (("blue", "scoring-code", "chapter12-loans:1"), ("green", "scoring-code-v2", "chapter12-loans:2")):
        app_root = served_app_root(tree, "prod", deployment)
        digest = by_name(plan, f"{code}-version")["inputs"]["version"]
        assert digest == content_hash(app_root), code
        files = planned_files(plan, code)
        assert {rel: src["sha256"] for rel, src in files.items()} == {rel: sha12(app_root / rel) for rel in folder_files(app_root)}, code
        assert json.loads(Path(files["swagger.json"]["fileAsset"]).read_text())["info"]["title"] == title, code
        code_id = by_name(plan, f"online-{deployment}")["inputs"]["properties"]["codeConfiguration"]["codeId"]
        assert code_id.endswith(f"loansprd-scoring/versions/{digest}"), (deployment, code_id)
    assert [r["name"] for r in plan["resources"] if r["type"] == "azure-native:machinelearningservices:CodeContainer"] == [
        "batch-code-container", "scoring-code-container",
    ], "one code container per artifact, whatever the number of versions"


def test_scoring_codes_give_each_model_version_and_row_limit_its_own_package(state, trained_model_dir):
    from infra.scoring_package import scoring_codes

    cfg = load_stack("prod")
    blue = cfg.online.deployments["blue"]
    settings = blue.request_settings.model_copy(update={"max_rows": 500})
    cfg.online.deployments.update(
        green=blue.model_copy(update={"model_version": 2}),
        canary=blue.model_copy(update={"request_settings": settings}),
    )
    codes, warnings = scoring_codes(cfg.model, {1: trained_model_dir, 2: None}, ROOT / "scoring")
    assert [(c.label, c.deployments) for c in codes] == [("", ("blue",)), ("rows500", ("canary",)), ("v2", ("green",))]
    assert codes[2].folder == ROOT / "scoring"
    limits = [json.loads((c.folder / "swagger.json").read_text())["definitions"]["ServiceInput"]["properties"]["Inputs"]["properties"]["data"]["maxItems"] for c in codes[:2]]
    assert limits == [1000, 500]
    assert warnings == [
        "online deployment green: the scoring code is planned without swagger.json, swagger3.json, swagger3.1.json, as model "
        "chapter12-loans:2 is referenced in the Azure ML registry loansreg, not downloaded; Azure would serve the inference server's generic /swagger.json, not the one "
        "`amlops serve` serves"
    ]


def test_code_asset_args_check_every_variant_folder_and_label(tmp_path):
    from infra.code_asset import CodeAssetArgs
    from infra.errors import ArtifactMissing, InvalidArgs

    (tmp_path / "main").mkdir()
    (tmp_path / "main" / "score.py").write_text("")
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "swagger.json").write_text("{}")
    common = dict(
        asset_name="loans-scoring", folder=tmp_path / "main", entry_scripts=("score.py",), resource_group_name="rg",
        workspace_name="ws", storage_account_name="st", container_name="c", datastore_name="amlops_assets",
    )
    with pytest.raises(ArtifactMissing) as err:
        CodeAssetArgs(**common, variants={"v2": tmp_path / "v2"}).validate()
    assert str(err.value) == f"CodeAsset loans-scoring: {tmp_path / 'v2'} has no score.py (files there: swagger.json)"
    with pytest.raises(InvalidArgs) as err:
        CodeAssetArgs(**common, variants={"": tmp_path / "main", "v 2": tmp_path / "main"}).validate()
    assert str(err.value) == "CodeAsset: variants labels must be letters, digits and hyphens, got ['', 'v 2']"
    (tmp_path / "v2" / "score.py").write_text("")
    (tmp_path / "v2" / "swagger.json").unlink()
    with pytest.raises(InvalidArgs) as err:
        CodeAssetArgs(**common, variants={"v2": tmp_path / "v2"}).validate()
    digest = content_hash(tmp_path / "main")
    assert str(err.value) == f"CodeAsset: variants must each hold different files from the folder and each other (content hashes {[digest, digest]!r})"
