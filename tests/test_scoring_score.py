"""scoring/score.py in-process: init() then run(), as the inference server calls them."""

from __future__ import annotations

import importlib.util
import json
import shutil
import warnings
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder

from amlops.paths import SCORING_DIR

# pytest resets warning filters per test; the server keeps the one init() installs.
pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


def load_score_module(name: str):
    spec = importlib.util.spec_from_file_location(name, SCORING_DIR / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def nested_model_dir(trained_model_dir, tmp_path_factory) -> Path:
    """The layout Azure mounts: $AZUREML_MODEL_DIR/<model-folder>/MLmodel."""
    root = tmp_path_factory.mktemp("azureml-models")
    shutil.copytree(trained_model_dir, root / "chapter12-loans" / "model")
    return root


@pytest.fixture(scope="module")
def score(nested_model_dir):
    mp = pytest.MonkeyPatch()
    mp.setenv("AZUREML_MODEL_DIR", str(nested_model_dir))
    mp.setenv("AMLOPS_MAX_ROWS", "5")
    module = load_score_module("score_under_test")
    module.init()
    yield module
    mp.undo()


def call(score, body: bytes | str, method: str = "POST") -> tuple[int, dict]:
    request = EnvironBuilder(method=method, data=body, content_type="application/json").get_request()
    response = score.run(request)
    if isinstance(response, dict):  # the server answers a returned dict as a 200 JSON body
        return 200, json.loads(json.dumps(response))
    return response.status_code, json.loads(response.get_data())


def test_score_rows_predict_answers_in_the_books_shape(score):
    status, body = call(score, json.dumps({"data": [[2000, 2, 45], [9000, 1, 60]]}))
    assert (status, body) == (200, {"predict": [0, 1]})


def test_score_records_match_columns_by_name_not_position(score):
    rows = json.dumps({"data": [[2000, 2, 45], [9000, 1, 60]], "method": "predict_proba"})
    shuffled = json.dumps({"data": [{"age": 45, "income": 2000, "credit_cards": 2}, {"credit_cards": 1, "age": 60, "income": 9000}], "method": "predict_proba"})
    status_rows, by_rows = call(score, rows)
    status_records, by_records = call(score, shuffled)
    assert status_rows == status_records == 200
    assert by_rows == by_records
    probs = by_rows["predict_proba"]
    assert len(probs) == 2 and all(len(p) == 2 and abs(sum(p) - 1) < 1e-9 for p in probs)
    assert probs[0][0] > 0.5 > probs[1][0]


def test_score_predict_proba_matches_the_model(score, trained_model_dir):
    import numpy as np

    status, body = call(score, json.dumps({"data": [[3000.5, 0, 30]], "method": "predict_proba"}))
    expected = score.model.predict_proba(np.array([[3000.5, 0, 30]], dtype=float)).tolist()
    assert status == 200 and body == {"predict_proba": expected}


def test_score_array_input_logs_no_feature_name_warning(score):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        score.init()  # init() installs the filter again after simplefilter reset it
        call(score, json.dumps({"data": [[2000, 2, 45]]}))
    assert [str(w.message) for w in caught if "feature names" in str(w.message)] == []


BAD = [
    ("not json", "invalid JSON: Expecting value at line 1, column 1"),
    (b"\xff\xfe\x00", "invalid JSON: the body is not UTF-8 text"),
    ("[" * 100000, "invalid JSON: nested too deeply"),
    ("[1, 2]", 'the body must be a JSON object with a "data" field, got an array'),
    ("{}", 'missing field "data": a list of rows, [[income, credit_cards, age], ...] or [{"income": ..., ...}, ...]'),
    ('{"data": [[1, 2, 3]], "methd": "predict"}', "unknown field 'methd'; expected data and optionally method"),
    ('{"data": [[1, 2, 3]], "method": "predict_log_proba"}', "unknown method 'predict_log_proba'; expected predict or predict_proba"),
    ('{"data": [[1, 2, 3]], "method": 3}', "unknown method 3; expected predict or predict_proba"),
    ('{"data": []}', "data must be a non-empty list of rows, got an empty list"),
    ('{"data": {"income": 1}}', "data must be a non-empty list of rows, got an object"),
    ('{"data": [[1, 2]]}', "data[0]: expected 3 values (income, credit_cards, age), got 2"),
    ('{"data": [[1, 2, 3], [1, 2, 3, 4]]}', "data[1]: expected 3 values (income, credit_cards, age), got 4"),
    ('{"data": [[1, 2, 3], {"income": 1}]}', "data[1]: expected a list of 3 values (income, credit_cards, age), got an object"),
    ('{"data": [{"income": 1, "credit_cards": 2, "age": 3}, [1, 2, 3]]}', "data[1]: expected an object like data[0], got an array"),
    ('{"data": [{"income": 1, "credit_cards": 2}]}', "data[0]: missing column 'age' (columns: income, credit_cards, age)"),
    ('{"data": [{"income": 1, "credit_cards": 2, "age": 3, "zip": 1}]}', "data[0]: unknown column 'zip' (columns: income, credit_cards, age)"),
    ('{"data": [[1, "2", 3]]}', "data[0][1] (credit_cards): expected a number, got a string"),
    ('{"data": [[1, 2, true]]}', "data[0][2] (age): expected a number, got true"),
    ('{"data": [[null, 2, 3]]}', "data[0][0] (income): expected a number, got null"),
    ('{"data": [{"income": NaN, "credit_cards": 2, "age": 3}]}', "data[0].income: expected a finite number, got nan"),
    ('{"data": [[1, 2, Infinity]]}', "data[0][2] (age): expected a finite number, got inf"),
    ('{"data": [[1e999, 2, 3]]}', "data[0][0] (income): expected a finite number, got inf"),
    ('{"data": [[1' + "0" * 400 + ', 2, 3]]}', "data[0][0] (income): expected a finite number, got an integer with 401 digits"),
    ('{"data": [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]]}', "data has 6 rows; at most 5 per request"),
]


@pytest.mark.parametrize("body,message", BAD, ids=[m[:40] for _, m in BAD])
def test_score_bad_input_answers_400_naming_the_problem(score, body, message):
    assert call(score, body) == (400, {"message": message})


def test_score_get_answers_405(score):
    assert call(score, "", method="GET") == (405, {"message": "use POST with a JSON body"})


def test_score_init_without_model_fails_naming_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    module = load_score_module("score_no_model")
    with pytest.raises(module.ModelLoadError) as err:
        module.init()
    assert str(err.value) == (
        f"no MLflow model with model.skops below AZUREML_MODEL_DIR={tmp_path} "
        "(save it with mlflow.sklearn.save_model(..., serialization_format='skops'))"
    )


def test_score_init_with_bad_max_rows_fails_naming_the_variable(nested_model_dir, monkeypatch):
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(nested_model_dir))
    monkeypatch.setenv("AMLOPS_MAX_ROWS", "lots")
    module = load_score_module("score_bad_rows")
    with pytest.raises(module.ModelLoadError) as err:
        module.init()
    assert str(err.value) == "AMLOPS_MAX_ROWS must be a whole number ≥ 1, got 'lots'"


def test_score_imports_nothing_from_the_repository():
    source = (SCORING_DIR / "score.py").read_text()
    imports = [line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert sorted(imports) == [
        "__future__", "azureml_inference_server_http.api.aml_request", "azureml_inference_server_http.api.aml_response",
        "json", "logging", "math", "numpy", "os", "pathlib", "warnings",
    ]


def test_score_logs_rejected_count_in_the_line_the_alert_parses(score, caplog):
    import re

    from infra.monitoring import REJECTED_LOANS_QUERY

    with caplog.at_level("INFO", logger="azmlinfsrv.print.score"):
        call(score, json.dumps({"data": [[2000, 2, 45], [9000, 1, 60], [1500, 6, 20]]}))
        call(score, json.dumps({"data": [[2000, 2, 45]], "method": "predict_proba"}))
    lines = [r.getMessage() for r in caplog.records if r.name == "azmlinfsrv.print.score"]
    assert lines == ["scored 3 rows, 2 rejected", "scored 1 rows, 1 rejected"]
    # The KQL regex in the scheduled-query alert extracts the rejected count from this line.
    pattern = re.search(r'extract\(@"(.+?)", 1, message\)', REJECTED_LOANS_QUERY).group(1)
    assert [int(re.match(pattern, line).group(1)) for line in lines] == [2, 1]
