"""Right answers at the edges, through `amlops serve`'s real server: every answer is strict JSON (RFC 8259:
no NaN, no Infinity) and integers reach the model exactly as pandas reads them with the signature's dtypes.

Models nobody tuned for this: a Ridge regressor (sums that overflow), a multiclass classifier with string
labels (probabilities that turn NaN), a Ridge whose coefficients overflow even on modest inputs, the loans
model (scored as one float64 array) and a ColumnTransformer pipeline (scored as a DataFrame).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from amlops import modelfile
from amlops.paths import STATE_ENV
from amlops.serving.endpoint import LocalEndpoint
from amlops.stackfile import load_stack
from models_support import ModelCase, SERVED_CASES, save_mlflow

pytestmark = pytest.mark.slow

INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)
FLOAT32_MAX = 3.4028234663852886e38
DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32", "boolean": "bool", "string": "object"}


def strict(text: str) -> object:
    """Parse as RFC 8259 JSON: NaN, Infinity and -Infinity are not JSON."""

    def refuse(constant: str):
        raise AssertionError(f"not JSON: {constant} in {text[:200]}")

    return json.loads(text, parse_constant=refuse)


def overflowing_case(folder: Path) -> ModelCase:
    """Ridge on diabetes with the target scaled by 1e300: finite on its data, Infinity on inputs a little larger."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    bunch = load_diabetes(as_frame=True)
    out = save_mlflow(Ridge(alpha=0.5).fit(bunch.data, bunch.target * 1e300), bunch.data, folder / "model")
    return ModelCase("overflow", out, (), [{c: float(v) for c, v in bunch.data.iloc[0].items()}], tuple(bunch.data.columns))


def counts_case(folder: Path) -> ModelCase:
    """log1p of three count columns (int64), then a LogisticRegression: a count below -1 is NaN after the log,
    which the regression refuses (a ValueError inside the model), though int64 allows it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({c: rng.integers(0, 20, 300).astype(np.int64) for c in ("views", "clicks", "buys")})
    label = np.where(frame["buys"] * 3 > frame["clicks"], "keen", "browsing")
    model = Pipeline([("log", FunctionTransformer(np.log1p)), ("clf", LogisticRegression())]).fit(frame, label)
    trust = ("numpy.log1p",)
    out = save_mlflow(model, frame, folder / "model", trust)
    records = [{c: int(v) for c, v in row.items()} for row in frame.head(2).to_dict("records")]
    return ModelCase("counts", out, trust, records, tuple(frame.columns))


BUILDERS = {**SERVED_CASES, "overflow": overflowing_case, "counts": counts_case}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`served(kind)`: that model, saved and served by `amlops serve`'s endpoint (started once per module)."""
    mp = pytest.MonkeyPatch()
    mp.setenv(STATE_ENV, str(tmp_path_factory.mktemp("exact-state")))
    running: dict[str, tuple[ModelCase, LocalEndpoint]] = {}

    def serve(kind: str) -> tuple[ModelCase, LocalEndpoint]:
        if kind not in running:
            case = BUILDERS[kind](tmp_path_factory.mktemp(kind))
            ep = LocalEndpoint(load_stack("dev"), case.folder, model_ref=f"{case.name}:1", workers=1)
            ep.start()
            running[kind] = case, ep
        return running[kind]

    yield serve
    for _, ep in running.values():
        ep.stop()
    mp.undo()


def post(ep: LocalEndpoint, body: dict) -> tuple[int, object]:
    answer = httpx.post(ep.scoring_url, content=json.dumps(body), headers={**ep.headers, "Content-Type": "application/json"}, timeout=30)
    assert answer.headers["content-type"].startswith("application/json"), answer.text[:200]
    return answer.status_code, strict(answer.text)


def pandas_frame(case: ModelCase, records: list[dict]) -> pd.DataFrame:
    """The rows as pandas reads them with the signature's dtypes (what a user's own scoring code would pass)."""
    cast = {"long": int, "integer": int, "double": float, "float": float, "boolean": bool, "string": str}
    return pd.DataFrame({
        c.name: np.array([cast[c.type](r[c.name]) for r in records], dtype=DTYPES[c.type])  # -0.0 is the integer 0
        for c in modelfile.columns(case.folder)
    })


def test_serve_regressor_overflow_is_refused_naming_the_column_never_answered_infinity(served):
    """The issue's request: one float at the largest double. Ridge's sum would be Infinity; the spec bounds inputs at float32's range."""
    case, ep = served("ridge")
    row = {c: 0.0 for c in case.columns} | {"s6": 1.7976931348623157e308}
    assert post(ep, {"data": [row]}) == (400, {"message": f"data[0].s6: expected a number from -{FLOAT32_MAX:.17g} to {FLOAT32_MAX:.17g}, got 1.7976931348623157e+308"})
    edges = [{c: sign * FLOAT32_MAX for c in case.columns} for sign in (1, -1)] + [{c: (-1) ** i * FLOAT32_MAX for i, c in enumerate(case.columns)}]
    status, body = post(ep, {"Inputs": {"data": edges}})
    expected = modelfile.load(case.folder).predict(pandas_frame(case, edges)).tolist()
    # The same values in the same order: a DataFrame's array is column-major, so BLAS may sum in another
    # order and differ in the last bit.
    assert status == 200 and body == {"Results": pytest.approx(expected, rel=1e-15)} and all(np.isfinite(expected))


def test_serve_multiclass_probabilities_are_finite_json_at_the_bounds(served):
    case, ep = served("iris")
    row = {c: 1.79e308 if c == case.columns[0] else 1.0 for c in case.columns}
    status, body = post(ep, {"data": [row], "method": "predict_proba"})
    assert (status, body) == (400, {"message": f"data[0].{case.columns[0]}: expected a number from -{FLOAT32_MAX:.17g} to {FLOAT32_MAX:.17g}, got 1.79e+308"})
    edges = [{c: s * FLOAT32_MAX for c, s in zip(case.columns, signs)} for signs in ((1, 1, 1, 1), (1, -1, 1, -1), (-1, 1, -1, 1), (1, 0, 0, 0))]
    status, body = post(ep, {"data": edges, "method": "predict_proba"})
    model = modelfile.load(case.folder)
    assert (status, body) == (200, {"predict_proba": model.predict_proba(pandas_frame(case, edges)).tolist()})
    status, body = post(ep, {"Inputs": {"data": edges}})
    assert (status, body) == (200, {"Results": model.predict(pandas_frame(case, edges)).tolist()})
    assert set(body["Results"]) <= {"setosa", "versicolor", "virginica"}


def test_serve_output_that_is_not_finite_is_a_400_naming_the_row(served):
    """A model whose output overflows inside any input bound: the row is named; JSON never carries Infinity."""
    case, ep = served("overflow")
    fine, model = case.records[0], modelfile.load(case.folder)
    big = {c: float(np.sign(w)) * 1e7 for c, w in zip(case.columns, model.coef_)}  # every term +Infinity: inf in any order
    assert model.predict(pandas_frame(case, [big]))[0] == np.inf  # the model's own answer
    message = "the model's predict output for this row is inf, not a finite number (JSON has no NaN or Infinity); check the row's values"
    assert post(ep, {"data": [fine, big]}) == (400, {"message": f"data[1]: {message}"})
    assert post(ep, {"Inputs": {"data": [big, fine]}}) == (400, {"message": f"Inputs.data[0]: {message}"})
    status, body = post(ep, {"data": [fine]})
    assert status == 200 and np.isfinite(body["predict"][0])


def test_serve_output_not_finite_names_the_column_at_fault(served):
    """One value overflows the sum: the 400 names its row and column (found by setting each column to the
    probe row's value on the error path), in the form the input checks use for records and arrays."""
    case, ep = served("overflow")
    fine, model = case.records[0], modelfile.load(case.folder)
    big = fine | {"s6": float(np.sign(model.coef_[-1])) * 1e7}
    assert model.predict(pandas_frame(case, [big]))[0] == np.inf
    message = "the model's predict output for this row is inf, not a finite number (JSON has no NaN or Infinity); it scores with s6 set to 0.0"
    assert post(ep, {"data": [fine, fine, big]}) == (400, {"message": f"data[2].s6: {message}"})
    assert post(ep, {"data": [[big[c] for c in case.columns]]}) == (400, {"message": f"data[0][9] (s6): {message}"})


def test_serve_value_outside_a_strict_encoders_categories_is_a_400_naming_row_and_column(served):
    """A category the strict encoder was not fitted with would fail the whole request inside the model: the
    swagger lists the categories (an enum) and the input check refuses any other, naming row and column."""
    case, ep = served("members")
    spec = httpx.get(ep.swagger_url, params={"version": "3"}, headers=ep.headers, timeout=30).json()
    record = spec["components"]["schemas"]["PowerBIInput"]["properties"]["Inputs"]["properties"]["data"]["items"]["properties"]
    assert (record["city"]["enum"], "enum" in record["member"]) == (["lyon", "nice", "paris"], False)
    rows = [case.records[0]] * 5 + [case.records[0] | {"city": "zzz"}] + [case.records[1]] * 3
    expected = 'expected one of "lyon", "nice", "paris" (the values the model\'s encoder was fitted with), got "zzz"'
    assert post(ep, {"data": rows}) == (400, {"message": f"data[5].city: {expected}"})
    assert post(ep, {"Inputs": {"data": rows}}) == (400, {"message": f"Inputs.data[5].city: {expected}"})
    assert post(ep, {"data": [[r[c] for c in case.columns] for r in rows], "method": "predict_proba"}) == (400, {"message": f"data[5][2] (city): {expected}"})
    assert post(ep, {"data": rows[:5]}) == (200, {"predict": modelfile.load(case.folder).predict(pandas_frame(case, rows[:5])).tolist()})


def test_serve_value_the_model_refuses_is_a_400_naming_row_and_column(served):
    """A value the model itself refuses (a count below -1 is NaN after its log): the row is found by bisection
    and the column by trying the probe row's value in each, on the error path only."""
    case, ep = served("counts")
    rows = [case.records[0]] * 6 + [case.records[0] | {"clicks": -5}] + [case.records[1]] * 2
    refusal = "the model cannot score this row: Input X contains NaN; it scores with clicks set to 0"
    assert post(ep, {"data": rows}) == (400, {"message": f"data[6].clicks: {refusal}"})
    assert post(ep, {"Inputs": {"data": rows}, "GlobalParameters": {"method": "predict_proba"}}) == (400, {"message": f"Inputs.data[6].clicks: {refusal}"})
    assert post(ep, {"data": [[r[c] for c in case.columns] for r in rows]}) == (400, {"message": f"data[6][1] (clicks): {refusal}"})
    both = case.records[0] | {"views": -2, "clicks": -5}
    assert post(ep, {"data": [both]}) == (400, {"message": "data[0]: the model cannot score this row: Input X contains NaN"})


EDGE_INTEGERS = [INT64_MAX, INT64_MIN, -INT64_MAX, 2**53 + 1, -(2**53 + 1), 0]


@pytest.mark.parametrize("kind", ["loans", "pipeline"], ids=["float64-array", "dataframe"])
def test_serve_integers_reach_the_model_as_pandas_reads_them(served, kind):
    """int64 columns at ±(2^63−1), −2^63, 2^53+1 and −0.0; float columns at 1e308 and −0.0: the answer is the
    model's own on the frame pandas reads with the signature's dtypes."""
    case, ep = served(kind)
    ints = [c.name for c in modelfile.columns(case.folder) if c.type == "long"]
    floats = [c.name for c in modelfile.columns(case.folder) if c.type == "double"]
    assert ints and floats, case.columns
    base = case.records[0]
    records = [base | {c: v for c in ints} | {floats[0]: f} for v in EDGE_INTEGERS for f in (1e308, -0.0)]
    records.append(base | {c: -0.0 for c in ints})
    text = json.dumps({"data": records, "method": "predict_proba"})
    assert "-0.0" in text and str(INT64_MAX) in text and str(2**53 + 1) in text
    model, frame = modelfile.load(case.folder), pandas_frame(case, records)
    assert frame[ints[0]].tolist()[:6:2] == [INT64_MAX, INT64_MIN, -INT64_MAX]
    assert post(ep, {"data": records}) == (200, {"predict": model.predict(frame).tolist()})
    assert post(ep, {"data": records, "method": "predict_proba"}) == (200, {"predict_proba": model.predict_proba(frame).tolist()})


@pytest.mark.parametrize("value", [2**63, INT64_MIN - 1, 1e19, 2.5], ids=["2^63", "-2^63-1", "1e19", "fraction"])
def test_serve_integer_outside_int64_is_refused_naming_row_and_column(served, value):
    case, ep = served("loans")
    rows = [case.records[0], case.records[0] | {"age": value}]
    shown = repr(value)
    assert post(ep, {"data": rows}) == (400, {"message": f"data[1].age: expected an integer from -2^63 to 2^63-1, got {shown}"})
    assert post(ep, {"data": [[r[c] for c in case.columns] for r in rows]}) == (
        400, {"message": f"data[1][2] (age): expected an integer from -2^63 to 2^63-1, got {shown}"},
    )
