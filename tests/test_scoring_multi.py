"""scoring/score_multi.py in-process, as the inference server calls it: init() over one model folder holding
two models (the loans classifier and a Ridge regressor on scikit-learn's diabetes data), then run() routed
by the request's "model" field, each answer checked against that model's own score.py."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder

from amlops.paths import SCORING_DIR
from infra.multi_model import MANIFEST, combine
from models_support import loans_case, ridge_case

pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


def load(name: str, script: str):
    spec = importlib.util.spec_from_file_location(name, SCORING_DIR / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call(module, body: object, method: str = "POST") -> tuple[int, dict]:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    response = module.run(EnvironBuilder(method=method, data=data, content_type="application/json").get_request())
    if isinstance(response, dict):
        return 200, json.loads(json.dumps(response))
    return response.status_code, json.loads(response.get_data())


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return {"loans": loans_case(tmp_path_factory.mktemp("loans")), "diabetes": ridge_case(tmp_path_factory.mktemp("ridge"))}


@pytest.fixture(scope="module")
def mounted(cases, tmp_path_factory) -> Path:
    """The layout Azure mounts: $AZUREML_MODEL_DIR/<registered folder>/ holding multimodel.json and one folder per model."""
    mp = pytest.MonkeyPatch()
    mp.setenv("AMLOPS_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    folder = combine({k: c.folder for k, c in cases.items()})
    mp.undo()
    root = tmp_path_factory.mktemp("azureml-models")
    shutil.copytree(folder, root / "small-models")
    return root


@pytest.fixture(scope="module")
def multi(mounted):
    mp = pytest.MonkeyPatch()
    mp.setenv("AZUREML_MODEL_DIR", str(mounted))
    mp.setenv("AMLOPS_MAX_ROWS", "5")
    module = load("score_multi_under_test", "score_multi.py")
    module.init()
    assert module.os.environ["AZUREML_MODEL_DIR"] == str(mounted)  # restored after each model's init
    yield module
    mp.undo()


@pytest.fixture(scope="module")
def alone(cases):
    """Each model served alone by score.py (the reference answers)."""
    out = {}
    for key, case in cases.items():
        mp = pytest.MonkeyPatch()
        mp.setenv("AZUREML_MODEL_DIR", str(case.folder))
        mp.setenv("AMLOPS_MAX_ROWS", "5")
        out[key] = load(f"score_alone_{key}", "score.py")
        out[key].init()
        mp.undo()
    return out


def test_multi_folder_lists_its_models_and_is_content_addressed(cases, mounted, tmp_path, monkeypatch):
    assert json.loads((mounted / "small-models" / MANIFEST).read_text()) == {"models": ["diabetes", "loans"]}
    monkeypatch.setenv("AMLOPS_STATE_DIR", str(tmp_path))
    first = combine({k: c.folder for k, c in cases.items()})
    assert combine({k: c.folder for k, c in reversed(cases.items())}) == first


@pytest.mark.parametrize("key", ["loans", "diabetes"])
def test_multi_routes_each_request_to_its_model_and_answers_as_that_model_alone(multi, alone, cases, key):
    records = cases[key].records
    status, body = call(multi, {"model": key, "data": records})
    assert (status, body) == call(alone[key], {"data": records})
    assert status == 200 and len(body["predict"]) == len(records)
    power_bi = call(multi, {"model": key, "Inputs": {"data": records}})
    assert power_bi == (200, {"Results": body["predict"]})


def test_multi_answers_differ_by_model_kind(multi, cases):
    loans = call(multi, {"model": "loans", "data": cases["loans"].records, "method": "predict_proba"})[1]
    diabetes = call(multi, {"model": "diabetes", "data": cases["diabetes"].records})[1]
    assert all(len(row) == 2 for row in loans["predict_proba"])  # a classifier's probabilities
    assert all(isinstance(v, float) for v in diabetes["predict"])  # a regressor's numbers
    status, body = call(multi, {"model": "diabetes", "data": cases["diabetes"].records, "method": "predict_proba"})
    assert (status, body) == (400, {"message": "method: unknown method 'predict_proba'; expected predict"})


@pytest.mark.parametrize("body,message", [
    ({"data": [[1, 2, 3]]}, 'missing field "model": the model to score with, one of diabetes, loans'),
    ({"model": "fraud", "data": [[1, 2, 3]]}, "model: unknown model 'fraud'; this deployment serves diabetes, loans"),
    ({"model": 7, "data": [[1, 2, 3]]}, "model: unknown model 7; this deployment serves diabetes, loans"),
    ([1], 'the body must be a JSON object with "model" (one of diabetes, loans) and that model\'s "data" or "Inputs"'),
    (b"{", "invalid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    ({"model": "loans", "data": [[1, 2]]}, "data[0]: expected 3 values (income, credit_cards, age), got 2"),
    ({"model": "diabetes", "data": [{"age": 1}]}, "data[0]: missing column 'sex' (columns: age, sex, bmi, bp, s1, s2, s3, s4, s5, s6)"),
    ({"model": "loans", "data": [[1, 2, 3]] * 6}, "data has 6 rows; at most 5 per request"),
])
def test_multi_bad_input_answers_400_naming_the_problem(multi, body, message):
    assert call(multi, body) == (400, {"message": message})


def test_multi_get_answers_405(multi):
    assert call(multi, b"", method="GET") == (405, {"message": "use POST with a JSON body"})


def test_multi_init_without_manifest_or_with_one_model_fails_naming_it(cases, tmp_path, monkeypatch):
    module = load("score_multi_bad", "score_multi.py")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(cases["loans"].folder))
    with pytest.raises(Exception, match=f"no {MANIFEST} below AZUREML_MODEL_DIR="):
        module.init()
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / MANIFEST).write_text(json.dumps({"models": ["loans"]}))
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    with pytest.raises(Exception, match=r"must list two or more distinct keys .*, got \['loans'\]"):
        module.init()
    (tmp_path / "m" / MANIFEST).write_text(json.dumps({"models": ["loans", "ridge"]}))
    shutil.copytree(cases["loans"].folder, tmp_path / "m" / "loans")
    with pytest.raises(Exception, match="no subfolder for model 'ridge'"):
        module.init()
    (tmp_path / "m" / "ridge").mkdir()
    with pytest.raises(Exception, match="model 'ridge': no MLflow model with model.skops below"):
        module.init()


def test_multi_imports_nothing_from_the_repository():
    source = (SCORING_DIR / "score_multi.py").read_text()
    imports = [line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert sorted(imports) == [
        "__future__", "azureml_inference_server_http.api.aml_request", "azureml_inference_server_http.api.aml_response",
        "importlib.util", "json", "os", "pathlib", "re",
    ]
