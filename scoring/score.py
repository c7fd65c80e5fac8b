"""Scoring entry script for any scikit-learn model saved as an MLflow skops model: what an Azure ML
online deployment runs.

The Azure ML inference server (azureml-inference-server-http) imports this file, calls `init()`
once per worker and `run(request)` per request. It imports nothing from the amlops repository:
only numpy, pandas (for models that need a DataFrame), PyYAML, skops (scikit-learn) and the
server's own API. The columns, their order and types come from the registered model's MLflow
signature (else its `feature_names_in_`); the loans model is only the worked example.

Requests (two shapes):
  the book's:   {"data": [[income, credit_cards, age], ...]}
            or  {"data": [{"income": 2000, "credit_cards": 2, "age": 45}, ...]}
                with an optional "method": "predict" (default) | "predict_proba";
                answered {"predict": [0, 1]} or {"predict_proba": [[0.998, 0.002], ...]}.
  Power BI's:   {"Inputs": {"data": [{"income": 2000, ...}, ...]}, "GlobalParameters": {"method": "predict"}}
                (GlobalParameters optional), answered {"Results": [...]}: the shape inference-schema
                gives a run(Inputs, GlobalParameters) that returns {"Results": ...}, which Microsoft
                documents as the one Power BI consumes,
                https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-advanced-entry-script#power-bi-compatible-endpoint
Bad input is answered with a 400 and {"message": "..."} naming what is wrong; so is a row the model
scores to NaN or ±Infinity, which JSON (RFC 8259) cannot carry: every answer is strict JSON.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import numpy as np
from azureml_inference_server_http.api.aml_request import rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

MODEL_DIR_ENV = "AZUREML_MODEL_DIR"
"""Where Azure mounts the registered model (the MLflow folder sits somewhere below it)."""
MAX_ROWS_ENV = "AMLOPS_MAX_ROWS"
"""The most rows one request may score (the stack's requestSettings.maxRows)."""
ENDPOINT_ENV = "AMLOPS_ENDPOINT"
"""The endpoint's Azure name (set on every deployment by infra/online_endpoint.py): the `endpoint` custom
dimension of the scored-rows trace lines, by which each endpoint's rejected-loans alert counts its own."""
DEFAULT_MAX_ROWS = 1000
MODEL_FILE = "model.skops"
"""The MLflow sklearn flavor's model file when saved with serialization_format="skops"."""
EXAMPLE_FILE = "input_example.json"
"""MLflow's saved input example beside MLmodel (`save_model(input_example=...)`; a DataFrame in split orient)."""
TRUST_SETTING = "skops_trusted_types"
"""The key of MLmodel's sklearn flavor listing the types trusted beyond skops' defaults; written by
mlflow.sklearn.save_model(skops_trusted_types=...) and by `amlops model register --trust TYPE`."""
METHODS = ("predict", "predict_proba")
SCORED_LOG = "scored %d rows, %d rejected"
"""One trace line per scored request of a binary classifier (rejected = rows given the first class);
the rejected-loans alert in infra/monitoring.py parses it."""
SCORED_ROWS_LOG = "scored %d rows"
"""The trace line for other models (no notion of rejected rows)."""
BOOK_FIELDS = frozenset({"data", "method"})
POWER_BI_FIELDS = frozenset({"Inputs", "GlobalParameters"})

NUMBER, INTEGER, BOOLEAN, STRING = "number", "integer", "boolean", "string"
KINDS = {"double": NUMBER, "float": NUMBER, "long": INTEGER, "integer": INTEGER, "boolean": BOOLEAN, "string": STRING}
"""MLflow ColSpec types → the JSON value each column takes (what the generated swagger says)."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NUMBER_LIMITS = (1.7976931348623157e308, 3.4028234663852886e38, 9007199254740992.0)
"""The magnitudes a float column may take, tried in order at init: the largest double, else the largest
float32 (tree ensembles compute in float32 and refuse larger values; a linear model's sum overflows
past it), else 2^53 (up to which a double counts every integer). The first at which the model scores
every probe row (_probe_rows) with finite outputs is the column's bound, and the swagger's
minimum/maximum; a row still scored to NaN or ±Infinity is refused at run time (JSON has neither)."""
PROBE_PATTERNS = 16
"""Random sign patterns (seeded: the swagger generator and every worker find the same bound) probed
beside all-plus, all-minus, alternating and one column at a time."""
NEUTRAL = {NUMBER: 0.0, INTEGER: 0, BOOLEAN: False, STRING: "text"}
"""A column's value in the probe's base row when neither an input example nor a fitted encoder gives one."""
EXACT_INTEGERS = (INT64_MAX, INT64_MIN, 2**53 + 1, -(2**53 + 1))
"""Integers a float64 array cannot hold exactly: the array path is taken only when the model answers
them as it answers the typed DataFrame pandas would read (int64 columns)."""

logger = logging.getLogger("azmlinfsrv.print.score")
"""Under `azmlinfsrv.print`, the logger the server sends to Application Insights (1.4.1 attaches
its App Insights handler to `azmlinfsrv.trace` and `azmlinfsrv.print` only): its lines land in
the deployment's log and App Insights traces (and locally, with the request id, in
`amlops endpoint logs`)."""

model = None
columns: tuple[str, ...] = ()
kinds: tuple[str, ...] = ()
column_set: frozenset[str] = frozenset()
methods: tuple[str, ...] = ()
as_frame = False
"""True when the model needs a DataFrame (string or boolean columns, a ColumnTransformer over names);
otherwise rows go to the model as one float64 array, which is several times cheaper per request."""
binary_classes: tuple | None = None
probe_row: list = []
"""load()'s base_row: a row the model scores, whose values stand in for a refused row's, one column at a
time, to find the column at fault (on the error path only)."""
order: tuple[int, ...] | None = None
"""load()'s order: where each of the model's fitted columns sits among the signature's, when the two differ."""
model_columns: tuple[str, ...] = ()
model_kinds: tuple[str, ...] = ()
"""The columns and their kinds in the order the model takes them (the signature's, unless `order` says otherwise)."""
categories: dict[int, frozenset] = {}
"""load()'s categories as sets: the values each strictly encoded column takes (empty for most models)."""
number_limit = NUMBER_LIMITS[0]
number_int_limit = int(Decimal(repr(NUMBER_LIMITS[0])))
"""number_limit as the exact decimal its text spells: the largest integer a float column takes (JSON
Schema validators compare an integer with the swagger's maximum that way)."""
max_rows = DEFAULT_MAX_ROWS
trusted_rows = False
"""True when the model checks only the rows it is given (a single scikit-learn estimator, see
checks_only_its_rows): rows that passed this script's checks are finite and within the bounds load()
probed, so scikit-learn's own finiteness check of them is skipped while the model scores them
(its documented `assume_finite` setting: https://scikit-learn.org/stable/modules/generated/sklearn.set_config.html).
A pipeline's later steps see values this script has not checked, so a pipeline keeps every check."""
_set_sklearn_config = None
collection = None
"""scoring/datacollection.py's collectors when the deployment's data collector is on, else None."""


class Loaded(NamedTuple):
    """What load() finds in a model folder: the model and how its requests are checked."""

    model: object
    path: Path
    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    methods: tuple[str, ...]
    as_frame: bool
    number_limit: float
    categories: dict[int, list]
    """Columns (by index) a strict encoder limits to the values it was fitted with: any other is a 400."""
    base_row: list
    """A row the model scores (its saved input example's first row, else values it was fitted with): the
    probes vary it, and the generated swagger shows it when the folder has no input example."""
    order: tuple[int, ...] | None = None
    """When the model was fitted with the signature's column names in another order: the signature's index
    of each column in the model's order (rows arrive in the signature's order and reach the model in its own)."""


class ModelLoadError(Exception):
    """The model folder or its settings cannot be loaded; raised by init(), so the server does not start."""


class InputError(Exception):
    """The request is malformed; the message says what is wrong (answered as a 400)."""


class NotFinite(Exception):
    """The model's output for a row is NaN or ±Infinity, which JSON cannot carry (answered as a 400 naming the row)."""

    def __init__(self, row: int, value: float):
        super().__init__(row, value)
        self.row, self.value = row, value


def find_model_file(root: Path) -> Path:
    """The one MLflow model's `model.skops` anywhere below `root` (Azure nests it in a folder)."""
    if not root.is_dir():
        raise ModelLoadError(f"{MODEL_DIR_ENV}={root} is not a folder")
    found = sorted(p.parent / MODEL_FILE for p in root.rglob("MLmodel") if (p.parent / MODEL_FILE).is_file())
    if not found:
        raise ModelLoadError(
            f"no MLflow model with {MODEL_FILE} below {MODEL_DIR_ENV}={root} "
            "(save it with mlflow.sklearn.save_model(..., serialization_format='skops'))"
        )
    if len(found) > 1:
        raise ModelLoadError(f"more than one MLflow model below {root}: {', '.join(str(p.parent) for p in found)}")
    return found[0]


def read_max_rows(text: str | None) -> int:
    """AMLOPS_MAX_ROWS as a whole number ≥ 1 (default 1000)."""
    if text is None or text == "":
        return DEFAULT_MAX_ROWS
    if not text.strip().isdigit() or int(text) < 1:
        raise ModelLoadError(f"{MAX_ROWS_ENV} must be a whole number ≥ 1, got {text!r}")
    return int(text)


def read_mlmodel(folder: Path) -> tuple[list[str], list[tuple[str, str]] | None]:
    """The MLmodel file's trusted types (sklearn flavor) and its signature's input columns (name, MLflow type).

    Columns are None when the signature is missing or is not column-based (a tensor spec).
    """
    import yaml

    path = folder / "MLmodel"
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc}") from None
    flavor = (doc.get("flavors") or {}).get("sklearn") or {}
    trusted = flavor.get(TRUST_SETTING) or []
    if not isinstance(trusted, list) or not all(isinstance(t, str) for t in trusted):
        raise ModelLoadError(f"{path}: flavors.sklearn.{TRUST_SETTING} must be a list of type names, got {trusted!r}")
    inputs = (doc.get("signature") or {}).get("inputs")
    if not inputs:
        return trusted, None
    try:
        specs = json.loads(inputs)
    except ValueError:
        raise ModelLoadError(f"{path}: signature.inputs is not JSON") from None
    if not all(isinstance(s, dict) and s.get("name") is not None and s.get("type") in KINDS for s in specs):
        unusable = [s for s in specs if not (isinstance(s, dict) and s.get("name") is not None and s.get("type") in KINDS)]
        if all(isinstance(s, dict) and s.get("type") == "tensor" for s in specs):
            return trusted, None
        raise ModelLoadError(
            f"{path}: signature input {unusable[0]!r} is not a named column of a supported type "
            f"({', '.join(sorted(KINDS))})"
        )
    return trusted, [(str(s["name"]), str(s["type"])) for s in specs]


def _answers(loaded: object, x: object, meths: tuple[str, ...]) -> list | None:
    """The model's outputs for `x` by each method, or None when it refuses them (a probe: its error is not the point)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [np.asarray(getattr(loaded, m)(x)) for m in meths]
    except Exception:  # noqa: BLE001
        return None


def _finite(outputs: list | None) -> bool:
    return outputs is not None and all(o.dtype.kind not in "fc" or np.isfinite(o).all() for o in outputs)


def _saved_example(folder: Path, columns: tuple[str, ...]) -> list[list] | None:
    """The rows of MLflow's input_example.json beside MLmodel when it holds these columns in this order, else None."""
    try:
        doc = json.loads((folder / EXAMPLE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("columns") != list(columns) or not isinstance(doc.get("data"), list):
        return None
    rows = [row for row in doc["data"] if isinstance(row, list) and len(row) == len(columns)]
    return rows or None


class Categories(NamedTuple):
    """The values a named column was fitted with by one of the model's encoders, in its order."""

    values: list
    strict: bool
    """The encoder refuses any other value (handle_unknown="error", scikit-learn's default)."""


def fitted_categories(loaded: object) -> dict[str, Categories]:
    """The categories of each named column the model's encoders were fitted with (a OneHotEncoder or
    OrdinalEncoder fitted on a DataFrame, at any depth of a Pipeline or ColumnTransformer), as JSON values."""
    found: dict[str, Categories] = {}
    seen: set[int] = set()

    def visit(obj: object, depth: int, given: list | None) -> None:
        if depth > 8 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, (list, tuple)):
            for item in obj:
                visit(item, depth + 1, given)
            return
        if not hasattr(obj, "get_params"):  # scikit-learn estimators only
            return
        # An encoder fitted on an array (after an imputer, inside a ColumnTransformer's pipeline) has no
        # feature_names_in_: it takes the names its ColumnTransformer entry selects, when the counts agree.
        names, categories = getattr(obj, "feature_names_in_", given), getattr(obj, "categories_", None)
        if names is not None and isinstance(categories, list) and len(names) == len(categories):
            strict = getattr(obj, "handle_unknown", None) == "error"
            for name, values in zip(names, categories):
                # JSON cannot send NaN: a missing-value category is not a value to offer.
                plain = [v.item() if hasattr(v, "item") else v for v in values]
                plain = [v for v in plain if v is not None and v == v]
                if plain and str(name) not in found:
                    found[str(name)] = Categories(plain, strict)
        for key, value in vars(obj).items():
            if key == "transformers_":  # a fitted ColumnTransformer: (name, transformer, selected columns)
                for entry in value:
                    selected = entry[2] if len(entry) == 3 else None
                    plain = list(selected) if isinstance(selected, (list, tuple)) and all(isinstance(c, str) for c in selected) else None
                    visit(entry[1], depth + 1, plain)
            elif key == "steps":  # a Pipeline: only its first step sees the columns as given
                for k, (_, step) in enumerate(value):
                    visit(step, depth + 1, given if k == 0 or _keeps_columns(value[:k]) else None)
            else:
                visit(value, depth + 1, None)

    visit(loaded, 0, None)
    return found


def _keeps_columns(steps: list) -> bool:
    """Whether a Pipeline's steps keep its columns one for one (imputers without indicators), so a later encoder's
    categories belong to the pipeline's input columns."""
    return all(type(step).__name__ == "SimpleImputer" and not getattr(step, "add_indicator", False) for _, step in steps)


def _allowed(fitted: dict[str, Categories], columns: tuple[str, ...], kinds: tuple[str, ...]) -> dict[int, list]:
    """The columns a strict encoder limits to the values it was fitted with (by index), when those values are of
    the column's kind: any other value is refused by the model, so the swagger and the input checks say so."""
    allowed = {}
    for j, (c, k) in enumerate(zip(columns, kinds)):
        cats = fitted.get(c)
        if cats is None or not cats.strict or not all(_kind_of(v) == k or k == NUMBER and _kind_of(v) == INTEGER for v in cats.values):
            continue
        if k == BOOLEAN and set(cats.values) == {False, True}:
            continue  # both booleans: no limit to state
        allowed[j] = cats.values
    return allowed


def base_row(fitted: dict[str, Categories], folder: Path, columns: tuple[str, ...], kinds: tuple[str, ...]) -> list:
    """A row the model should score: the saved input example's first row, else for each column a value the
    model's encoders were fitted with, else a neutral value (0, "text", false). A probe built on values the
    model never saw (a string a strict OneHotEncoder was not fitted with) would only find that it refuses them."""
    example = _saved_example(folder, columns)
    if example is not None and all(_kind_of(v) == k or k == NUMBER and _kind_of(v) == INTEGER for v, k in zip(example[0], kinds)):
        return list(example[0])
    return [fitted[c].values[0] if c in fitted and _kind_of(fitted[c].values[0]) == k else NEUTRAL[k] for c, k in zip(columns, kinds)]


def _kind_of(value: object) -> str | None:
    """The column kind a JSON-like value fits (None for other values)."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    return STRING if isinstance(value, str) else None


def _probe_rows(kinds: tuple[str, ...], limit: float, base: list) -> list[list]:
    """Rows at the bounds: float columns at ±limit in sign patterns (all plus, all minus, alternating, one
    column at a time, and PROBE_PATTERNS seeded random ones); the other columns keep the base row's values.
    Integer columns take all of int64 whatever the bound: a model that refuses their extremes (a log of a
    count) must not lower the float columns' bound."""
    width = len(kinds)
    signs = [[1] * width, [-1] * width, [(-1) ** j for j in range(width)]]
    signs += [[(1 if j == k else 0) * s for j in range(width)] for k in range(width) for s in (1, -1)]
    signs += np.random.default_rng(0).choice([-1, 1], size=(PROBE_PATTERNS, width)).tolist()

    def value(kind: str, sign: int, plain: object) -> object:
        return sign * limit if kind == NUMBER and sign else plain

    return [[value(k, s, b) for k, s, b in zip(kinds, pattern, base)] for pattern in signs]


def _same(a: list | None, b: list | None) -> bool:
    """Whether two probes answered alike: the same outputs, or both refused the rows."""
    if a is None or b is None:
        return a is b
    return all(np.array_equal(x, y, equal_nan=x.dtype.kind in "fc") for x, y in zip(a, b))


def fitted_order(loaded: object, cols: tuple[str, ...]) -> tuple[int, ...] | None:
    """The signature's index of each column the model was fitted with, in the model's order, when the model's
    `feature_names_in_` names the signature's columns in another order (else None: the orders agree, or the
    model was fitted without names, or with other names, which scikit-learn refuses by itself)."""
    names = getattr(loaded, "feature_names_in_", None)
    if names is None:
        return None
    names = [str(n) for n in names]
    if names == list(cols) or sorted(names) != sorted(cols):
        return None
    return tuple(cols.index(n) for n in names)


def in_order(values: tuple, order: tuple[int, ...] | None) -> tuple:
    """Values given in the signature's order (its columns, their kinds), in the model's (fitted_order)."""
    return values if order is None else tuple(values[j] for j in order)


def rows_in_order(rows: list, order: tuple[int, ...] | None) -> list:
    """Rows given in the signature's order, in the model's (fitted_order)."""
    return rows if order is None else [[row[j] for j in order] for row in rows]


def load(root: Path) -> Loaded:
    """Load the one skops MLflow model below `root` with exactly the trusted types its MLmodel records.

    Raises ModelLoadError when there is no such model, when the file needs types its MLmodel does
    not trust (naming them and the setting), or when no column names are known.
    """
    import skops.io

    path = find_model_file(root)
    trusted, signature = read_mlmodel(path.parent)
    untrusted = [t for t in skops.io.get_untrusted_types(file=path) if t not in trusted]
    if untrusted:
        flags = " ".join(f"--trust {t}" for t in untrusted)
        raise ModelLoadError(
            f"{path} needs types its MLmodel does not trust ({TRUST_SETTING}): {', '.join(untrusted)}; "
            f"review them, then register the model again with `amlops model register {flags}`"
        )
    loaded = skops.io.load(path, trusted=trusted)
    if signature is None:
        names = getattr(loaded, "feature_names_in_", None)
        if names is None:
            raise ModelLoadError(
                f"{path}: no column names: the MLmodel has no column signature and the model was fitted without "
                "feature names; save it with a signature (mlflow.models.infer_signature)"
            )
        signature = [(str(n), "double") for n in names]
    cols = tuple(name for name, _ in signature)
    kns = tuple(KINDS[t] for _, t in signature)
    if len(set(cols)) != len(cols):
        raise ModelLoadError(f"{path}: the signature names a column twice: {', '.join(cols)}")
    meths = tuple(m for m in METHODS if hasattr(loaded, m))
    if "predict" not in meths:
        raise ModelLoadError(f"{path}: {type(loaded).__name__} has no predict method")
    # A model fitted with the same names in another order takes each row in that order: a float64 array
    # in the signature's order would score every value as another column's, without a word from scikit-learn.
    order = fitted_order(loaded, cols)
    model_cols, model_kns = in_order(cols, order), in_order(kns, order)

    def model_input(rows: list, as_frame: bool) -> object:
        return to_model_input(rows_in_order(rows, order), model_cols, model_kns, as_frame)

    # A float64 array is several times cheaper per request than a DataFrame; a model that selects
    # columns by name (a ColumnTransformer) or has string columns needs the DataFrame, and so does one
    # that answers integers past 2^53 otherwise than as the int64 columns pandas reads (integers exact).
    fitted = fitted_categories(loaded)
    base = base_row(fitted, path.parent, cols, kns)
    numeric = all(k in (NUMBER, INTEGER) for k in kns)
    frame = not (numeric and _answers(loaded, model_input([base], False), meths) is not None)
    if not frame and INTEGER in kns:
        # One row per value: a model that refuses one of them (a log of -2^63) still tells about the others.
        exact = [[v if k == INTEGER else b for k, b in zip(kns, base)] for v in EXACT_INTEGERS]
        frame = not all(_same(*(_answers(loaded, model_input([row], f), meths) for f in (False, True))) for row in exact)
    if frame and _answers(loaded, model_input([base], True), meths) is None:
        logger.warning(
            "%s refuses the probe's row %s (no input example in the model folder, no fitted encoder naming its "
            "columns): its float columns' bound is not probed, and is taken as %g", path, base, NUMBER_LIMITS[-1],
        )
    limit = NUMBER_LIMITS[-1]
    for candidate in NUMBER_LIMITS:
        if _finite(_answers(loaded, model_input(_probe_rows(kns, candidate, base), frame), meths)):
            limit = candidate
            break
    return Loaded(loaded, path, cols, kns, meths, frame, limit, _allowed(fitted, cols, kns), base, order)


def checks_only_its_rows(loaded: object) -> bool:
    """Whether `loaded` is one scikit-learn estimator holding no other estimator: its predict validates
    the rows it is given and nothing derived from them (a pipeline's step, a meta-estimator's inner
    model or a kernel validates what came before it)."""
    from sklearn.base import BaseEstimator

    if not isinstance(loaded, BaseEstimator) or not type(loaded).__module__.startswith("sklearn."):
        return False
    return not any("__" in name or isinstance(value, BaseEstimator) for name, value in loaded.get_params(deep=True).items())


def init() -> None:
    """Azure contract: called once per worker before any request; load the model from AZUREML_MODEL_DIR.

    Raises ModelLoadError (the deployment then fails to start) when load() does, or when
    AZUREML_MODEL_DIR is not set or AMLOPS_MAX_ROWS is not a positive whole number.
    """
    global model, columns, kinds, column_set, methods, as_frame, binary_classes, probe_row, categories, number_limit, number_int_limit, max_rows, collection
    global order, model_columns, model_kinds
    global trusted_rows, _set_sklearn_config

    max_rows = read_max_rows(os.environ.get(MAX_ROWS_ENV))
    if MODEL_DIR_ENV not in os.environ:
        raise ModelLoadError(f"{MODEL_DIR_ENV} is not set; it must point at the registered model's folder")
    found = load(Path(os.environ[MODEL_DIR_ENV]))
    columns, kinds, methods, as_frame, probe_row = found.columns, found.kinds, found.methods, found.as_frame, found.base_row
    column_set = frozenset(columns)
    order = found.order
    model_columns, model_kinds = in_order(columns, order), in_order(kinds, order)
    categories = {j: frozenset(values) for j, values in found.categories.items()}
    number_limit, number_int_limit = found.number_limit, int(Decimal(repr(found.number_limit)))
    classes = getattr(found.model, "classes_", None)
    binary_classes = tuple(classes.tolist()) if classes is not None and len(classes) == 2 else None
    model = found.model
    import sklearn

    # Only where it is off: with SKLEARN_ASSUME_FINITE set, scikit-learn already skips the check everywhere.
    trusted_rows = checks_only_its_rows(model) and not sklearn.get_config()["assume_finite"]
    _set_sklearn_config = sklearn.set_config
    collection = _collection()
    # Rows are scored as a numpy array in the fitted column order; scikit-learn would warn
    # about the missing feature names on every request.
    warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)
    logger.info(
        "loaded %s from %s: columns %s, %s input, numbers up to %g, methods %s, at most %d rows per request",
        type(model).__name__, found.path, ", ".join(f"{c} ({k})" for c, k in zip(columns, kinds)),
        "DataFrame" if as_frame else "array", number_limit, ", ".join(methods), max_rows,
    )


def _collection():
    """The model_inputs/model_outputs collectors (scoring/datacollection.py, beside this script) when Azure's
    data collector configuration is present; imported only then."""
    if not (os.environ.get("AZUREML_MDC_CONFIG_PATH") or os.environ.get("AZUREML_MDC_ENABLED", "").lower() == "true"):
        return None
    from datacollection import Collection

    classes = getattr(model, "classes_", None)
    return Collection(model_columns, frozenset(c for c, k in zip(columns, kinds) if k == INTEGER), None if classes is None else classes.tolist(), logger)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, int) and abs(value) > 10**30:
        return f"an integer with {len(str(abs(value)))} digits"
    return repr(value)


def _valid(kind: str, value: object) -> bool:
    """Whether a JSON value is what a column of this kind takes (exactly what the swagger states)."""
    t = type(value)
    if kind == NUMBER:
        return t is float and -number_limit <= value <= number_limit or t is int and -number_int_limit <= value <= number_int_limit  # type: ignore[operator]
    if kind == INTEGER:  # 45.0 is the integer 45 (JSON Schema's meaning since draft 6); 45.5 is not
        return (t is int or t is float and value.is_integer()) and INT64_MIN <= value <= INT64_MAX  # type: ignore[union-attr,operator]
    if kind == BOOLEAN:
        return t is bool
    return t is str


def _expected(kind: str) -> str:
    return {
        NUMBER: f"a number from -{number_limit:.17g} to {number_limit:.17g}",
        INTEGER: "an integer from -2^63 to 2^63-1",
        BOOLEAN: "true or false",
        STRING: "a string",
    }[kind]


def parse_body(body: bytes) -> tuple[object, str, bool]:
    """Validate a request body; returns the model input (float64 array or DataFrame in the
    signature's column order), the method, and whether the caller used Power BI's shape."""
    return parse_document(read_json(body))


def read_json(body: bytes) -> object:
    """The request body's JSON value; InputError naming what makes it unreadable."""
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise InputError("invalid JSON: the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply") from None
    except ValueError:  # Python refuses integers over 4,300 digits (sys.get_int_max_str_digits)
        raise InputError("invalid JSON: a number has too many digits") from None


def parse_document(doc: object) -> tuple[object, str, bool]:
    """parse_body() for a body already read as JSON (scoring/score_multi.py reads it to route it)."""
    if not isinstance(doc, dict):
        raise InputError(f'the body must be a JSON object with "data" or "Inputs", got {_json_type(doc)}')
    if "Inputs" in doc:
        rows, method, where = _power_bi_fields(doc)
        power_bi = True
    else:
        rows, method, where = _book_fields(doc)
        power_bi = False
    if not isinstance(rows, list) or not rows:
        raise InputError(f"{where} must be a non-empty list of rows, got {_json_type(rows) if rows != [] else 'an empty list'}")
    if len(rows) > max_rows:
        raise InputError(f"{where} has {len(rows)} rows; at most {max_rows} per request")
    return _rows_to_input(rows, where, records_only=power_bi), method, power_bi


def _check_method(method: object, where: str) -> str:
    if method not in methods:
        shown = repr(method) if isinstance(method, str) else _json_type(method)
        raise InputError(f"{where}: unknown method {shown[:60]}; expected {' or '.join(methods)}")
    return method  # type: ignore[return-value]


def _book_fields(doc: dict) -> tuple[object, str, str]:
    unknown = sorted(set(doc) - BOOK_FIELDS)
    if unknown:
        raise InputError(f"unknown field {unknown[0][:60]!r}; expected data and optionally method, or Inputs and optionally GlobalParameters")
    method = _check_method(doc.get("method", "predict"), "method")
    if "data" not in doc:
        raise InputError(f'missing field "data": a list of rows, [[{", ".join(columns)}], ...] or [{{"{columns[0]}": ..., ...}}, ...]')
    return doc["data"], method, "data"


def _power_bi_fields(doc: dict) -> tuple[object, str, str]:
    unknown = sorted(set(doc) - POWER_BI_FIELDS)
    if unknown:
        raise InputError(f"unknown field {unknown[0][:60]!r} beside Inputs; expected Inputs and optionally GlobalParameters")
    inputs = doc["Inputs"]
    if type(inputs) is not dict or set(inputs) != {"data"}:
        if type(inputs) is dict and "data" in inputs:
            extra = sorted(k for k in inputs if k != "data")
            raise InputError(f"Inputs: unknown field {extra[0][:60]!r}; expected only data")
        raise InputError(f'Inputs must be an object with one field, "data" (a list of records), got {_json_type(inputs)}')
    method = "predict"
    if "GlobalParameters" in doc:
        params = doc["GlobalParameters"]
        if type(params) is not dict:
            raise InputError(f"GlobalParameters must be an object, got {_json_type(params)}")
        extra = sorted(k for k in params if k != "method")
        if extra:
            raise InputError(f"GlobalParameters: unknown field {extra[0][:60]!r}; expected only method")
        method = _check_method(params.get("method", "predict"), "GlobalParameters.method")
    return inputs["data"], method, "Inputs.data"


def _rows_to_input(rows: list, where: str, *, records_only: bool) -> object:
    width, limit = len(columns), number_limit
    records = type(rows[0]) is dict
    if records_only and not records:
        raise InputError(f"{where}[0]: expected a record (an object with {', '.join(columns)}), got {_json_type(rows[0])}")
    values: list = rows
    if records:
        values = []
        for i, row in enumerate(rows):
            if type(row) is not dict:
                raise InputError(f"{where}[{i}]: expected an object like {where}[0], got {_json_type(row)}")
            if row.keys() != column_set:
                missing = [c for c in columns if c not in row]
                if missing:
                    raise InputError(f"{where}[{i}]: missing column {missing[0]!r} (columns: {', '.join(columns)})")
                extra = sorted(k for k in row if k not in column_set)
                raise InputError(f"{where}[{i}]: unknown column {extra[0][:60]!r} (columns: {', '.join(columns)})")
            values.append([row[c] for c in columns])
    for i, row in enumerate(values):
        if type(row) is not list:
            shape = "an object" if records else f"a list of {width} values ({', '.join(columns)})"
            raise InputError(f"{where}[{i}]: expected {shape}, got {_json_type(row)}")
        if len(row) != width:
            raise InputError(f"{where}[{i}]: expected {width} values ({', '.join(columns)}), got {len(row)}")
        for j, value in enumerate(row):
            # The common case inline (a float in a float column, an int in an int column); anything
            # else takes _valid(), which states the rule in full.
            t, kind = type(value), kinds[j]
            if t is float and kind is NUMBER and -limit <= value <= limit or t is int and kind is INTEGER and INT64_MIN <= value <= INT64_MAX:
                continue
            if not _valid(kind, value):
                at = f"{where}[{i}].{columns[j]}" if records else f"{where}[{i}][{j}] ({columns[j]})"
                raise InputError(f"{at}: expected {_expected(kind)}, got {_json_type(value)}")
    if categories:
        _check_categories(values, where, records)
    return to_model_input(rows_in_order(values, order), model_columns, model_kinds, as_frame)


def _check_categories(values: list, where: str, records: bool) -> None:
    """Refuse a value a strict encoder was not fitted with, naming row and column (the model would refuse the whole request)."""
    for i, row in enumerate(values):
        for j, allowed in categories.items():
            if row[j] not in allowed:
                at = f"{where}[{i}].{columns[j]}" if records else f"{where}[{i}][{j}] ({columns[j]})"
                shown = sorted(allowed, key=repr)
                listed = ", ".join(json.dumps(v) for v in shown[:10]) + (f", … ({len(shown)} in all)" if len(shown) > 10 else "")
                got = json.dumps(row[j]) if isinstance(row[j], str) and len(row[j]) <= 60 else _json_type(row[j])
                raise InputError(f"{at}: expected one of {listed} (the values the model's encoder was fitted with), got {got}")


def to_model_input(values: list, columns: tuple[str, ...], kinds: tuple[str, ...], as_frame: bool) -> object:
    """Checked rows (lists in column order) as the model takes them: one float64 array, or a typed DataFrame."""
    if not as_frame:
        return np.array(values, dtype=np.float64)
    import pandas as pd

    dtypes = {NUMBER: np.float64, INTEGER: np.int64, BOOLEAN: np.bool_, STRING: object}
    return pd.DataFrame({c: np.array([row[j] for row in values], dtype=dtypes[kinds[j]]) for j, c in enumerate(columns)})


def _error(status: int, message: str) -> AMLResponse:
    return AMLResponse({"message": message}, status, json_str=True)


def _check_finite(output: np.ndarray) -> None:
    """Raise NotFinite for the first row whose output holds NaN or ±Infinity (a regressor's overflow, a
    classifier's NaN probabilities, a float among an object array's labels): JSON (RFC 8259) has no such
    numbers, and a strict parser (Power BI's) refuses them. The inference server serializes the answer dict
    with Python's json, which would write them (allow_nan is its default), so they are refused here instead."""
    if output.dtype.kind in "fc":
        finite = np.isfinite(output)
        if not finite.all():
            row = int(np.flatnonzero(~finite.reshape(len(output), -1).all(axis=1))[0])
            bad = output[row] if output.ndim == 1 else output[row][~finite[row]][0]
            raise NotFinite(row, float(bad))
    elif output.dtype.kind == "O":
        for row, values in enumerate(output.reshape(len(output), -1)):
            bad = next((v for v in values if isinstance(v, (float, np.floating)) and not np.isfinite(v)), None)
            if bad is not None:
                raise NotFinite(row, float(bad))


def _score(x: object, method: str) -> tuple[list, int | None]:
    """The model's answer as JSON-ready lists, and the rows given the first class (binary classifiers).

    Raises NotFinite when an output is NaN or ±Infinity."""
    if method == "predict":
        predicted = _outputs(x, method)
        _check_finite(predicted)
        rejected = int((predicted == binary_classes[0]).sum()) if binary_classes else None
        return predicted.tolist(), rejected
    proba = _outputs(x, method)
    _check_finite(proba)
    rejected = int((proba[:, 1] < 0.5).sum()) if binary_classes else None
    return proba.tolist(), rejected


def _outputs(x: object, method: str) -> np.ndarray:
    """The model's `method` on checked rows (see trusted_rows)."""
    if not trusted_rows:
        return getattr(model, method)(x)
    # scikit-learn's configuration is per thread and shared by every model in the process (scoring/score_multi.py
    # loads several copies of this script), so it is set around this call only.
    _set_sklearn_config(assume_finite=True)  # type: ignore[misc]
    try:
        return getattr(model, method)(x)
    finally:
        _set_sklearn_config(assume_finite=False)  # type: ignore[misc]


def _scores_alone(x: object, method: str) -> bool:
    """Whether the model scores `x` to finite outputs (a probe on the error path: its error is not the point)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _check_finite(np.asarray(getattr(model, method)(x)))
        return True
    except Exception:  # noqa: BLE001
        return False


def _rows(x: object, start: int, stop: int) -> object:
    return x.iloc[start:stop] if as_frame else x[start:stop]  # type: ignore[index,union-attr]


def _with_probe_value(one: object, j: int) -> object:
    """A one-row input (in the model's order) with the signature's column j set to the probe row's value."""
    copy = one.copy()  # type: ignore[attr-defined]
    at = j if order is None else order.index(j)
    if as_frame:
        copy.iat[0, at] = probe_row[j]
    else:
        copy[0, at] = probe_row[j]
    return copy


def blame(x: object, method: str, row: int | None) -> tuple[int | None, list[int]]:
    """On the error path only: the row the model refuses (or scores to NaN/±Infinity) on its own, found by
    bisection unless known, and the columns whose value, replaced by the probe row's, lets that row score.
    (None, []) when the rows fail only together; [] columns when no single value is at fault."""
    if row is None:
        start, stop = 0, len(x)  # type: ignore[arg-type]
        while stop - start > 1:
            middle = (start + stop) // 2
            if not _scores_alone(_rows(x, start, middle), method):
                stop = middle
            elif not _scores_alone(_rows(x, middle, stop), method):
                start = middle
            else:
                return None, []
        row = start
    one = _rows(x, row, row + 1)
    if _scores_alone(one, method):
        return row, []
    return row, [j for j in range(len(columns)) if _scores_alone(_with_probe_value(one, j), method)]


def _at(where: str, row: int, found: list[int], records: bool) -> str:
    """Where a refused row is, naming its column when exactly one value is at fault (as the input checks do)."""
    if len(found) != 1:
        return f"{where}[{row}]"
    j = found[0]
    return f"{where}[{row}].{columns[j]}" if records else f"{where}[{row}][{j}] ({columns[j]})"


def _culprits(found: list[int]) -> str:
    if not found:
        return ""
    names = ", ".join(columns[j] for j in found)
    return f"; it scores with {names} set to {', '.join(repr(probe_row[j]) for j in found)}"


def _records_sent(body: bytes | dict, power_bi: bool) -> bool:
    """Whether the rows came as records (objects) rather than arrays: read again, on the error path only."""
    if power_bi:
        return True
    rows = (json.loads(body) if isinstance(body, bytes) else body)["data"]
    return type(rows[0]) is dict


def _model_refusal(x: object, method: str, body: bytes | dict, power_bi: bool, exc: Exception) -> str:
    """The 400 message for rows the model refuses or scores to NaN/±Infinity, naming the row and the column at fault."""
    where = "Inputs.data" if power_bi else "data"
    row, found = blame(x, method, exc.row if isinstance(exc, NotFinite) else None)
    if row is None:
        return f"{where}: the model cannot score these rows together: {str(exc).splitlines()[0][:300]}"
    at = _at(where, row, found, _records_sent(body, power_bi))
    if isinstance(exc, NotFinite):
        hint = _culprits(found) or "; check the row's values"
        return f"{at}: the model's {method} output for this row is {exc.value!r}, not a finite number (JSON has no NaN or Infinity){hint}"
    return f"{at}: the model cannot score this row: {str(exc).splitlines()[0][:300].rstrip('.')}{_culprits(found)}"


@rawhttp
def run(request):
    """Azure contract: called per request with the HTTP request (raw, thanks to @rawhttp); returns the response.

    POST a JSON body (see the module docstring). Every input problem is a 400 whose message
    names the field, row or column; a GET is a 405; a model not loaded is a 503.
    """
    if request.method != "POST":
        return AMLResponse({"message": "use POST with a JSON body"}, 405, {"Allow": "POST"}, json_str=True)
    return respond(request.get_data(), request.headers.get("x-request-id"))


def respond(body: bytes | dict, request_id: str | None):
    """The answer to a POSTed body: its bytes, or the JSON object a router (scoring/score_multi.py) already read."""
    if model is None:
        return _error(503, "the model is not loaded yet")
    try:
        x, method, power_bi = parse_body(body) if isinstance(body, bytes) else parse_document(body)
    except InputError as exc:
        # The caller gets the whole message; the log (sent to Application Insights) never gets row values.
        logger.info("rejected: %s", str(exc).split(", got ", 1)[0])
        return _error(400, str(exc))
    try:
        answer, rejected = _score(x, method)
    except (ValueError, NotFinite) as exc:  # a category the encoder refuses, an overflow: the row's fault, not the server's
        message = _model_refusal(x, method, body, power_bi, exc)
        logger.info("rejected: %s", message.split(": ", 1)[0] + (": output not finite" if isinstance(exc, NotFinite) else f": the model refuses it ({type(exc).__name__})"))
        return _error(400, message)
    if collection is not None:
        collection.collect(x, answer, method, request_id)
    # The book's alert ("more than 100 rejected loans in 30 minutes") counts these lines in
    # Application Insights traces; infra/monitoring.py's query parses this exact format.
    # `custom_dimensions` in `extra` becomes the trace's customDimensions (opencensus' AzureLogHandler, which the
    # server attaches: https://pypi.org/project/opencensus-ext-azure/), naming the endpoint the line belongs to.
    dims = {"custom_dimensions": {"endpoint": os.environ.get(ENDPOINT_ENV, "")}}
    if rejected is None:
        logger.info(SCORED_ROWS_LOG, len(answer), extra=dims)
    else:
        logger.info(SCORED_LOG, len(answer), rejected, extra=dims)
    # A plain dict: the server answers it as a 200 JSON body (an AMLResponse costs a log line per request).
    return {"Results": answer} if power_bi else {method: answer}
