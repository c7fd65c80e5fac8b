"""Stack config: `amlops:multiModel` groups (several small models in one online deployment) validate, and
a broken group fails with one message per problem at the dotted key that holds it."""

from __future__ import annotations

import copy

import pytest

from infra.config import ConfigError, parse_config
from test_many_models import many_raw


def group_raw() -> dict:
    """Five models; loans and price (no endpoints of their own) served together by group `small`."""
    raw = many_raw()
    online = copy.deepcopy(raw["models"]["loans"]["online"])
    for key in ("loans", "price"):
        raw["models"][key].pop("online")
        raw["models"][key].pop("batch")
    raw["multiModel"] = {"small": {"models": ["loans", "price"], "online": {**online, "endpointName": "small-dev-online"}}}
    return raw


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "many.yaml")
    return [f"{p.key()}: {p.message}" for p in err.value.problems]


def test_a_group_serves_models_without_endpoints_of_their_own():
    cfg = parse_config(group_raw(), "many.yaml")
    group = cfg.multi_model["small"]
    assert group.models == ["loans", "price"]
    assert group.online.endpoint_name == "small-dev-online"
    assert cfg.models["price"].online is None and cfg.models["price"].batch is None
    assert cfg.models["fraud"].online.endpoint_name == "fraud-dev-online"  # the others unchanged


def test_a_stack_without_groups_has_none():
    assert parse_config(many_raw(), "many.yaml").multi_model == {}


def test_members_are_models_of_the_stack_each_once_and_not_from_a_registry():
    raw = group_raw()
    raw["models"]["fraud"]["azuremlRegistry"] = "shared"
    raw["multiModel"]["small"]["models"] = ["loans", "nope", "fraud", "loans"]
    assert problems(raw) == ["amlops:multiModel.small.models: lists each model once, got loans more than once"]
    raw["multiModel"]["small"]["models"] = ["loans", "nope", "fraud", "price"]
    assert problems(raw) == [
        "amlops:multiModel.small.models.1: names no model of amlops:models (models: loans, churn, fraud, price, demand), got 'nope'",
        "amlops:multiModel.small.models.2: is a model of Azure ML registry 'shared' (amlops:models.fraud.azuremlRegistry); a group's "
        "combined model folder is built from local MLflow folders, so its members are models of this workspace",
    ]


def test_a_group_has_two_members_at_least():
    raw = group_raw()
    raw["multiModel"]["small"]["models"] = ["loans"]
    raw["models"]["price"]["online"] = copy.deepcopy(raw["multiModel"]["small"]["online"]) | {"endpointName": "price-dev-online"}
    assert problems(raw) == ["amlops:multiModel.small.models: List should have at least 2 items after validation, not 1, got ['loans']"]


def test_no_per_deployment_model_version_in_a_group():
    raw = group_raw()
    raw["multiModel"]["small"]["online"]["deployments"]["blue"]["modelVersion"] = 3
    assert problems(raw) == [
        "amlops:multiModel.small.online.deployments.blue.modelVersion: is not read in a group: every deployment serves one "
        "combined model folder of the members' pinned versions (set amlops:models.<key>.version instead), got 3"
    ]


def test_group_keys_and_endpoint_names_are_unique_across_models_and_groups():
    raw = group_raw()
    raw["multiModel"]["fraud"] = copy.deepcopy(raw["multiModel"]["small"])
    raw["multiModel"]["small"]["online"]["endpointName"] = "churn-dev-batch"
    assert problems(raw) == [
        "amlops:multiModel.small.online.endpointName: is already the name of models.churn.batch.endpointName "
        "(endpoint names are unique per region), got 'churn-dev-batch'",
        "amlops:multiModel.fraud: is already a key of amlops:models (a group's resources are named <key>-<role> as a model's), got 'fraud'",
    ]


def test_group_key_follows_the_model_key_rule():
    raw = group_raw()
    raw["multiModel"]["Small_Group"] = raw["multiModel"].pop("small")
    assert problems(raw) == ["amlops:multiModel: model keys must be 1-12 lowercase letters or digits, starting with a letter, got 'Small_Group'"]


def test_online_rules_hold_per_group_at_its_keys():
    raw = group_raw()
    raw["multiModel"]["small"]["online"]["traffic"] = {"blue": 90}
    raw["multiModel"]["small"]["online"]["authMode"] = "token"
    assert problems(raw) == [
        "amlops:multiModel.small.online.authMode: Input should be 'key', 'aml_token' or 'aad_token', got 'token'",
        "amlops:multiModel.small.online.traffic: must sum to 0 or 100, got 90",
    ]


def test_a_model_in_no_group_and_without_endpoints_is_refused():
    raw = group_raw()
    raw["multiModel"]["small"]["models"] = ["loans", "fraud"]
    assert problems(raw) == [
        "amlops:models.price: declares neither online nor batch and is in no multiModel group: give the model at least one endpoint, got neither"
    ]


def test_unknown_group_setting_is_named():
    raw = group_raw()
    raw["multiModel"]["small"]["batch"] = {}
    assert problems(raw) == ["amlops:multiModel.small.batch: is not a known setting (check its spelling; keys are camelCase)"]
