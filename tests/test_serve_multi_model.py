"""A multiModel group served locally as its deployment runs: LocalEndpoint with the group's online settings, the
combined folder and score_multi.py as the entry script; the loans classifier and a Ridge regressor (models this
test did not train for the group: scikit-learn's diabetes data) each answer exactly as when served alone."""

from __future__ import annotations

import httpx
import pytest

from amlops.serving.endpoint import LocalEndpoint
from amlops.stackfile import load_stack
from infra.config import parse_config
from infra.multi_model import combine
from models_support import loans_case, ridge_case
from test_config_multi_model import group_raw

pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return {"loans": loans_case(tmp_path_factory.mktemp("loans")), "price": ridge_case(tmp_path_factory.mktemp("ridge"))}


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("AMLOPS_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def alone(cases, state):
    """Each model's answers served alone by score.py under dev's settings (the reference)."""
    dev = load_stack("dev")
    out = {}
    for key, case in cases.items():
        with LocalEndpoint(dev, case.folder, workers=1, auth=False, telemetry=False, model_ref=f"{key}:1") as ep:
            out[key] = [httpx.post(ep.scoring_url, json={"data": case.records, "method": m}, timeout=60) for m in ("predict", "predict_proba")]
            out[key].append(httpx.post(ep.scoring_url, json={"data": [{"nope": 1}]}, timeout=60))
    return out


@pytest.fixture(scope="module")
def group(cases, state):
    cfg = parse_config(group_raw(), "many.yaml")
    folder = combine({k: c.folder for k, c in cases.items()})
    ep = LocalEndpoint(cfg, folder, online=cfg.multi_model["small"].online, entry_script="score_multi.py", model_ref="small",
                       workers=1, auth=False, telemetry=False)
    with ep:
        yield ep


def test_each_model_answers_through_the_group_as_served_alone(group, alone, cases):
    assert group.endpoint_name == "small-dev-online" and group.entry_script == "score_multi.py"
    for key, case in cases.items():
        got = [httpx.post(group.scoring_url, json={"model": key, "data": case.records, "method": m}, timeout=60) for m in ("predict", "predict_proba")]
        got.append(httpx.post(group.scoring_url, json={"model": key, "data": [{"nope": 1}]}, timeout=60))
        assert [(r.status_code, r.json()) for r in got] == [(r.status_code, r.json()) for r in alone[key]], key
    assert alone["loans"][0].status_code == 200 and alone["price"][0].status_code == 200
    assert alone["price"][1].status_code == 400  # a regressor has no predict_proba, through the group too


def test_the_group_names_its_models_when_the_request_does_not(group):
    r = httpx.post(group.scoring_url, json={"data": [[1, 2, 3]]}, timeout=60)
    assert r.status_code == 400 and r.json() == {"message": 'missing field "model": the model to score with, one of loans, price'}
    r = httpx.post(group.scoring_url, json={"model": "fraud", "data": [[1, 2, 3]]}, timeout=60)
    assert r.status_code == 400 and "unknown model 'fraud'; this deployment serves loans, price" in r.json()["message"]


def test_an_endpoint_given_by_its_settings_needs_to_say_what_it_serves(cases, state):
    from amlops.errors import UsageError

    cfg = parse_config(group_raw(), "many.yaml")
    with pytest.raises(UsageError, match="needs model_ref"):
        LocalEndpoint(cfg, cases["loans"].folder, online=cfg.multi_model["small"].online, entry_script="score_multi.py")


def test_the_group_serves_each_models_swagger_routed_by_model(group, cases):
    """OpenAPI 3.1: a oneOf over each model's bodies with `model` fixed (const), outputs anyOf; Swagger 2.0: `model` an enum."""
    v31 = httpx.get(group.swagger_url, params={"version": "3.1"}, timeout=30).json()
    schemas = v31["components"]["schemas"]
    bodies = [schemas[ref["$ref"].rsplit("/", 1)[1]] for ref in schemas["ServiceInput"]["oneOf"]]
    assert sorted((b["properties"]["model"]["const"], "Inputs" in b["properties"]) for b in bodies) == [
        ("loans", False), ("loans", True), ("price", False), ("price", True)]
    assert all(b["required"][0] == "model" and b["additionalProperties"] is False for b in bodies)
    price_book = schemas["price_BookInput"]["properties"]["data"]["oneOf"][0]["items"]
    assert tuple(price_book["required"]) == cases["price"].columns  # the Ridge's own columns, not the loans'
    assert "anyOf" in schemas["ServiceOutput"] and "loans_Probabilities" in str(schemas["ServiceOutput"])
    assert "price_Probabilities" not in schemas  # a regressor answers no probabilities
    v2 = httpx.get(group.swagger_url, timeout=30).json()
    assert v2["swagger"] == "2.0"
    assert v2["definitions"]["ServiceInput"]["properties"]["model"]["enum"] == ["loans", "price"]
