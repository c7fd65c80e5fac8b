"""Server (2) of the serving benchmark: the plainest scoring script under azureml-inference-server-http:
JSON → numpy → predict, with no validation, auth or telemetry."""

import json
import os
import warnings
from pathlib import Path

import numpy as np
import skops.io

model = None


def init():
    global model
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    model = skops.io.load(next(Path(os.environ["AZUREML_MODEL_DIR"]).rglob("model.skops")), trusted=[])


def run(raw_data):
    rows = json.loads(raw_data)["data"]
    return {"predict": model.predict(np.array(rows, dtype=np.float64)).tolist()}
