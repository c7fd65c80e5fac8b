"""scoring/swagger.json and swagger3.json: generated, up to date, valid, and describing both shapes."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from amlops.paths import SCORING_DIR
from amlops.serving import swagger


def test_swagger_files_are_up_to_date():
    assert swagger.stale_files() == [], "run `amlops endpoint swagger` to regenerate scoring/swagger*.json"


@pytest.mark.parametrize("name", ["swagger.json", "swagger3.json"])
def test_swagger_files_pass_openapi_spec_validator(name):
    validate(json.loads((SCORING_DIR / name).read_text()))


def test_swagger3_describes_both_row_forms_and_both_outputs():
    doc = json.loads((SCORING_DIR / "swagger3.json").read_text())
    schemas = doc["components"]["schemas"]
    assert schemas["ServiceInput"]["properties"]["data"]["items"] == {
        "oneOf": [{"$ref": "#/components/schemas/LoanRecord"}, {"$ref": "#/components/schemas/LoanRow"}]
    }
    assert schemas["ServiceInput"]["properties"]["method"]["enum"] == ["predict", "predict_proba"]
    assert schemas["ServiceOutput"] == {
        "oneOf": [{"$ref": "#/components/schemas/PredictOutput"}, {"$ref": "#/components/schemas/PredictProbaOutput"}]
    }
    assert sorted(doc["paths"]["/score"]["post"]["responses"]) == ["200", "400", "401", "408", "413"]


def test_swagger2_types_data_as_records_for_power_bi():
    doc = json.loads((SCORING_DIR / "swagger.json").read_text())
    data = doc["definitions"]["ServiceInput"]["properties"]["data"]
    assert data["items"] == {"$ref": "#/definitions/LoanRecord"}
    assert doc["definitions"]["LoanRecord"]["required"] == ["income", "credit_cards", "age"]
    assert doc["definitions"]["LoanRow"]["minItems"] == doc["definitions"]["LoanRow"]["maxItems"] == 3
    assert sorted(doc["definitions"]["ServiceOutput"]["properties"]) == ["predict", "predict_proba"]


def test_swagger_write_files_reports_only_changed_files(tmp_path):
    assert [p.name for p in swagger.write_files(tmp_path)] == ["swagger.json", "swagger3.json"]
    assert swagger.write_files(tmp_path) == []
    (tmp_path / "swagger3.json").write_text("{}")
    assert [p.name for p in swagger.stale_files(tmp_path)] == ["swagger3.json"]
