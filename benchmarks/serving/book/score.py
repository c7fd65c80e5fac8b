"""Server (4) of the serving benchmark: the book's score_v2.py, inference-schema's
PandasParameterType input (a DataFrame per request) under azureml-inference-server-http."""

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.schema_decorators import input_schema, output_schema

input_sample = pd.DataFrame({"income": [2000.0], "credit_cards": [2], "age": [45]})
output_sample = np.array([0])
model = None


def init():
    global model
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    model = skops.io.load(next(Path(os.environ["AZUREML_MODEL_DIR"]).rglob("model.skops")), trusted=[])


@input_schema("data", PandasParameterType(input_sample))
@output_schema(NumpyParameterType(output_sample))
def run(data):
    return model.predict(data).tolist()
