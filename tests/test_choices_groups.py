"""`--endpoint` and amlops:multiModel groups, through the CLI: a stack with three models that have endpoints of
their own and a group `small` serving two more. A message asking for an endpoint names the group and its endpoint;
the commands that work on an online endpoint (invoke, endpoint keys|logs|swagger, their --remote halves) take the
group; the ones that work on one model (batch, profile, monitor, promote) refuse it naming the models to choose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli_support import run_cli
from models_support import loans_case, ridge_case
from test_config_multi_model import group_raw

MODELS = (
    "loans (no endpoint of its own; in multiModel group small); churn (churn-dev-online, churn-dev-batch); "
    "fraud (fraud-dev-online, fraud-dev-batch); price (no endpoint of its own; in multiModel group small); "
    "demand (demand-dev-online, demand-dev-batch)"
)
GROUP = "multiModel group small (small-dev-online: loans, price)"


@pytest.fixture
def many(tmp_path, state, monkeypatch) -> dict:
    """stacks/Pulumi.many.yaml holding group_raw() (five models, loans and price served by group `small`); the CLI reads it."""
    raw = group_raw()
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.many.yaml").write_text(yaml.safe_dump({"config": {f"amlops:{k}": v for k, v in raw.items()}}, sort_keys=False))
    monkeypatch.setenv("AMLOPS_STACKS_DIR", str(stacks))
    monkeypatch.setenv("COLUMNS", "400")
    return raw


def cli(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    code, out, err = run_cli(capsys, monkeypatch, *args)
    return code, out, " ".join(err.split())  # stderr as one line, however the console wrapped it


def test_without_endpoint_the_message_lists_every_model_then_the_group(many, capsys, monkeypatch):
    for args in (("invoke", "--data", "{}"), ("endpoint", "keys"), ("endpoint", "swagger"), ("batch", "schedule")):
        code, _, err = cli(capsys, monkeypatch, *args, "--stack", "many")
        assert (code, err) == (2, f"error: stack many: the stack serves 5 models; choose one with --endpoint: {MODELS}; {GROUP}"), args


def test_an_unknown_endpoint_names_the_models_and_the_group(many, capsys, monkeypatch):
    code, _, err = cli(capsys, monkeypatch, "endpoint", "keys", "--stack", "many", "--endpoint", "nope")
    assert (code, err) == (2, f"error: stack many: --endpoint 'nope' names no endpoint of the stack (models: {MODELS}; {GROUP})")


@pytest.mark.parametrize("args", [
    ("batch", "run", "--input", "x.csv"),
    ("batch", "schedule"),
    ("profile", "--max-concurrency", "1"),
    ("monitor", "run"),
])
def test_a_command_on_one_model_refuses_a_group_naming_the_models(many, capsys, monkeypatch, args):
    for endpoint in ("small", "small-dev-online"):
        code, _, err = cli(capsys, monkeypatch, *args, "--stack", "many", "--endpoint", endpoint)
        assert (code, err) == (2, (
            f"error: stack many: --endpoint '{endpoint}' is multiModel group small (one online endpoint serving loans, price); "
            f"this command works on one model's endpoint: choose one with --endpoint: {MODELS}"
        )), (args, endpoint)


def test_endpoint_keys_of_a_group_by_key_or_endpoint_name_are_its_endpoints_own(many, state, capsys, monkeypatch):
    code, by_key, err = cli(capsys, monkeypatch, "endpoint", "keys", "--stack", "many", "--endpoint", "small")
    assert code == 0, err
    assert "keys of small-dev-online" in by_key
    code, by_name, err = cli(capsys, monkeypatch, "endpoint", "keys", "--stack", "many", "-e", "small-dev-online")
    assert (code, by_name) == (0, by_key)
    code, fraud, _ = cli(capsys, monkeypatch, "endpoint", "keys", "--stack", "many", "-e", "fraud")
    assert "keys of fraud-dev-online" in fraud and fraud.replace("fraud-dev-online", "") != by_key.replace("small-dev-online", "")
    assert sorted(p.name for p in (state / "endpoints").iterdir()) == ["fraud-dev-online", "small-dev-online"]


def test_endpoint_logs_of_a_group_before_it_served_says_how_to_serve_it(many, capsys, monkeypatch):
    code, _, err = cli(capsys, monkeypatch, "endpoint", "logs", "--stack", "many", "--endpoint", "small")
    assert code == 2
    assert err.startswith("error: no telemetry for small-dev-online yet (") and err.endswith(
        "serve it with `amlops serve --stack many --endpoint small` and send a request"), err


def test_remote_commands_target_the_groups_azure_endpoint(many, capsys, monkeypatch):
    from amlops.azure import target as target_mod
    from amlops.stackfile import load_stack

    monkeypatch.setattr(target_mod, "ml_client", lambda target: None)  # no Azure: the names are what is tested
    _, small = target_mod.connect("many", "sub-1", "small-dev-online", need="online")
    _, fraud = target_mod.connect("many", "sub-1", "fraud", need="online")
    suffix = fraud.online_endpoint.removeprefix("fraud-dev-online")
    assert small.online_endpoint == f"small-dev-online{suffix}" and (small.batch_endpoint, small.batch_deployment) == (None, None)
    assert (small.resource_group, small.workspace) == (fraud.resource_group, fraud.workspace)
    assert target_mod.group_target("many", load_stack("many"), "small", "sub-1") == small
    code, _, err = cli(capsys, monkeypatch, "batch", "submit", "--stack", "many", "--endpoint", "small", "--input", "azureml://x/", "--subscription", "sub-1")
    assert code == 2 and err.startswith("error: stack many: --endpoint 'small' is multiModel group small"), err


@pytest.fixture
def members(many, tmp_path) -> dict:
    """The group's members registered at their pinned versions: the loans classifier and a Ridge regressor as price."""
    from amlops.registry import Registry

    cases = {"loans": loans_case(tmp_path / "loans"), "price": ridge_case(tmp_path / "price")}
    for key, case in cases.items():
        assert Registry().register(many["models"][key]["name"], case.folder).registered.version == 1
    return cases


def test_endpoint_swagger_of_a_group_routes_each_members_own_request_by_model(members, tmp_path, capsys, monkeypatch):
    out_dir = tmp_path / "sw"
    code, out, err = cli(capsys, monkeypatch, "endpoint", "swagger", "--stack", "many", "--endpoint", "small", "--out", str(out_dir))
    assert code == 0, err
    assert out.startswith("packaged scoring/ for loans-small-models (loans=chapter12-loans:1, price=price-model:1) (blue: at most 1,000 rows per request) at "), out
    assert out.rstrip().endswith(f"copied to {out_dir}")
    v2 = json.loads((out_dir / "swagger.json").read_text())
    assert v2["info"]["title"] == "loans-small-models"
    assert v2["definitions"]["ServiceInput"]["properties"]["model"]["enum"] == ["loans", "price"]
    v3 = json.loads((out_dir / "swagger3.json").read_text())
    schemas = v3["components"]["schemas"]
    routed = {}
    for ref in (alt["$ref"].rsplit("/", 1)[1] for alt in schemas["ServiceInput"]["oneOf"]):
        body = schemas[ref]
        routed.setdefault(body["properties"]["model"]["const"], []).append(body)
    assert sorted(routed) == ["loans", "price"]
    # each member's request and answers are that model's own: its columns; probabilities for the classifier only
    for key, case in members.items():
        rows = schemas[f"{key}_PowerBIInput"]["properties"]["Inputs"]["properties"]["data"]["items"]
        assert rows["required"] == list(case.columns), key
    assert "loans_Probabilities" in schemas and "price_Probabilities" not in schemas
    code, same, _ = cli(capsys, monkeypatch, "endpoint", "swagger", "--stack", "many", "-e", "small-dev-online")
    assert code == 0 and same.split(" at ")[1].split()[0] == out.split(" at ")[1].split()[0]  # one package per content
    code, _, err = cli(capsys, monkeypatch, "endpoint", "swagger", "--stack", "many", "-e", "small", "--model", "chapter12-loans:1")
    assert (code, err) == (2, "error: --model names one model; multiModel group small serves its members' pinned versions (amlops:models.<key>.version)")


def test_promote_a_group_member_says_to_set_its_pinned_version(many, tmp_path, capsys, monkeypatch):
    stacks = tmp_path / "stacks"
    before = (stacks / "Pulumi.many.yaml").read_text()
    code, _, err = cli(capsys, monkeypatch, "promote", "price-model:2", "--to", "many", "--repo", str(tmp_path), "--no-diff")
    assert (code, err) == (2, (
        "error: stack many: model 'price' (price-model) has no online endpoint of its own; multiModel group small serves its "
        "pinned version: set amlops:models.price.version to 2 (the group's combined model then gets a new version and its "
        "deployments roll over to it)"
    ))
    code, _, err = cli(capsys, monkeypatch, "promote", "price-model:2", "--to", "many", "--endpoint", "small", "--repo", str(tmp_path), "--no-diff")
    assert code == 2 and err.startswith("error: stack many: --endpoint 'small' is multiModel group small"), err
    assert (stacks / "Pulumi.many.yaml").read_text() == before
