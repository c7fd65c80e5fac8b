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


BUILDERS = {**SERVED_CASES, "overflow": overflowing_case}


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


def test_serve_strict_encoder_without_input_example_is_served_and_its_bound_probed(served):
    """A OneHotEncoder that refuses unknown categories, saved as the README shows (no input example): the
    probe scores categories the encoder was fitted with (not "" nor "text", which it refuses), so the
    server starts and the float bound is the trees' float32 range, found, not the 2^53 fallback."""
    case, ep = served("members")
    spec = httpx.get(ep.swagger_url, params={"version": "3"}, headers=ep.headers, timeout=30).json()
    book = spec["components"]["schemas"]["BookInput"]
    records = book["properties"]["data"]["oneOf"][0]["items"]["properties"]
    assert (records["amount"]["minimum"], records["amount"]["maximum"]) == (-FLOAT32_MAX, FLOAT32_MAX)
    assert book["example"]["data"] == [{"amount": 0.0, "member": False, "city": "lyon", "visits": 0}]
    model = modelfile.load(case.folder)
    edges = [case.records[0] | {"amount": a} for a in (FLOAT32_MAX, -FLOAT32_MAX, np.nextafter(FLOAT32_MAX, 0).item())]
    assert post(ep, {"data": edges, "method": "predict_proba"}) == (200, {"predict_proba": model.predict_proba(pandas_frame(case, edges)).tolist()})
    over = np.nextafter(FLOAT32_MAX, np.inf).item()
    assert post(ep, {"data": [case.records[0] | {"amount": over}]}) == (
        400, {"message": f"data[0].amount: expected a number from -{FLOAT32_MAX:.17g} to {FLOAT32_MAX:.17g}, got {over!r}"},
    )


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
