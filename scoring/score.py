"""Scoring entry script of the loans model: what an Azure ML online deployment runs.

The Azure ML inference server (azureml-inference-server-http) imports this file, calls
`init()` once per worker and `run(request)` per request. It imports nothing from the
amlops repository: only numpy, skops (scikit-learn) and the server's own API.

Request:  {"data": [[income, credit_cards, age], ...]}
      or  {"data": [{"income": 2000, "credit_cards": 2, "age": 45}, ...]}
          with an optional "method": "predict" (default) | "predict_proba".
Response: {"predict": [0, 1]} or {"predict_proba": [[0.998, 0.002], ...]}.
Bad input is answered with a 400 and {"message": "..."} naming what is wrong.
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from pathlib import Path

import numpy as np
from azureml_inference_server_http.api.aml_request import rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

MODEL_DIR_ENV = "AZUREML_MODEL_DIR"
"""Where Azure mounts the registered model (the MLflow folder sits somewhere below it)."""
MAX_ROWS_ENV = "AMLOPS_MAX_ROWS"
"""The most rows one request may score (the stack's requestSettings.maxRows)."""
DEFAULT_MAX_ROWS = 1000
MODEL_FILE = "model.skops"
"""The MLflow sklearn flavor's model file when saved with serialization_format="skops"."""
TRUSTED_TYPES: tuple[str, ...] = ()
"""Types trusted beyond skops' defaults (which cover scikit-learn's estimators). A model that
needs another type fails init() naming it; add it here only after reviewing it. Never pickle."""
METHODS = ("predict", "predict_proba")
SCORED_LOG = "scored %d rows, %d rejected"
"""One trace line per scored request; the rejected-loans alert in infra/monitoring.py parses it."""
FIELDS = frozenset({"data", "method"})

logger = logging.getLogger("azmlinfsrv.print.score")
"""Under `azmlinfsrv.print`, the logger the server sends to Application Insights (1.4.1 attaches
its App Insights handler to `azmlinfsrv.trace` and `azmlinfsrv.print` only): its lines land in
the deployment's log and App Insights traces (and locally, with the request id, in
`amlops endpoint logs`)."""

model = None
columns: tuple[str, ...] = ()
column_set: frozenset[str] = frozenset()
max_rows = DEFAULT_MAX_ROWS


class ModelLoadError(Exception):
    """The model folder or its settings cannot be loaded; raised by init(), so the server does not start."""


class InputError(Exception):
    """The request is malformed; the message says what is wrong (answered as a 400)."""


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


def init() -> None:
    """Azure contract: called once per worker before any request; load the model from AZUREML_MODEL_DIR.

    Raises ModelLoadError (the deployment then fails to start) when there is no skops
    MLflow model below the folder, when the file needs types outside TRUSTED_TYPES, or
    when AMLOPS_MAX_ROWS is not a positive whole number.
    """
    global model, columns, column_set, max_rows
    import skops.io

    max_rows = read_max_rows(os.environ.get(MAX_ROWS_ENV))
    if MODEL_DIR_ENV not in os.environ:
        raise ModelLoadError(f"{MODEL_DIR_ENV} is not set; it must point at the registered model's folder")
    path = find_model_file(Path(os.environ[MODEL_DIR_ENV]))
    untrusted = [t for t in skops.io.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
    if untrusted:
        raise ModelLoadError(f"{path} needs types that are not trusted: {', '.join(untrusted)}; review them, then add them to TRUSTED_TYPES")
    loaded = skops.io.load(path, trusted=list(TRUSTED_TYPES))
    names = getattr(loaded, "feature_names_in_", None)
    if names is None:
        raise ModelLoadError(f"{path}: the model was fitted without column names; records cannot be matched by name")
    model, columns = loaded, tuple(str(n) for n in names)
    column_set = frozenset(columns)
    # Rows are scored as a numpy array in the fitted column order; scikit-learn would warn
    # about the missing feature names on every request.
    warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)
    logger.info("loaded %s from %s: columns %s, at most %d rows per request", type(loaded).__name__, path, ", ".join(columns), max_rows)


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
    return repr(value)


def _check_number(value: object, where: str) -> None:
    t = type(value)
    if t is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise InputError(f"{where}: expected a finite number, got {value}")
        return
    if t is int:
        if abs(value) > 1e300:  # type: ignore[operator]
            raise InputError(f"{where}: expected a finite number, got an integer with {len(str(value))} digits")
        return
    raise InputError(f"{where}: expected a number, got {_json_type(value)}")


def parse_body(body: bytes) -> tuple[np.ndarray, str]:
    """Validate a request body; returns the rows as float64 in the fitted column order and the method."""
    try:
        doc = json.loads(body)
    except UnicodeDecodeError:
        raise InputError("invalid JSON: the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply") from None
    if not isinstance(doc, dict):
        raise InputError(f'the body must be a JSON object with a "data" field, got {_json_type(doc)}')
    unknown = sorted(set(doc) - FIELDS)
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r}; expected data and optionally method")
    method = doc.get("method", "predict")
    if method not in METHODS:
        shown = repr(method) if isinstance(method, str) else _json_type(method)
        raise InputError(f"unknown method {shown[:60]}; expected predict or predict_proba")
    if "data" not in doc:
        raise InputError('missing field "data": a list of rows, [[income, credit_cards, age], ...] or [{"income": ..., ...}, ...]')
    rows = doc["data"]
    if not isinstance(rows, list) or not rows:
        raise InputError(f"data must be a non-empty list of rows, got {_json_type(rows) if rows != [] else 'an empty list'}")
    if len(rows) > max_rows:
        raise InputError(f"data has {len(rows)} rows; at most {max_rows} per request")
    return _rows_to_array(rows), method


def _rows_to_array(rows: list) -> np.ndarray:
    width = len(columns)
    records = isinstance(rows[0], dict)
    values: list = rows
    if records:
        values = []
        for i, row in enumerate(rows):
            if type(row) is not dict:
                raise InputError(f"data[{i}]: expected an object like data[0], got {_json_type(row)}")
            if row.keys() != column_set:
                missing = [c for c in columns if c not in row]
                if missing:
                    raise InputError(f"data[{i}]: missing column {missing[0]!r} (columns: {', '.join(columns)})")
                extra = sorted(k for k in row if k not in column_set)
                raise InputError(f"data[{i}]: unknown column {extra[0][:60]!r} (columns: {', '.join(columns)})")
            values.append([row[c] for c in columns])
    for i, row in enumerate(values):
        if type(row) is not list:
            shape = "an object" if records else f"a list of {width} values ({', '.join(columns)})"
            raise InputError(f"data[{i}]: expected {shape}, got {_json_type(row)}")
        if len(row) != width:
            raise InputError(f"data[{i}]: expected {width} values ({', '.join(columns)}), got {len(row)}")
        for j, value in enumerate(row):
            t = type(value)
            if t is not float and t is not int or t is float and not math.isfinite(value) or t is int and abs(value) > 1e300:
                where = f"data[{i}].{columns[j]}" if records else f"data[{i}][{j}] ({columns[j]})"
                _check_number(value, where)
    return np.array(values, dtype=np.float64)


def _error(status: int, message: str) -> AMLResponse:
    return AMLResponse({"message": message}, status, json_str=True)


@rawhttp
def run(request):
    """Azure contract: called per request with the HTTP request (raw, thanks to @rawhttp); returns the response.

    POST a JSON body (see the module docstring). Every input problem is a 400 whose message
    names the field, row or column; a GET is a 405; a model not loaded is a 503.
    """
    if request.method != "POST":
        return AMLResponse({"message": "use POST with a JSON body"}, 405, {"Allow": "POST"}, json_str=True)
    if model is None:
        return _error(503, "the model is not loaded yet")
    try:
        x, method = parse_body(request.get_data())
    except InputError as exc:
        logger.info("rejected: %s", exc)
        return _error(400, str(exc))
    # A plain dict: the server answers it as a 200 JSON body (an AMLResponse costs a log line per request).
    if method == "predict":
        predicted = model.predict(x)
        rejected = len(predicted) - int(predicted.sum())
        result = {"predict": predicted.tolist()}
    else:
        proba = model.predict_proba(x)
        rejected = int((proba[:, 1] < 0.5).sum())
        result = {"predict_proba": proba.tolist()}
    # The book's alert ("more than 100 rejected loans in 30 minutes") counts these lines in
    # Application Insights traces; infra/monitoring.py's query parses this exact format.
    logger.info(SCORED_LOG, len(x), rejected)
    return result
