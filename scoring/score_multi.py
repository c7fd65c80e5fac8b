"""Scoring entry script for several small models in one online deployment: each request names its model.

Azure's contract for more than one model in a deployment: a deployment takes one model asset, so the
models are registered together as one model folder holding each model as a subfolder; the scoring
script finds them below AZUREML_MODEL_DIR (the folder's structure is kept) and routes each request
to one of them (https://learn.microsoft.com/azure/machine-learning/concept-online-deployment-model-specification,
"Deployment for several local models"). The routing follows Microsoft's sample, whose requests carry a
`"model"` field naming the model beside the model's own payload and whose init() loads every model into
a dictionary keyed on its name (azureml-examples, cli/endpoints/online/custom-container/minimal/multimodel,
code/minimal-multimodel-score.py and sdk/python/endpoints/online/managed/online-endpoints-multimodel.ipynb,
at commit 085cd6ea399038c1e07843acff811f34261c0887).

The model folder (built by infra/multi_model.py) is

    <folder>/multimodel.json      {"models": ["loans", "diabetes"]}: the keys, one subfolder each
    <folder>/<key>/MLmodel, model.skops, ...   that model's MLflow folder

Requests are score.py's two shapes plus the model's key, and are checked exactly as score.py checks
them for that model alone (each model is served by its own copy of score.py, with its own columns,
bounds, methods and row limit):

    {"model": "loans", "data": [{"income": 2000, "credit_cards": 2, "age": 45}], "method": "predict"}
    {"model": "diabetes", "Inputs": {"data": [{...}]}, "GlobalParameters": {"method": "predict"}}

A missing or unknown `model` is a 400 naming the models served. Imports nothing from amlops.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

from azureml_inference_server_http.api.aml_request import rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

MANIFEST = "multimodel.json"
"""The file at the top of the combined model folder that lists the models' keys."""
ROUTE_FIELD = "model"
"""The request field that names the model (Microsoft's sample's)."""
KEY = re.compile(r"^[a-z][a-z0-9]{0,11}$")
"""A model's key, as amlops:models keys are written (infra/config/models.py, MODEL_KEY)."""
HERE = Path(__file__).resolve().parent

models: dict = {}
"""Key → that model's own copy of score.py, initialised on its subfolder."""


def score_copy(key: str):
    """A fresh copy of score.py (beside this file) under its own module name: each model keeps its own state."""
    spec = importlib.util.spec_from_file_location(f"score_{key}", HERE / "score.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def find_manifest(root: Path, error: type[Exception]) -> tuple[Path, list[str]]:
    """The combined folder below `root` (the one holding multimodel.json) and its keys; `error` when there is none or it is malformed."""
    found = sorted(root.rglob(MANIFEST)) if root.is_dir() else []
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise error(f"{what} {MANIFEST} below AZUREML_MODEL_DIR={root}: the model folder of a multi-model deployment lists its models there")
    try:
        keys = json.loads(found[0].read_text())["models"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise error(f"{found[0]}: expected {{\"models\": [key, ...]}}: {exc}") from None
    if not isinstance(keys, list) or len(keys) < 2 or not all(isinstance(k, str) and KEY.match(k) for k in keys) or len(set(keys)) != len(keys):
        raise error(f"{found[0]}: \"models\" must list two or more distinct keys (1-12 lowercase letters or digits), got {keys!r}")
    missing = [k for k in keys if not (found[0].parent / k).is_dir()]
    if missing:
        raise error(f"{found[0].parent}: no subfolder for model {missing[0]!r} (every listed model is a subfolder)")
    return found[0].parent, keys


def init() -> None:
    """Azure contract: called once per worker before any request; loads every model of the folder below AZUREML_MODEL_DIR.

    Each model is loaded by its own copy of score.py, whose init() reads AZUREML_MODEL_DIR: it is set to
    the model's subfolder for that call and restored after. Raises score.py's ModelLoadError (the
    deployment then fails to start) naming the model that cannot be loaded.
    """
    global models
    base = score_copy("router")
    if base.MODEL_DIR_ENV not in os.environ:
        raise base.ModelLoadError(f"{base.MODEL_DIR_ENV} is not set; it must point at the registered model's folder")
    folder, keys = find_manifest(Path(os.environ[base.MODEL_DIR_ENV]), base.ModelLoadError)
    loaded = {}
    outer = os.environ[base.MODEL_DIR_ENV]
    try:
        for key in keys:
            os.environ[base.MODEL_DIR_ENV] = str(folder / key)
            module = score_copy(key)
            try:
                module.init()
            except module.ModelLoadError as exc:
                raise base.ModelLoadError(f"model {key!r}: {exc}") from None
            loaded[key] = module
    finally:
        os.environ[base.MODEL_DIR_ENV] = outer
    models = loaded


def _error(status: int, message: str) -> AMLResponse:
    return AMLResponse({"message": message}, status, json_str=True)


@rawhttp
def run(request):
    """Azure contract: called per request with the HTTP request (raw, thanks to @rawhttp); returns the response.

    POST a JSON object with "model" (one of the served keys) and that model's payload (see the module
    docstring); the model's copy of score.py answers it. A missing or unknown model is a 400 naming
    the served ones; a GET is a 405; models not loaded are a 503.
    """
    if request.method != "POST":
        return AMLResponse({"message": "use POST with a JSON body"}, 405, {"Allow": "POST"}, json_str=True)
    if not models:
        return _error(503, "the models are not loaded yet")
    first = next(iter(models.values()))
    try:
        doc = first.read_json(request.get_data())
    except first.InputError as exc:
        return _error(400, str(exc))
    served = ", ".join(models)
    if not isinstance(doc, dict):
        return _error(400, f'the body must be a JSON object with "{ROUTE_FIELD}" (one of {served}) and that model\'s "data" or "Inputs"')
    if ROUTE_FIELD not in doc:
        return _error(400, f'missing field "{ROUTE_FIELD}": the model to score with, one of {served}')
    key = doc.pop(ROUTE_FIELD)
    if not isinstance(key, str) or key not in models:
        shown = repr(key[:60]) if isinstance(key, str) else json.dumps(key)[:60]
        return _error(400, f"{ROUTE_FIELD}: unknown model {shown}; this deployment serves {served}")
    return models[key].respond(doc, request.headers.get("x-request-id"))
