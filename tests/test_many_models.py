"""Many models per stack: the `amlops:models` schema, the single-model form read as one entry, and the
Pulumi program declaring each model's resources apart (a five-model stack under mocks)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from amlops.plan import run_plan
from infra.config import LEGACY_KEY, AmbiguousModel, ConfigError, UnknownEndpoint, parse_config
from infra.naming import is_endpoint_name
from tree_support import copy_tree

ROOT = Path(__file__).resolve().parent.parent
ML = "azure-native:machinelearningservices"
KEYS = ("loans", "churn", "fraud", "price", "demand")


def dev_raw() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in doc.items()}


def many_raw(keys: tuple[str, ...] = KEYS) -> dict[str, Any]:
    """dev's shared sections and one entry per key, each with its own online and batch endpoint."""
    raw = dev_raw()
    model, online, batch = raw.pop("model"), raw.pop("online"), raw.pop("batch")
    raw.pop("monitor", None)  # dev's monitor belongs to its one model; these models declare none
    raw["models"] = {
        key: {
            "name": f"{key}-model" if key != "loans" else model["name"],
            "version": 1,
            "online": {**copy.deepcopy(online), "endpointName": f"{key}-dev-online"},
            "batch": {**copy.deepcopy(batch), "endpointName": f"{key}-dev-batch", "output": {"path": f"inferences/{key}/{{date}}/"}},
        }
        for key in keys
    }
    return raw


def test_config_single_model_form_is_read_as_one_entry():
    cfg = parse_config(dev_raw(), "stacks/Pulumi.dev.yaml")
    assert list(cfg.models) == [LEGACY_KEY] and cfg.single_form
    assert cfg.select(None)[1].online.endpoint_name == "loans-dev-online"
    assert cfg.label(LEGACY_KEY) == ""


def test_config_many_models_each_own_endpoints_and_select_by_endpoint():
    cfg = parse_config(many_raw(), "many.yaml")
    assert list(cfg.models) == list(KEYS) and not cfg.single_form
    assert cfg.select("fraud-dev-batch")[0] == "fraud"
    assert cfg.select("price")[0] == "price"
    with pytest.raises(AmbiguousModel, match="choose one with --endpoint: loans \\(loans-dev-online, loans-dev-batch\\)"):
        cfg.select(None)
    with pytest.raises(UnknownEndpoint, match="--endpoint 'nope' names no endpoint"):
        cfg.select("nope")
    with pytest.raises(AmbiguousModel):
        cfg.online  # noqa: B018 (the single-model accessors refuse to guess)


def test_config_many_models_problems_name_the_model_key():
    raw = many_raw()
    raw["models"]["fraud"]["online"]["traffic"] = {"blue": 90}
    raw["models"]["price"]["batch"]["endpointName"] = "loans-dev-online"
    raw["models"]["demand"]["online"]["authMode"] = "token"
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "many.yaml")
    assert [f"{p.key()}: {p.message}" for p in err.value.problems] == [
        "amlops:models.demand.online.authMode: Input should be 'key', 'aml_token' or 'aad_token', got 'token'",
        "amlops:models.fraud.online.traffic: must sum to 0 or 100, got 90",
        "amlops:models.price.batch.endpointName: is already the name of models.loans.online.endpointName "
        "(endpoint names are unique per region), got 'loans-dev-online'",
    ]


def test_config_model_key_and_endpoints_are_checked():
    raw = many_raw(("loans",))
    raw["models"]["empty"] = {"name": "x", "version": 1}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "many.yaml")
    neither = "amlops:models.empty: declares neither online nor batch and is in no multiModel group: give the model at least one endpoint, got neither"
    assert err.value.render() == f"many.yaml: {neither}"
    raw["models"]["Bad_Key"] = raw["models"].pop("loans")
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "many.yaml")
    assert [f"{p.key()}: {p.message}" for p in err.value.problems] == [
        "amlops:models: model keys must be 1-12 lowercase letters or digits, starting with a letter, got 'Bad_Key'",
        neither,
    ]


def test_config_both_forms_at_once_are_refused_naming_the_keys():
    raw = many_raw(("loans",))
    raw["online"] = dev_raw()["online"]
    with pytest.raises(ConfigError, match="amlops:online: belongs to the single-model form; with amlops:models, move amlops:online into a model entry"):
        parse_config(raw, "many.yaml")


# --- the program, five models -------------------------------------------------------------


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory) -> dict[str, str]:
    return {"AMLOPS_STATE_DIR": str(tmp_path_factory.mktemp("empty-state")), "MLFLOW_TRACKING_URI": ""}


def write_stack(tree: Path, name: str, raw: dict[str, Any]) -> None:
    doc = {"config": {f"amlops:{k}": v for k, v in raw.items()}}
    (tree / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture(scope="module")
def five(tmp_path_factory, offline_env) -> tuple[dict[str, Any], dict[str, Any]]:
    """The five-model stack's plan, and the plan after a one-byte change in one model's settings."""
    tree = copy_tree(ROOT, tmp_path_factory.mktemp("tree"))
    raw = many_raw()
    write_stack(tree, "many", raw)
    before = run_plan("many", tree, env=offline_env)
    raw["models"]["fraud"]["online"]["deployments"]["blue"]["requestSettings"]["requestTimeoutMs"] = 5001  # 5000 → 5001
    write_stack(tree, "many", raw)
    return before, run_plan("many", tree, env=offline_env)


def resources(plan: dict[str, Any], typ: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == typ]


def test_plan_five_models_each_get_their_own_endpoints_and_assets(five):
    plan, _ = five
    online = sorted(r["inputs"]["endpointName"] for r in resources(plan, f"{ML}:OnlineEndpoint"))
    batch = sorted(r["inputs"]["endpointName"] for r in resources(plan, f"{ML}:BatchEndpoint"))
    assert [n.rsplit("-", 1)[0] for n in online] == sorted(f"{k}-dev-online" for k in KEYS)
    assert [n.rsplit("-", 1)[0] for n in batch] == sorted(f"{k}-dev-batch" for k in KEYS)
    assert all(is_endpoint_name(n) for n in online + batch), online + batch
    models = sorted(r["inputs"]["name"] for r in resources(plan, f"{ML}:ModelContainer"))
    assert models == sorted(f"{k}-model" if k != "loans" else "chapter12-loans" for k in KEYS)
    codes = sorted(r["inputs"]["name"] for r in resources(plan, f"{ML}:CodeContainer"))
    assert codes == sorted(["loans-batch", "loans-scoring", *(f"loans-{k}-scoring" for k in KEYS[1:])])  # the first keeps a migrated stack's name
    # Azure names never collide: every (type, name) pair once
    named = [(r["type"], r["inputs"].get("name") or r["inputs"].get("endpointName") or r["inputs"].get("deploymentName") or r["name"],
              r["inputs"].get("endpointName")) for r in plan["resources"] if r["custom"]]
    assert len(named) == len(set(named))
    for key in KEYS:
        assert any(r["name"] == f"{key}-online-blue" for r in plan["resources"]), key


def test_plan_one_byte_change_in_one_model_touches_only_its_resources(five):
    before, after = five
    a = {r["urn"]: r for r in before["resources"]}
    b = {r["urn"]: r for r in after["resources"]}
    assert a.keys() == b.keys()
    changed = sorted(r["name"] for u, r in b.items() if a[u] != r)
    assert changed and all(n.startswith("fraud-") for n in changed), changed
    assert "fraud-online-blue" in changed


def azure_deployment_body(d: dict[str, Any], scoring_script: str) -> dict[str, Any]:
    """azure-ai-ml's ManagedOnlineDeployment REST properties for the planned deployment `d` (dev's blue settings)."""
    import warnings

    from azure.ai.ml.entities import CodeConfiguration, DataCollector, DeploymentCollection, ManagedOnlineDeployment, OnlineRequestSettings, ProbeSettings

    p = d["inputs"]["properties"]
    # dev's blue collects both collections of every request (its dataCollector)
    collector = DataCollector(collections={c: DeploymentCollection(enabled="true") for c in ("model_inputs", "model_outputs")}, sampling_rate=1.0, rolling_rate="Hour")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        entity = ManagedOnlineDeployment(
            name="blue", endpoint_name=d["inputs"]["endpointName"], model=p["model"],
            code_configuration=CodeConfiguration(code=p["codeConfiguration"]["codeId"], scoring_script=scoring_script),
            environment=p["environmentId"], instance_type="Standard_DS1_v2", instance_count=1,
            environment_variables=p["environmentVariables"], app_insights_enabled=True,
            request_settings=OnlineRequestSettings(request_timeout_ms=5000, max_concurrent_requests_per_instance=2, max_queue_wait_ms=500),
            liveness_probe=ProbeSettings(initial_delay=10, period=10, timeout=2, failure_threshold=30, success_threshold=1),
            readiness_probe=ProbeSettings(initial_delay=10, period=10, timeout=2, failure_threshold=30, success_threshold=1),
            data_collector=collector,
        )
        rest = entity._to_rest_object(location="westeurope").as_dict()
    return {k: v for k, v in rest["properties"].items() if k != "properties"}


def test_plan_five_models_online_deployments_are_what_azure_ai_ml_sends(five):
    """Per model, azure-ai-ml's ManagedOnlineDeployment REST body equals the plan's deployment properties."""
    plan, _ = five
    for key in KEYS:
        d = next(r for r in plan["resources"] if r["name"] == f"{key}-online-blue")
        p = d["inputs"]["properties"]
        assert {k: v for k, v in p.items() if k != "egressPublicNetworkAccess"} == azure_deployment_body(d, "score.py"), d["urn"]
        registered = f"{key}-model" if key != "loans" else "chapter12-loans"
        assert re.search(rf"/modelVersions/{registered}/versions/1$", p["model"]), (d["urn"], p["model"])
