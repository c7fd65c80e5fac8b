"""The scoring API's description, generated from the model's signature when the scoring code is packaged.

The specs are what the Azure ML inference server itself would build for a `run(Inputs,
GlobalParameters)` decorated with inference-schema, in the Power BI-compatible shape Microsoft
documents (a nested `Inputs` parameter, an optional `GlobalParameters`, a nested `Results` output;
https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-advanced-entry-script#power-bi-compatible-endpoint,
consumed as in https://learn.microsoft.com/power-bi/connect-data/service-aml-integrate): the
server's own Swagger builders (`azureml_inference_server_http.server.swagger`) run offline over a
decorated stand-in of score.py's run(). scoring/score.py stays @rawhttp (inference-schema's
per-request conversion costs ≈ 2.5 ms and turns bad input into 500s); the server serves the files
written here from AML_APP_ROOT as they are. infra/scoring_package.py packages them with scoring/:
the app root `amlops serve` runs and the code asset the Pulumi program uploads.

Then the spec is made exact, because score.py checks exactly this: every object closed
(`additionalProperties: false`), `Inputs` required, `data` 1..maxRows records, int64 and double
bounds, the methods the model has. swagger.json (Swagger 2.0, what Power BI reads) describes the
Power BI shape; swagger3.json and swagger3.1.json (OpenAPI 3.1: `prefixItems` states a row
array's per-column types, which 3.0 cannot) describe it and the book's `{"data", "method"}` with
`oneOf`.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import ScoringPackageError

FILES = ("swagger.json", "swagger3.json", "swagger3.1.json")
VERSION_FILES = {"2": "swagger.json", "2.0": "swagger.json", "3": "swagger3.json", "3.0": "swagger3.json", "3.1": "swagger3.1.json"}
"""What the inference server 1.4.1 serves for /swagger.json?version=V from these files: its builders
are registered for "2" (alias "2.0", reading swagger.json), "3" (alias "3.0", swagger3.json) and "3.1"
(swagger3.1.json) (`Swagger._register_builder` in azureml_inference_server_http/server/swagger.py; no
version means "2"); any other version is a 404. The specs' `version` parameter lists exactly these."""
INT64 = {"minimum": -(2**63), "maximum": 2**63 - 1}
DTYPES = {"number": "float64", "integer": "int64", "boolean": "bool", "string": "object"}
"""The DataFrame dtype inference-schema turns into each kind's JSON type."""
_generations = itertools.count(1)
ERRORS = (
    "Bad input (400: invalid JSON, an unknown or missing field, a wrong row width, an unknown or missing "
    "column, a value of the wrong type or out of range, an unknown method, more rows than allowed, a value outside "
    "the categories a strict encoder was fitted with, a row the model refuses or scores to NaN or Infinity, which JSON "
    "cannot carry, named by row and, where one value is at fault, column); 401 without a valid key; 408 past the request "
    "timeout; 413 over the body limit. Every error body is {\"message\": \"...\"}."
)


@dataclass(frozen=True)
class ModelApi:
    """What the spec is generated from: score.py's view of the model (columns, kinds, methods, the
    float bound) and sample answers from the model itself."""

    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    example: list[dict]
    methods: tuple[str, ...]
    number_limit: float
    predictions: list
    probabilities: list | None
    labels: list | None
    """The classifier's classes (`classes_`, in predict_proba's column order); None for a regressor."""
    categories: dict[str, list]
    """Columns a strict encoder limits to the values it was fitted with (score.py refuses any other)."""


def score_module(scoring_dir: Path):
    """scoring/score.py loaded as a module (a fresh copy), so the spec states exactly what it checks."""
    if not (scoring_dir / "score.py").is_file():
        raise ScoringPackageError(f"{scoring_dir} has no score.py (the scoring entry script the specs describe)")
    spec = importlib.util.spec_from_file_location(f"amlops_score_{next(_generations)}", scoring_dir / "score.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _example(score, found) -> list[dict]:
    """The model's saved input example (MLflow's input_example.json, split orient) as records, else score.py's
    probe row (values the model's encoders were fitted with, else neutral ones): rows the model scores."""
    rows = score._saved_example(found.path.parent, found.columns) or [found.base_row]
    return [dict(zip(found.columns, row)) for row in rows[:2]]


def model_api(model_dir: Path, scoring_dir: Path) -> ModelApi:
    """Load the model the way score.py does (its own load()), and score the example with it."""
    score = score_module(scoring_dir)
    try:
        found = score.load(model_dir)
    except score.ModelLoadError as exc:
        raise ScoringPackageError(str(exc)) from None
    example = _example(score, found)
    x = score.to_model_input([[r[c] for c in found.columns] for r in example], found.columns, found.kinds, found.as_frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictions = found.model.predict(x).tolist()
        probabilities = found.model.predict_proba(x).tolist() if "predict_proba" in found.methods else None
    classes = getattr(found.model, "classes_", None)
    labels = classes.tolist() if classes is not None else None
    categories = {found.columns[j]: values for j, values in found.categories.items()}
    return ModelApi(found.columns, found.kinds, example, found.methods, found.number_limit, predictions, probabilities, labels, categories)


class _Script:
    """The server's UserScript as its Swagger builders use it: only get_run_function()."""

    def __init__(self, run):
        self._run = run

    def get_run_function(self):
        return self._run


def _decorated_run(api: ModelApi):
    """score.py's run() as inference-schema would declare it for Power BI: Inputs.data as DataFrame records."""
    import numpy as np
    import pandas as pd
    from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
    from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
    from inference_schema.schema_decorators import input_schema, output_schema

    frame = pd.DataFrame({c: np.array([r[c] for r in api.example], dtype=DTYPES[k]) for c, k in zip(api.columns, api.kinds)})
    inputs = StandardPythonParameterType({"data": PandasParameterType(frame, orient="records")})
    params = StandardPythonParameterType({"method": "predict"})
    results = StandardPythonParameterType({"Results": StandardPythonParameterType(api.predictions)})

    def run(Inputs, GlobalParameters=None):  # noqa: N803 - the names are the contract
        raise NotImplementedError("a stand-in for the swagger builders; scoring/score.py answers requests")

    # inference-schema keeps every decorated function's schema in a process-wide dict keyed by
    # module + __name__: a fresh name per generation keeps one model's schema from another's.
    run.__name__ = f"run_{next(_generations)}"
    return input_schema("Inputs", inputs)(input_schema("GlobalParameters", params)(output_schema(results)(run)))


def _import_server_builders():
    """The server's swagger module, imported without letting it switch off this process's loggers.

    Importing it configures logging (`logging.config.dictConfig`, which disables every logger
    that already exists): in `pulumi up` or the CLI that would silence amlops' own loggers.
    """
    manager = logging.Logger.manager
    before = {name: lg.disabled for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from azureml_inference_server_http import constants
        from azureml_inference_server_http.server import swagger
    finally:
        for name, disabled in before.items():
            manager.loggerDict[name].disabled = disabled  # type: ignore[union-attr]
        root.handlers[:], root.level = handlers, level
    return constants, swagger.Swagger2Builder, swagger.Swagger31Builder


def _server_specs(run) -> dict[str, dict]:
    """The inference server's own Swagger 2.0 and OpenAPI 3.1 documents for `run`."""
    constants, Swagger2Builder, Swagger31Builder = _import_server_builders()

    with tempfile.TemporaryDirectory() as empty_app_root:  # no user files: the builders generate
        script = _Script(run)
        return {
            "2": Swagger2Builder(empty_app_root, constants.SERVER_ROOT, script).get_swagger(),
            "3.1": Swagger31Builder(empty_app_root, constants.SERVER_ROOT, script).get_swagger(),
        }


def _close(schema: Any) -> None:
    """additionalProperties: false on every object schema (score.py refuses unknown fields and columns)."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            schema["additionalProperties"] = False
        for value in schema.values():
            _close(value)
    elif isinstance(schema, list):
        for value in schema:
            _close(value)


def _bound(record: dict, api: ModelApi) -> None:
    """int64 bounds and the model's float bound on the record's columns, and the values a strict encoder was
    fitted with (score.py refuses values outside them)."""
    for name, prop in record["properties"].items():
        if name in api.categories:
            prop["enum"] = list(api.categories[name])
        if prop.get("type") == "integer":
            prop.update(INT64)
        elif prop.get("type") == "number":
            prop.update(minimum=-api.number_limit, maximum=api.number_limit)


def _tighten_input(schema: dict, api: ModelApi, max_rows: int) -> dict:
    """inference-schema's input schema, made exact: Inputs required; 1..max_rows closed records; methods listed."""
    schema = copy.deepcopy(schema)
    schema["required"] = ["Inputs"]
    data = schema["properties"]["Inputs"]["properties"]["data"]
    data.update(minItems=1, maxItems=max_rows)
    _bound(data["items"], api)
    params = schema["properties"]["GlobalParameters"]
    params.pop("required", None)  # score.py defaults the method to predict
    params["properties"]["method"].update(enum=list(api.methods), default="predict")
    params["description"] = "Optional; method predict (default) or predict_proba (when the model has it)."
    _close(schema)
    return schema


def _results(api: ModelApi, item: dict) -> dict:
    return {"type": "object", "required": ["Results"], "properties": {"Results": {"type": "array", "minItems": 1, "items": item}}, "additionalProperties": False}


def _json_kind(values: list) -> str:
    """The one JSON type of a list of Python values (bool before int: a bool is an int in Python)."""
    for kind, types in (("boolean", (bool,)), ("integer", (int,)), ("number", (int, float)), ("string", (str,))):
        if all(isinstance(v, types) and (kind == "boolean" or not isinstance(v, bool)) for v in values):
            return kind
    raise ScoringPackageError(f"the model's labels mix JSON types: {values[:5]!r}; give them one type (all strings or all numbers)")


def _prediction(api: ModelApi) -> dict:
    """One predicted value: a classifier's label, one of its classes (typed and listed); a regressor's number.

    score.py answers only finite numbers (a row scored to NaN or ±Infinity is a 400)."""
    if api.labels is None:
        kind = _json_kind(api.predictions) if api.predictions else "number"
        return {"type": kind, "format": "double"} if kind == "number" else {"type": kind}
    kind = _json_kind(api.labels)
    item: dict = {"type": kind, "enum": list(api.labels)}
    if kind == "number":
        item["format"] = "double"
    item["description"] = "The predicted class: one of the model's classes_."
    return item


def _probability_rows(api: ModelApi) -> dict:
    width = len(api.probabilities[0])  # type: ignore[index]
    order = f" in the order {', '.join(map(str, api.labels))}" if api.labels is not None else ""
    return {
        "type": "array", "items": {"type": "number", "format": "double"}, "minItems": width, "maxItems": width,
        "description": f"One probability per class{order} (the model's classes_).",
    }


def _v2(doc: dict, api: ModelApi, max_rows: int, title: str) -> dict:
    defs = doc["definitions"]
    defs["ServiceInput"] = _tighten_input(defs["ServiceInput"], api, max_rows)
    label = _prediction(api)
    if api.probabilities is None:
        defs["ServiceOutput"] = _results(api, label) | {"example": {"Results": api.predictions}}
    else:
        # Swagger 2.0 has no oneOf: Results holds labels (predict) or probability rows (predict_proba).
        # Without a `type`, each keyword constrains only the values of its own type: arrays are probability
        # rows of the classes' width; a label's type and enum can only be said in words here (swagger3.json
        # states them exactly).
        rows = _probability_rows(api)
        labels = ", ".join(json.dumps(v) for v in api.labels) if api.labels is not None else "a label"
        defs["ServiceOutput"] = _results(api, {
            "description": f"One entry per row: the predicted label, one of {labels} ({label['type']}; predict), "
            f"or the class probabilities (predict_proba): {rows['description']}",
            "items": rows["items"], "minItems": rows["minItems"], "maxItems": rows["maxItems"],
        }) | {"example": {"Results": api.predictions}}
    defs["ErrorResponse"].update(required=["message"], additionalProperties=False)
    _common(doc, title)
    return doc


def _row_array(record: dict, max_rows: int) -> dict:
    names = list(record["properties"])
    row = {"type": "array", "prefixItems": [record["properties"][n] for n in names], "items": False, "minItems": len(names), "maxItems": len(names)}
    row["description"] = f"One row as [{', '.join(names)}], in that order."
    return {"type": "array", "minItems": 1, "maxItems": max_rows, "items": row}


def _v31(doc: dict, api: ModelApi, max_rows: int, title: str) -> dict:
    schemas = doc["components"]["schemas"]
    power_bi = _tighten_input(schemas["ServiceInput"], api, max_rows)
    records = power_bi["properties"]["Inputs"]["properties"]["data"]
    label = _prediction(api)
    book = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"oneOf": [copy.deepcopy(records), _row_array(records["items"], max_rows)]},
            "method": copy.deepcopy(power_bi["properties"]["GlobalParameters"]["properties"]["method"]),
        },
        "additionalProperties": False,
        "description": "The book's shape: records or row arrays (all of one kind), and an optional method.",
        "example": {"data": api.example, "method": "predict"},
    }
    outputs = {"PowerBIResults": _results(api, label), "Predictions": {
        "type": "object", "required": ["predict"], "properties": {"predict": {"type": "array", "minItems": 1, "items": label}}, "additionalProperties": False,
    }}
    if api.probabilities is not None:
        outputs["PowerBIProbabilities"] = _results(api, _probability_rows(api))
        outputs["Probabilities"] = {
            "type": "object", "required": ["predict_proba"], "properties": {"predict_proba": {"type": "array", "minItems": 1, "items": _probability_rows(api)}},
            "additionalProperties": False,
        }
    schemas.update(
        PowerBIInput=power_bi,
        BookInput=book,
        ServiceInput={"oneOf": [{"$ref": "#/components/schemas/PowerBIInput"}, {"$ref": "#/components/schemas/BookInput"}]},
        **outputs,
        ServiceOutput={"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in outputs]},
    )
    schemas["ErrorResponse"].update(required=["message"], additionalProperties=False)
    _common(doc, title)
    return doc


def _common(doc: dict, title: str) -> None:
    """Title, the open health route, the error responses, the swagger route's real answer (a JSON object)."""
    doc["info"]["title"] = title
    doc["info"]["description"] = (
        f"Scores rows with the registered model {title}. Power BI: POST {{\"Inputs\": {{\"data\": [records]}}, "
        "\"GlobalParameters\": {\"method\": \"predict\"}} and read {\"Results\": [...]}. Integers are written "
        "without a fraction (45, not 45.0). Send the endpoint key as Authorization: Bearer <key>. " + ERRORS
    )
    paths = doc["paths"]
    paths["/"]["get"]["security"] = []  # the health probe needs no key (Azure's and amlops serve's front end)
    score = paths["/score"]["post"]
    if "parameters" in score:  # Swagger 2.0: the health probe answers text/plain; a body is required
        paths["/"]["get"]["produces"] = ["text/plain"]
        score["parameters"][0]["required"] = True
    else:
        score["requestBody"]["required"] = True
    swagger_get = paths["/swagger.json"]["get"]
    swagger_get["security"] = [{"Bearer": []}]
    (version,) = swagger_get["parameters"]
    served = {"type": "string", "enum": list(VERSION_FILES)}
    version["description"] = "The spec's version: 2 or 2.0 (Swagger 2.0, the default), 3 or 3.0 or 3.1 (OpenAPI 3.1)."
    if "schema" in version:  # OpenAPI 3
        version["schema"] = served
    else:
        version.pop("format", None)
        version.update(served)
    ok = swagger_get["responses"]["200"]
    if "schema" in ok:
        ok["schema"] = {"type": "object"}
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}


def generate(model_dir: Path, *, max_rows: int, title: str, scoring_dir: Path) -> dict[str, dict]:
    """The three spec files (name → document) for the model folder and the deployment's maxRows."""
    api = model_api(model_dir, scoring_dir)
    server = _server_specs(_decorated_run(api))
    v31 = _v31(server["3.1"], api, max_rows, title)
    return {"swagger.json": _v2(server["2"], api, max_rows, title), "swagger3.json": v31, "swagger3.1.json": v31}


def write(folder: Path, specs: dict[str, dict]) -> list[Path]:
    """Write the spec files into `folder` (the packaged app root); returns their paths."""
    paths = []
    for name, doc in specs.items():
        path = folder / name
        path.write_text(json.dumps(doc, indent=2) + "\n")
        paths.append(path)
    return paths
