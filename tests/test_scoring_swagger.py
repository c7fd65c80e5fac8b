"""The swagger files generated at packaging time from the model's signature: inference-schema's Power BI
shape through the inference server's own builders, made exact, for any model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from openapi_spec_validator import validate

from amlops.paths import SCORING_DIR
from amlops.serving import swagger
from amlops.serving.package import package_scoring
from cli_support import run_cli
from models_support import forest_case, iris_case, pipeline_case, ridge_case


@pytest.fixture(scope="module")
def loans_specs(trained_model_dir):
    return swagger.generate(trained_model_dir, max_rows=7, title="chapter12-loans:1")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    case = pipeline_case(tmp_path_factory.mktemp("pipeline"))
    return case, swagger.generate(case.folder, max_rows=50, title="applicants:1")


@pytest.mark.parametrize("name", swagger.FILES)
def test_swagger_generated_files_pass_openapi_spec_validator(loans_specs, pipeline, name):
    validate(loans_specs[name])
    validate(pipeline[1][name])


def test_swagger2_is_the_power_bi_shape_inference_schema_generates(loans_specs):
    """Stripped of what amlops adds to make it exact, ServiceInput is inference-schema's own schema for
    run(Inputs={"data": PandasParameterType(records)}, GlobalParameters={"method": ...})."""
    from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
    from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
    from inference_schema.schema_decorators import input_schema
    from inference_schema.schema_util import get_input_schema

    frame = pd.DataFrame({"income": np.array([2000.0]), "credit_cards": np.array([2]), "age": np.array([45])})

    def run_for_test(Inputs, GlobalParameters=None):  # noqa: N803
        return None

    run = input_schema("Inputs", StandardPythonParameterType({"data": PandasParameterType(frame, orient="records")}))(
        input_schema("GlobalParameters", StandardPythonParameterType({"method": "predict"}))(run_for_test)
    )
    expected = get_input_schema(run)
    served = json.loads(json.dumps(loans_specs["swagger.json"]["definitions"]["ServiceInput"]))
    added = {"additionalProperties", "minItems", "maxItems", "minimum", "maximum", "enum", "default", "description"}

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in added}
        return [strip(v) for v in node] if isinstance(node, list) else node

    served.pop("required")  # amlops: Inputs is required
    expected["properties"]["GlobalParameters"].pop("required")  # amlops: method defaults to predict
    assert strip(served) == expected


def test_swagger2_states_exactly_what_score_py_checks(loans_specs):
    service = loans_specs["swagger.json"]["definitions"]["ServiceInput"]
    assert (service["required"], service["additionalProperties"]) == (["Inputs"], False)
    data = service["properties"]["Inputs"]["properties"]["data"]
    assert (data["format"], data["minItems"], data["maxItems"]) == ("pandas.DataFrame:records", 1, 7)
    record = data["items"]
    assert (record["required"], record["additionalProperties"]) == (["income", "credit_cards", "age"], False)
    assert record["properties"] == {
        "income": {"type": "number", "format": "double", "minimum": -1.7976931348623157e308, "maximum": 1.7976931348623157e308},
        "credit_cards": {"type": "integer", "format": "int64", "minimum": -(2**63), "maximum": 2**63 - 1},
        "age": {"type": "integer", "format": "int64", "minimum": -(2**63), "maximum": 2**63 - 1},
    }
    assert service["properties"]["GlobalParameters"]["properties"]["method"]["enum"] == ["predict", "predict_proba"]
    output = loans_specs["swagger.json"]["definitions"]["ServiceOutput"]
    assert (output["required"], output["example"]) == (["Results"], {"Results": [0]})
    paths = loans_specs["swagger.json"]["paths"]
    assert paths["/"]["get"]["security"] == [] and paths["/score"]["post"]["parameters"][0]["required"] is True


def test_swagger3_states_both_shapes_and_row_arrays_by_position(pipeline):
    case, specs = pipeline
    doc = specs["swagger3.json"]
    assert doc["openapi"] == "3.1.0" and specs["swagger3.1.json"] == doc
    schemas = doc["components"]["schemas"]
    assert schemas["ServiceInput"] == {"oneOf": [{"$ref": "#/components/schemas/PowerBIInput"}, {"$ref": "#/components/schemas/BookInput"}]}
    records, rows = schemas["BookInput"]["properties"]["data"]["oneOf"]
    assert records == schemas["PowerBIInput"]["properties"]["Inputs"]["properties"]["data"]
    row = rows["items"]
    assert [p["type"] for p in row["prefixItems"]] == ["number", "integer", "string", "string"]
    assert (row["items"], row["minItems"], row["maxItems"], rows["maxItems"]) == (False, 4, 4, 50)
    results = schemas["PowerBIResults"]["properties"]["Results"]["items"]
    assert (results["type"], results["enum"]) == ("string", ["approve", "decline"])  # the pipeline's classes_
    assert schemas["Predictions"]["properties"]["predict"]["items"] == results
    probabilities = schemas["PowerBIProbabilities"]["properties"]["Results"]["items"]
    assert (probabilities["minItems"], probabilities["maxItems"]) == (2, 2)
    assert probabilities["description"] == "One probability per class in the order approve, decline (the model's classes_)."
    # No input example saved: the row score.py probes, with each string column's first fitted category.
    assert schemas["BookInput"]["example"]["data"] == [dict(zip(case.columns, [0.0, 0, "east", "retired"]))]


def test_swagger_regressor_results_are_numbers_and_inputs_bounded_where_outputs_stay_finite(tmp_path):
    """Ridge's sum overflows to Infinity past float32's range: the spec bounds inputs there; results are numbers."""
    case = ridge_case(tmp_path / "ridge")
    specs = swagger.generate(case.folder, max_rows=10, title="diabetes:1")
    defs = specs["swagger.json"]["definitions"]
    record = defs["ServiceInput"]["properties"]["Inputs"]["properties"]["data"]["items"]
    assert {p["maximum"] for p in record["properties"].values()} == {3.4028234663852886e38}
    assert defs["ServiceInput"]["properties"]["GlobalParameters"]["properties"]["method"]["enum"] == ["predict"]
    assert defs["ServiceOutput"]["properties"]["Results"]["items"] == {"type": "number", "format": "double"}
    schemas = specs["swagger3.json"]["components"]["schemas"]
    assert schemas["ServiceOutput"] == {"oneOf": [{"$ref": "#/components/schemas/PowerBIResults"}, {"$ref": "#/components/schemas/Predictions"}]}
    assert schemas["PowerBIResults"]["properties"]["Results"]["items"] == {"type": "number", "format": "double"}
    for name in swagger.FILES:
        validate(specs[name])


def test_swagger_multiclass_results_list_the_string_labels(tmp_path):
    case = iris_case(tmp_path / "iris")
    specs = swagger.generate(case.folder, max_rows=10, title="iris:1")
    labels = ["setosa", "versicolor", "virginica"]
    schemas = specs["swagger3.json"]["components"]["schemas"]
    assert schemas["PowerBIResults"]["properties"]["Results"]["items"]["enum"] == labels
    assert schemas["Probabilities"]["properties"]["predict_proba"]["items"]["minItems"] == 3
    # Swagger 2.0 has no oneOf: an untyped item whose array keywords state the probability rows.
    item = specs["swagger.json"]["definitions"]["ServiceOutput"]["properties"]["Results"]["items"]
    assert "type" not in item and (item["minItems"], item["maxItems"], item["items"]) == (3, 3, {"type": "number", "format": "double"})
    assert 'one of "setosa", "versicolor", "virginica" (string; predict)' in item["description"]
    for name in swagger.FILES:
        validate(specs[name])


@pytest.mark.parametrize("name", swagger.FILES)
def test_swagger_version_parameter_lists_exactly_the_versions_served(loans_specs, name):
    """The server's builders: 2 (alias 2.0), 3 (alias 3.0), 3.1; the front door answers those and 404s others."""
    from azureml_inference_server_http.server.swagger import Swagger

    (param,) = loans_specs[name]["paths"]["/swagger.json"]["get"]["parameters"]
    schema = param.get("schema", param)
    assert (schema["type"], schema["enum"]) == ("string", ["2", "2.0", "3", "3.0", "3.1"])
    assert set(schema["enum"]) == Swagger._valid_versions


def test_swagger_tree_ensemble_bounds_numbers_at_float32(tmp_path):
    case = forest_case(tmp_path / "forest")
    specs = swagger.generate(case.folder, max_rows=10, title="cancer:1")
    record = specs["swagger.json"]["definitions"]["ServiceInput"]["properties"]["Inputs"]["properties"]["data"]["items"]
    assert record["properties"]["mean radius"] == {"type": "number", "format": "double", "minimum": -3.4028234663852886e38, "maximum": 3.4028234663852886e38}
    assert len(record["required"]) == 30


def test_package_is_content_addressed_and_holds_generated_specs(state, trained_model_dir):
    first = package_scoring(trained_model_dir, max_rows=7, title="chapter12-loans:1")
    assert package_scoring(trained_model_dir, max_rows=7, title="chapter12-loans:1") == first
    other = package_scoring(trained_model_dir, max_rows=8, title="chapter12-loans:1")
    assert other != first
    assert sorted(p.name for p in first.iterdir()) == ["datacollection.py", "environment", "score.py", "score_multi.py", "swagger.json", "swagger3.1.json", "swagger3.json"]
    assert (first / "score.py").read_bytes() == (SCORING_DIR / "score.py").read_bytes()
    assert json.loads((other / "swagger.json").read_text())["definitions"]["ServiceInput"]["properties"]["Inputs"]["properties"]["data"]["maxItems"] == 8


def test_cli_endpoint_swagger_writes_the_models_specs(state, trained_model_dir, tmp_path, capsys, monkeypatch):
    from amlops.registry import Registry

    Registry().register("chapter12-loans", trained_model_dir)
    code, out, err = run_cli(capsys, monkeypatch, "endpoint", "swagger", "--stack", "dev", "--model", "chapter12-loans:1", "--out", str(tmp_path / "specs"))
    assert code == 0, out + err
    assert "packaged scoring/ for chapter12-loans:1" in out and f"copied to {tmp_path / 'specs'}" in out
    assert sorted(p.name for p in (tmp_path / "specs").iterdir()) == sorted(swagger.FILES)
    doc = json.loads((tmp_path / "specs" / "swagger.json").read_text())
    assert doc["info"]["title"] == "chapter12-loans:1"


def test_swagger_generation_leaves_the_process_loggers_enabled():
    """Importing the inference server configures logging and would switch off every existing logger."""
    import subprocess
    import sys

    code = (
        "import logging; a = logging.getLogger('amlops.promotion'); "
        "from infra.swagger import _import_server_builders; _import_server_builders(); print(a.disabled)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
