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
        return 200, json.loads(json.dumps(response, allow_nan=False))  # strict JSON, as Power BI parses it
    return response.status_code, json.loads(response.get_data())


def test_non_finite_outputs_are_refused_by_row_whatever_the_dtype(score):
    import numpy as np

    score._check_finite(np.array([0.5, 1.0]))
    score._check_finite(np.array(["yes", "no"], dtype=object))
    with pytest.raises(score.NotFinite) as floats:
        score._check_finite(np.array([[0.5, 0.5], [0.2, float("nan")]]))
    assert (floats.value.row, np.isnan(floats.value.value)) == (1, True)
    with pytest.raises(score.NotFinite) as labels:  # object labels with a float among them: json would write NaN
        score._check_finite(np.array(["yes", "no", float("-inf")], dtype=object))
    assert (labels.value.row, labels.value.value) == (2, float("-inf"))


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


def test_score_power_bi_shape_answers_results_like_the_books_shape(score):
    records = [{"income": 2000, "credit_cards": 2, "age": 45}, {"income": 9000.5, "credit_cards": 1, "age": 60}]
    book = call(score, json.dumps({"data": records, "method": "predict_proba"}))
    power_bi = call(score, json.dumps({"Inputs": {"data": records}, "GlobalParameters": {"method": "predict_proba"}}))
    assert power_bi == (200, {"Results": book[1]["predict_proba"]})
    assert call(score, json.dumps({"Inputs": {"data": records}})) == (200, {"Results": [0, 1]})


def test_score_integer_columns_accept_the_int64_range_and_whole_floats(score):
    body = json.dumps({"data": [[2000, 9223372036854775807, -9223372036854775808], [2000.0, 2.0, 45.0]]})
    status, answer = call(score, body)
    assert status == 200 and list(answer) == ["predict"] and len(answer["predict"]) == 2
    assert call(score, json.dumps({"data": [[2000.0, 2.0, 45.0]]})) == call(score, json.dumps({"data": [[2000, 2, 45]]}))


def test_score_float_columns_take_integers_up_to_the_spelled_double_maximum(score):
    largest = 17976931348623157 * 10**292  # 1.7976931348623157e+308 as the exact decimal the swagger spells
    assert call(score, json.dumps({"data": [[largest, 2, 45], [-largest, 2, 45]]}))[0] == 200


def test_score_columns_and_types_come_from_the_signature(score):
    assert (score.columns, score.kinds, score.methods, score.as_frame, score.number_limit) == (
        ("income", "credit_cards", "age"), ("number", "integer", "integer"), ("predict", "predict_proba"), False, 1.7976931348623157e308,
    )


def test_a_single_estimator_scores_checked_rows_without_sklearns_own_finiteness_check(score, monkeypatch):
    import sklearn

    seen = []
    predict = score.model.predict

    def spy(x):
        seen.append(sklearn.get_config()["assume_finite"])
        return predict(x)

    monkeypatch.setattr(score.model, "predict", spy)
    assert score.trusted_rows is True
    assert call(score, json.dumps({"data": [[2000, 2, 45]]})) == (200, {"predict": [0]})
    assert seen == [True] and sklearn.get_config()["assume_finite"] is False

    def refuses(x):
        raise ValueError("refused")

    monkeypatch.setattr(score.model, "predict", refuses)
    assert call(score, json.dumps({"data": [[2000, 2, 45]]}))[0] == 400
    assert sklearn.get_config()["assume_finite"] is False  # set back when the model raises


def test_skipping_sklearns_finiteness_check_changes_no_answer(score, monkeypatch):
    largest = 1.7976931348623157e308
    bodies = [
        {"data": [[largest, 2, 45], [-largest, 2, 45], [2000, 9223372036854775807, -9223372036854775808]]},
        {"data": [[largest, 2, 45], [-largest, -9223372036854775808, 45], [0.0, 0, 0]], "method": "predict_proba"},
        {"data": [[float(i) * 997.5, i % 7, 18 + i] for i in range(5)], "method": "predict_proba"},
    ]
    trusted = [call(score, json.dumps(b)) for b in bodies]
    monkeypatch.setattr(score, "trusted_rows", False)
    assert [call(score, json.dumps(b)) for b in bodies] == trusted
    assert all(status == 200 for status, _ in trusted)


@pytest.mark.parametrize("kind", ["HistGradientBoostingClassifier", "KNeighborsClassifier", "GaussianNB", "DecisionTreeClassifier", "PoissonRegressor"])
def test_other_single_estimators_answer_the_same_without_sklearns_finiteness_check(kind, tmp_path):
    """Estimators nobody tuned for this, each at its own bounds (float32 trees, a log link) and past them."""
    import numpy as np
    import sklearn.ensemble
    import sklearn.linear_model
    import sklearn.naive_bayes
    import sklearn.neighbors
    import sklearn.tree

    estimator = next(getattr(m, kind) for m in (sklearn.ensemble, sklearn.neighbors, sklearn.naive_bayes, sklearn.tree, sklearn.linear_model) if hasattr(m, kind))()
    rng = np.random.default_rng(5)
    columns = {"a": rng.normal(0, 1, 300), "b": rng.integers(0, 50, 300), "c": rng.normal(100, 30, 300)}
    label = (lambda x: x["a"].abs() * 3 + x["c"] / 10) if kind == "PoissonRegressor" else (lambda x: np.where(x["a"] + x["b"] / 25 > 1, "yes", "no"))
    score = _model_with_signature(tmp_path / kind, estimator, _frame(columns, label), ["a", "b", "c"])
    assert score.trusted_rows is True
    limit, big = score.number_limit, 1.7976931348623157e308
    rows = [[float(v) for v in rng.normal(0, 50, 3)] for _ in range(10)] + [
        [limit, 0, limit], [-limit, 2**63 - 1, -limit], [limit, -(2**63), 0.0], [big, 5, -big], [3e38, 1, 3e38], [1e16, 1, -1e16],
    ]
    bodies = [json.dumps({"data": [[a, int(b), c]], "method": m}) for a, b, c in rows for m in score.methods]
    trusted = [call(score, body) for body in bodies]
    score.trusted_rows = False
    assert [call(score, body) for body in bodies] == trusted
    assert sum(status == 200 for status, _ in trusted) >= 10 * len(score.methods)


def test_which_models_check_only_the_rows_they_are_given(score):
    import numpy as np
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.ensemble import RandomForestClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    single = [LogisticRegression(), Ridge(), RandomForestClassifier()]
    composed = [
        Pipeline([("log", FunctionTransformer(np.log1p)), ("clf", LogisticRegression())]),  # NaN after the log: the regression refuses it
        ColumnTransformer([("scaled", StandardScaler(), [0])]),
        TransformedTargetRegressor(regressor=Ridge(), transformer=StandardScaler()),
        VotingClassifier([("a", LogisticRegression())]),
        object(),
    ]
    assert [score.checks_only_its_rows(m) for m in single] == [True] * len(single)
    assert [score.checks_only_its_rows(m) for m in composed] == [False] * len(composed)


def _model_with_signature(folder: Path, model, frame, signature_order: list[str]):
    """`model` fitted on `frame`, saved with a signature that lists its columns in `signature_order`, and score.py
    initialised on it (a user's hand-written or re-inferred signature need not follow the fit's order)."""
    import mlflow.sklearn
    import skops.io
    from mlflow.models import infer_signature

    model.fit(*frame)
    x, y = frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        mlflow.sklearn.save_model(model, folder / "model", serialization_format="skops", skops_trusted_types=trusted or None,
                                  signature=infer_signature(x[signature_order], model.predict(x)))
    mp = pytest.MonkeyPatch()
    mp.setenv("AZUREML_MODEL_DIR", str(folder))
    module = load_score_module(f"score_signed_{folder.name}")
    module.init()
    mp.undo()
    return module


def _frame(columns: dict, label):
    import pandas as pd

    x = pd.DataFrame(columns)
    return x, label(x)


def test_rows_reach_the_model_in_its_fitted_order_when_the_signature_lists_another(tmp_path):
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = _frame({"a": rng.normal(0, 1, 300), "b": rng.normal(0, 100, 300), "c": rng.normal(5, 1, 300)}, lambda x: (x["a"] > 0).astype(int))
    score = _model_with_signature(tmp_path / "array", LogisticRegression(), frame, ["c", "b", "a"])
    assert (score.columns, score.model_columns, score.as_frame) == (("c", "b", "a"), ("a", "b", "c"), False)
    records = [{"a": 1.0, "b": 0.0, "c": 5.0}, {"a": -1.0, "b": 0.0, "c": 5.0}, {"a": -0.2, "b": 250.0, "c": -3.0}]
    expected = score.model.predict(pd.DataFrame(records)[["a", "b", "c"]]).tolist()
    assert expected[:2] == [1, 0]
    assert call(score, json.dumps({"data": records})) == (200, {"predict": expected})
    rows = [[r["c"], r["b"], r["a"]] for r in records]  # arrays follow the signature's order, as the swagger states
    assert call(score, json.dumps({"data": rows})) == (200, {"predict": expected})


def test_a_dataframe_model_gets_its_fitted_order_and_a_refused_value_is_named_by_column(tmp_path):
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    rng = np.random.default_rng(1)
    columns = {"views": rng.integers(0, 20, 300), "city": rng.choice(["paris", "nice"], 300), "clicks": rng.integers(0, 20, 300)}
    frame = _frame(columns, lambda x: np.where(x["clicks"] * 2 > x["views"], "keen", "browsing"))
    model = Pipeline([
        ("prep", ColumnTransformer([("counts", FunctionTransformer(np.log1p, feature_names_out="one-to-one"), ["views", "clicks"]),
                                    ("city", OneHotEncoder(handle_unknown="ignore"), ["city"])])),
        ("clf", LogisticRegression()),
    ])
    score = _model_with_signature(tmp_path / "frame", model, frame, ["clicks", "city", "views"])
    assert (score.model_columns, score.as_frame) == (("views", "city", "clicks"), True)
    records = [{"views": 3, "city": "nice", "clicks": 9}, {"views": 15, "city": "paris", "clicks": 1}]
    expected = score.model.predict(pd.DataFrame(records)).tolist()
    assert call(score, json.dumps({"data": records})) == (200, {"predict": expected})
    status, body = call(score, json.dumps({"data": [[9, "nice", 3], [1, "paris", -5]]}))  # log1p(-5) is NaN: the model refuses the row
    assert status == 400 and body["message"].startswith("data[1][2] (views)"), body


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
    ('{"data": [[1' + "0" * 4400 + ', 2, 3]]}', "invalid JSON: a number has too many digits"),
    ("[1, 2]", 'the body must be a JSON object with "data" or "Inputs", got an array'),
    ("{}", 'missing field "data": a list of rows, [[income, credit_cards, age], ...] or [{"income": ..., ...}, ...]'),
    ('{"data": [[1, 2, 3]], "methd": "predict"}', "unknown field 'methd'; expected data and optionally method, or Inputs and optionally GlobalParameters"),
    ('{"data": [[1, 2, 3]], "method": "predict_log_proba"}', "method: unknown method 'predict_log_proba'; expected predict or predict_proba"),
    ('{"data": [[1, 2, 3]], "method": 3}', "method: unknown method 3; expected predict or predict_proba"),
    ('{"data": []}', "data must be a non-empty list of rows, got an empty list"),
    ('{"data": {"income": 1}}', "data must be a non-empty list of rows, got an object"),
    ('{"data": [[1, 2]]}', "data[0]: expected 3 values (income, credit_cards, age), got 2"),
    ('{"data": [[1, 2, 3], [1, 2, 3, 4]]}', "data[1]: expected 3 values (income, credit_cards, age), got 4"),
    ('{"data": [[1, 2, 3], {"income": 1}]}', "data[1]: expected a list of 3 values (income, credit_cards, age), got an object"),
    ('{"data": [{"income": 1, "credit_cards": 2, "age": 3}, [1, 2, 3]]}', "data[1]: expected an object like data[0], got an array"),
    ('{"data": [{"income": 1, "credit_cards": 2}]}', "data[0]: missing column 'age' (columns: income, credit_cards, age)"),
    ('{"data": [{"income": 1, "credit_cards": 2, "age": 3, "zip": 1}]}', "data[0]: unknown column 'zip' (columns: income, credit_cards, age)"),
    ('{"data": [[1, "2", 3]]}', "data[0][1] (credit_cards): expected an integer from -2^63 to 2^63-1, got a string"),
    ('{"data": [[1, 2, true]]}', "data[0][2] (age): expected an integer from -2^63 to 2^63-1, got true"),
    ('{"data": [[true, 2, 3]]}', "data[0][0] (income): expected a number from -1.7976931348623157e+308 to 1.7976931348623157e+308, got true"),
    ('{"data": [[null, 2, 3]]}', "data[0][0] (income): expected a number from -1.7976931348623157e+308 to 1.7976931348623157e+308, got null"),
    ('{"data": [[1, 2.5, 3]]}', "data[0][1] (credit_cards): expected an integer from -2^63 to 2^63-1, got 2.5"),
    ('{"data": [[1, 2, 45.5]]}', "data[0][2] (age): expected an integer from -2^63 to 2^63-1, got 45.5"),
    ('{"data": [[1, 9223372036854775808.0, 3]]}', "data[0][1] (credit_cards): expected an integer from -2^63 to 2^63-1, got 9.223372036854776e+18"),
    ('{"data": [[1, 9223372036854775808, 3]]}', "data[0][1] (credit_cards): expected an integer from -2^63 to 2^63-1, got 9223372036854775808"),
    ('{"data": [[1, -9223372036854775809, 3]]}', "data[0][1] (credit_cards): expected an integer from -2^63 to 2^63-1, got -9223372036854775809"),
    ('{"data": [{"income": NaN, "credit_cards": 2, "age": 3}]}', "data[0].income: expected a number from -1.7976931348623157e+308 to 1.7976931348623157e+308, got nan"),
    ('{"data": [[1, 2, Infinity]]}', "data[0][2] (age): expected an integer from -2^63 to 2^63-1, got inf"),
    ('{"data": [[1e999, 2, 3]]}', "data[0][0] (income): expected a number from -1.7976931348623157e+308 to 1.7976931348623157e+308, got inf"),
    ('{"data": [[1' + "0" * 400 + ', 2, 3]]}', "data[0][0] (income): expected a number from -1.7976931348623157e+308 to 1.7976931348623157e+308, got an integer with 401 digits"),
    ('{"data": [[17976931348623157' + "0" * 291 + '1, 2, 3]]}', "data[0][0] (income): expected a number from -1.7976931348623157e+308 to 1.7976931348623157e+308, got an integer with 309 digits"),
    ('{"data": [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]]}', "data has 6 rows; at most 5 per request"),
    ('{"Inputs": {"data": [[1, 2, 3]]}}', "Inputs.data[0]: expected a record (an object with income, credit_cards, age), got an array"),
    ('{"Inputs": {"data": [{"income": 1, "credit_cards": 2}]}}', "Inputs.data[0]: missing column 'age' (columns: income, credit_cards, age)"),
    ('{"Inputs": {"data": []}}', "Inputs.data must be a non-empty list of rows, got an empty list"),
    ('{"Inputs": [1]}', 'Inputs must be an object with one field, "data" (a list of records), got an array'),
    ('{"Inputs": {"data": [{"income": 1, "credit_cards": 2, "age": 3}], "x": 1}}', "Inputs: unknown field 'x'; expected only data"),
    ('{"Inputs": {"data": [{"income": 1, "credit_cards": 2, "age": 3}]}, "data": [[1, 2, 3]]}', "unknown field 'data' beside Inputs; expected Inputs and optionally GlobalParameters"),
    ('{"Inputs": {"data": [{"income": 1, "credit_cards": 2, "age": 3}]}, "GlobalParameters": 1.0}', "GlobalParameters must be an object, got 1.0"),
    ('{"Inputs": {"data": [{"income": 1, "credit_cards": 2, "age": 3}]}, "GlobalParameters": {"method": "x"}}', "GlobalParameters.method: unknown method 'x'; expected predict or predict_proba"),
    ('{"Inputs": {"data": [{"income": 1, "credit_cards": 2, "age": 3}]}, "GlobalParameters": {"k": 1}}', "GlobalParameters: unknown field 'k'; expected only method"),
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
        "decimal", "json", "logging", "numpy", "os", "pathlib", "typing", "warnings",
    ]


def test_score_logs_rejected_count_in_the_line_the_alert_parses(score, caplog, monkeypatch):
    import re

    from infra.monitoring import REJECTED_LOANS_QUERY

    monkeypatch.setenv("AMLOPS_ENDPOINT", "loans-dev-online-f05afd")
    with caplog.at_level("INFO", logger="azmlinfsrv.print.score"):
        call(score, json.dumps({"data": [[2000, 2, 45], [9000, 1, 60], [1500, 6, 20]]}))
        call(score, json.dumps({"data": [[2000, 2, 45]], "method": "predict_proba"}))
    lines = [r.getMessage() for r in caplog.records if r.name == "azmlinfsrv.print.score"]
    assert lines == ["scored 3 rows, 2 rejected", "scored 1 rows, 1 rejected"]
    # The endpoint's own alert counts only its lines: the handler sends custom_dimensions as customDimensions.
    dims = [r.custom_dimensions for r in caplog.records if r.name == "azmlinfsrv.print.score"]
    assert dims == [{"endpoint": "loans-dev-online-f05afd"}] * 2
    # The KQL regex in the scheduled-query alert extracts the rejected count from this line.
    pattern = re.search(r'extract\(@"(.+?)", 1, message\)', REJECTED_LOANS_QUERY).group(1)
    assert [int(re.match(pattern, line).group(1)) for line in lines] == [2, 1]


def test_score_init_with_types_the_mlmodel_does_not_trust_fails_naming_them_and_the_setting(tmp_path, monkeypatch):
    from amlops import modelfile
    from models_support import forest_case

    case = forest_case(tmp_path / "forest")
    modelfile.record_trust(case.folder, [])  # as if saved without skops_trusted_types
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "forest"))
    module = load_score_module("score_untrusted")
    with pytest.raises(module.ModelLoadError) as err:
        module.init()
    assert str(err.value) == (
        f"{case.folder / 'model.skops'} needs types its MLmodel does not trust (skops_trusted_types): "
        "sklearn.tree._tree.Tree; review them, then register the model again with "
        "`amlops model register --trust sklearn.tree._tree.Tree`"
    )
    modelfile.record_trust(case.folder, ["sklearn.tree._tree.Tree"])
    module.init()
    assert call(module, json.dumps({"data": case.rows[:2]}))[0] == 200


def test_score_rejection_log_names_the_field_but_never_a_row_value(score, caplog):
    with caplog.at_level("INFO", logger="azmlinfsrv.print.score"):
        status, body = call(score, json.dumps({"data": [{"income": "73456.78", "credit_cards": 2, "age": 45}]}))
    lines = [r.getMessage() for r in caplog.records if r.name == "azmlinfsrv.print.score"]
    expected = "data[0].income: expected a number from -1.7976931348623157e+308 to 1.7976931348623157e+308"
    assert (status, body["message"]) == (400, f"{expected}, got a string")
    assert lines == [f"rejected: {expected}"]
    with caplog.at_level("INFO", logger="azmlinfsrv.print.score"):
        call(score, json.dumps({"data": [[2000, 2.5, 45]]}))
    assert "2.5" not in caplog.records[-1].getMessage() and caplog.records[-1].getMessage().startswith("rejected: data[0][1] (credit_cards)")
