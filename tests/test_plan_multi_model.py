"""The program declares an amlops:multiModel group: the members' MLflow folders as one content-versioned
custom_model asset, scoring/ with score_multi.py as the entry script, and the group's online endpoint, all
named `<group>-<role>`; the deployment and the model version equal azure-ai-ml's own REST bodies."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from amlops.plan import run_plan
from amlops.registry import Registry
from infra.content import content_hash
from infra.multi_model import MANIFEST
from models_support import ridge_case
from test_many_models import ML, ROOT, azure_deployment_body, many_raw, resources, write_stack
from tree_support import copy_tree

GROUP = "small"


def group_stack() -> dict[str, Any]:
    """loans (chapter12-loans:1) and price (diabetes-ridge:1) served only by group `small`; churn on its own."""
    raw = many_raw(("loans", "price", "churn"))
    online = copy.deepcopy(raw["models"]["loans"]["online"])
    raw["models"]["price"]["name"] = "diabetes-ridge"
    for key in ("loans", "price"):
        del raw["models"][key]["online"], raw["models"][key]["batch"]
    raw["multiModel"] = {GROUP: {"models": ["loans", "price"], "online": {**online, "endpointName": "small-dev-online"}}}
    return raw


@pytest.fixture(scope="module")
def state(tmp_path_factory, trained_model_dir) -> Path:
    folder = tmp_path_factory.mktemp("group-state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AMLOPS_STATE_DIR", str(folder))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        registry = Registry()
        assert registry.register("chapter12-loans", trained_model_dir).registered.version == 1
        ridge = ridge_case(tmp_path_factory.mktemp("ridge")).folder
        assert registry.register("diabetes-ridge", ridge).registered.version == 1
    return folder


@pytest.fixture(scope="module")
def plan(tmp_path_factory, state) -> dict[str, Any]:
    tree = copy_tree(ROOT, tmp_path_factory.mktemp("tree"))
    write_stack(tree, "group", group_stack())
    return run_plan("group", tree, env={"AMLOPS_STATE_DIR": str(state), "MLFLOW_TRACKING_URI": ""})


def one(plan: dict[str, Any], name: str) -> dict[str, Any]:
    found = [r for r in plan["resources"] if r["name"] == name]
    assert len(found) == 1, (name, [r["name"] for r in plan["resources"]])
    return found[0]


def combined_folder(state: Path) -> Path:
    (folder,) = (state / "multimodel").iterdir()
    return folder


def test_the_group_registers_one_combined_custom_model_versioned_by_its_content(plan, state):
    folder = combined_folder(state)
    assert json.loads((folder / MANIFEST).read_text()) == {"models": ["loans", "price"]}
    assert (folder / "loans" / "MLmodel").is_file() and (folder / "price" / "MLmodel").is_file()
    models = sorted(r["inputs"]["name"] for r in resources(plan, f"{ML}:ModelContainer"))
    assert models == ["churn-model", f"loans-{GROUP}-models"]  # the members have no model asset of their own
    version = one(plan, f"{GROUP}-models-version")["inputs"]
    assert version["version"] == content_hash(folder)
    props = version["properties"]
    assert props["modelType"] == "custom_model"
    assert props["tags"]["member.loans"] == "chapter12-loans:1" and props["tags"]["member.price"] == "diabetes-ridge:1"
    uploaded = sorted(r["inputs"]["blobName"] for r in plan["resources"] if r["type"] == "azure-native:storage:Blob" and r["name"].startswith(f"{GROUP}-models-files"))
    assert f"models/loans-{GROUP}-models/{content_hash(folder)}/{MANIFEST}" in uploaded
    assert any(b.endswith("/price/MLmodel") for b in uploaded) and any(b.endswith("/loans/MLmodel") for b in uploaded)


def test_the_model_version_is_what_azure_ai_ml_sends(plan, state):
    from azure.ai.ml.entities import Model

    props = one(plan, f"{GROUP}-models-version")["inputs"]["properties"]
    entity = Model(name=f"loans-{GROUP}-models", version=content_hash(combined_folder(state)), type="custom_model",
                   path=props["modelUri"], description=props["description"], tags=props["tags"])
    rest = entity._to_rest_object().as_dict()["properties"]
    assert {k: rest[k] for k in ("modelType", "modelUri", "description", "tags")} == {k: props[k] for k in ("modelType", "modelUri", "description", "tags")}


def test_the_group_deployment_runs_score_multi_on_the_combined_model_as_azure_ai_ml_sends(plan, state):
    d = one(plan, f"{GROUP}-online-blue")
    p = d["inputs"]["properties"]
    assert p["codeConfiguration"]["scoringScript"] == "score_multi.py"
    assert re.search(rf"/modelVersions/loans-{GROUP}-models/versions/{content_hash(combined_folder(state))}$", p["model"]), p["model"]
    assert {k: v for k, v in p.items() if k != "egressPublicNetworkAccess"} == azure_deployment_body(d, "score_multi.py")


def test_the_group_code_holds_both_entry_scripts_and_its_resources_are_named_by_the_group(plan):
    codes = sorted(r["inputs"]["name"] for r in resources(plan, f"{ML}:CodeContainer"))
    assert codes == ["loans-batch", "loans-churn-scoring", f"loans-{GROUP}-scoring"]
    blobs = [r["inputs"]["blobName"] for r in plan["resources"] if r["type"] == "azure-native:storage:Blob" and r["name"].startswith(f"{GROUP}-scoring-code")]
    assert {b.rsplit("/", 1)[1] for b in blobs} >= {"score.py", "score_multi.py", "swagger.json", "swagger3.json", "swagger3.1.json"}
    online = sorted(r["inputs"]["endpointName"].rsplit("-", 1)[0] for r in resources(plan, f"{ML}:OnlineEndpoint"))
    assert online == ["churn-dev-online", "small-dev-online"]
    ours = [r["name"] for r in plan["resources"] if r["name"].startswith(f"{GROUP}-")]
    assert {f"{GROUP}-online", f"{GROUP}-online-blue", f"{GROUP}-models", f"{GROUP}-scoring-code"} <= set(ours)
    assert not [r["name"] for r in plan["resources"] if r["name"].startswith(("loans-", "price-"))]


def test_a_policy_finding_on_the_group_names_the_group_and_its_key(plan):
    """owners.py tells a group from a model (by the stack config, else by the group's combined model in the plan)."""
    from amlops.plan.document import parse_plan
    from amlops.policy.runner import check_plan
    from infra.config import parse_config

    doc = copy.deepcopy(plan)
    one(doc, f"{GROUP}-online-blue")["inputs"]["properties"]["appInsightsEnabled"] = False
    config = parse_config(group_stack(), "group.yaml").model_dump(mode="json", by_alias=True)
    for cfg in (None, config):
        found = [v for v in check_plan(parse_plan(doc), config=cfg, stack_file="stacks/Pulumi.group.yaml").violations if v.rule == "deployment-app-insights"]
        assert [v.urn.rsplit("::", 1)[-1] for v in found] == [f"{GROUP}-online-blue"]
        assert found[0].message.startswith(f"multiModel group {GROUP!r}, endpoint 'small-dev-online-"), found[0].message
        assert found[0].message.endswith(
            f"set appInsightsEnabled: true on amlops:multiModel.{GROUP}.online.deployments.blue in stacks/Pulumi.group.yaml"
        ), found[0].message
