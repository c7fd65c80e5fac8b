"""Server (1) of the serving benchmark, the limit: a bare WSGI function under gunicorn that
parses the JSON and calls predict. No framework, no validation, no auth, no telemetry."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import skops.io

warnings.filterwarnings("ignore", message="X does not have valid feature names")
_path = next(Path(os.environ["AZUREML_MODEL_DIR"]).rglob("model.skops"))
model = skops.io.load(_path, trusted=[])


def app(environ, start_response):
    if environ["REQUEST_METHOD"] == "GET":  # the readiness probe
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "7")])
        return [b"Healthy"]
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    rows = json.loads(body)["data"]
    out = json.dumps({"predict": model.predict(np.array(rows, dtype=np.float64)).tolist()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]
