"""The scoring API's description: scoring/swagger.json (Swagger 2.0, what Power BI reads) and
scoring/swagger3.json (OpenAPI 3.0, served at /swagger.json?version=3).

The inference server serves these files from AML_APP_ROOT as they are, so they are
generated here, written with `amlops endpoint swagger`, and a test fails when they are stale.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from amlops.paths import SCORING_DIR

FILES = {"2": "swagger.json", "3": "swagger3.json"}
TITLE = "loans scoring"
DESCRIPTION = (
    "Scores loan applications with the chapter12-loans model. POST {\"data\": rows} to /score, "
    "rows as records ({\"income\", \"credit_cards\", \"age\"}) or as arrays "
    "[income, credit_cards, age]; optional \"method\": \"predict\" (default) or \"predict_proba\". "
    "Send the endpoint key as Authorization: Bearer <key>."
)
API_VERSION = "1.0"

RECORD = {
    "type": "object",
    "description": "One loan application, matched by column name.",
    "required": ["income", "credit_cards", "age"],
    "properties": {
        "income": {"type": "number", "format": "double", "description": "Monthly income."},
        "credit_cards": {"type": "integer", "format": "int64", "description": "Number of credit cards held."},
        "age": {"type": "integer", "format": "int64", "description": "Age in years."},
    },
    "additionalProperties": False,
    "example": {"income": 2000, "credit_cards": 2, "age": 45},
}
ROW = {
    "type": "array",
    "description": "One loan application as [income, credit_cards, age], in that order.",
    "items": {"type": "number"},
    "minItems": 3,
    "maxItems": 3,
    "example": [2000, 2, 45],
}
EXAMPLE_RECORDS = {"data": [{"income": 2000, "credit_cards": 2, "age": 45}, {"income": 9000, "credit_cards": 1, "age": 60}], "method": "predict"}
EXAMPLE_ROWS = {"data": [[2000, 2, 45], [9000, 1, 60]], "method": "predict_proba"}
METHOD = {
    "type": "string",
    "enum": ["predict", "predict_proba"],
    "default": "predict",
    "description": "predict answers {\"predict\": [0|1, ...]}; predict_proba answers {\"predict_proba\": [[p0, p1], ...]}.",
}
PREDICT = {
    "type": "array",
    "description": "The predicted approved_loan per row: 0 or 1.",
    "items": {"type": "integer", "format": "int64", "enum": [0, 1]},
    "example": [0, 1],
}
PROBA = {
    "type": "array",
    "description": "Per row, the probabilities of approved_loan = 0 and = 1.",
    "items": {"type": "array", "items": {"type": "number", "format": "double"}, "minItems": 2, "maxItems": 2},
    "example": [[0.998, 0.002], [0.31, 0.69]],
}
ERROR = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string", "description": "What is wrong, naming the field, row or column."}},
    "example": {"message": "data[0]: missing column 'age' (columns: income, credit_cards, age)"},
}
DATA_TEXT = (
    "Rows to score, at most the deployment's maxRows (default 1000): records (LoanRecord) or arrays (LoanRow), "
    "all of one kind."
)
ERRORS = {
    "400": "Bad input: invalid JSON, a missing or unknown field, a wrong row width, an unknown or missing column, "
    "a non-numeric or non-finite value, an unknown method, or more rows than allowed.",
    "401": "No key, or not one of the endpoint's keys.",
    "408": "Scoring took longer than the deployment's request timeout.",
    "413": "The request body exceeds the deployment's body limit.",
}


def _ref2(name: str) -> dict:
    return {"$ref": f"#/definitions/{name}"}


def _ref3(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _health(version: str) -> dict:
    ok: dict[str, Any] = {"description": "The service is up; the body is the text Healthy."}
    if version == "2":
        ok["schema"] = {"type": "string"}
    else:
        ok["content"] = {"text/plain": {"schema": {"type": "string"}}}
    return {"get": {"operationId": "ServiceHealthCheck", "description": "Health probe; needs no key.", "responses": {"200": ok}}}


def swagger2() -> dict:
    """Swagger 2.0. It has no oneOf, so `data` is typed as records (what Power BI and generated
    clients send); the array form is the LoanRow definition, named in `x-amlops-row-forms`."""
    errors = {code: {"description": text, "schema": _ref2("ErrorResponse")} for code, text in ERRORS.items()}
    input_schema = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "array",
                "minItems": 1,
                "description": DATA_TEXT + " Swagger 2.0 cannot state the alternative: see LoanRow.",
                "items": _ref2("LoanRecord"),
                "x-amlops-row-forms": ["#/definitions/LoanRecord", "#/definitions/LoanRow"],
            },
            "method": METHOD,
        },
        "additionalProperties": False,
        "example": EXAMPLE_RECORDS,
    }
    output_schema = {
        "type": "object",
        "description": "Exactly one field, named after the method.",
        "properties": {"predict": PREDICT, "predict_proba": PROBA},
        "example": {"predict": [0, 1]},
    }
    return {
        "swagger": "2.0",
        "info": {"title": TITLE, "description": DESCRIPTION, "version": API_VERSION},
        "schemes": ["https", "http"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "Bearer": {"type": "apiKey", "name": "Authorization", "in": "header", "description": "Bearer <key>: the endpoint's primary or secondary key."}
        },
        "paths": {
            "/": _health("2"),
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "description": "Score loan applications.",
                    "security": [{"Bearer": []}],
                    "parameters": [{"name": "serviceInputPayload", "in": "body", "required": True, "schema": _ref2("ServiceInput")}],
                    "responses": {
                        "200": {"description": "The predictions, one per row, in request order.", "schema": _ref2("ServiceOutput"), "examples": {"application/json": {"predict": [0, 1]}}},
                        **errors,
                    },
                }
            },
        },
        "definitions": {
            "ServiceInput": input_schema,
            "LoanRecord": RECORD,
            "LoanRow": ROW,
            "ServiceOutput": output_schema,
            "ErrorResponse": ERROR,
        },
    }


def openapi3() -> dict:
    """OpenAPI 3.0: both row forms (oneOf) and both outputs (oneOf)."""
    error_content = {"application/json": {"schema": _ref3("ErrorResponse")}}
    errors = {code: {"description": text, "content": error_content} for code, text in ERRORS.items()}
    schemas = {
        "ServiceInput": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {"type": "array", "minItems": 1, "description": DATA_TEXT, "items": {"oneOf": [_ref3("LoanRecord"), _ref3("LoanRow")]}},
                "method": METHOD,
            },
            "additionalProperties": False,
        },
        "LoanRecord": RECORD,
        "LoanRow": ROW,
        "ServiceOutput": {"oneOf": [_ref3("PredictOutput"), _ref3("PredictProbaOutput")]},
        "PredictOutput": {"type": "object", "required": ["predict"], "properties": {"predict": PREDICT}, "additionalProperties": False},
        "PredictProbaOutput": {"type": "object", "required": ["predict_proba"], "properties": {"predict_proba": PROBA}, "additionalProperties": False},
        "ErrorResponse": ERROR,
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "description": DESCRIPTION, "version": API_VERSION},
        "components": {
            "securitySchemes": {"Bearer": {"type": "http", "scheme": "bearer", "description": "The endpoint's primary or secondary key."}},
            "schemas": copy.deepcopy(schemas),
        },
        "paths": {
            "/": _health("3"),
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "description": "Score loan applications.",
                    "security": [{"Bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": _ref3("ServiceInput"),
                                "examples": {"records": {"value": EXAMPLE_RECORDS}, "rows": {"value": EXAMPLE_ROWS}},
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The predictions, one per row, in request order.",
                            "content": {"application/json": {"schema": _ref3("ServiceOutput"), "examples": {
                                "predict": {"value": {"predict": [0, 1]}},
                                "predict_proba": {"value": {"predict_proba": [[0.998, 0.002], [0.31, 0.69]]}},
                            }}},
                        },
                        **errors,
                    },
                }
            },
        },
    }


def render(version: str) -> str:
    """The file text for a swagger version ("2" or "3")."""
    doc = swagger2() if version == "2" else openapi3()
    return json.dumps(doc, indent=2) + "\n"


def stale_files(folder: Path = SCORING_DIR) -> list[Path]:
    """The swagger files in `folder` that are missing or differ from what this module generates."""
    stale = []
    for version, name in FILES.items():
        path = folder / name
        if not path.is_file() or path.read_text() != render(version):
            stale.append(path)
    return stale


def write_files(folder: Path = SCORING_DIR) -> list[Path]:
    """Write both files; returns the ones that changed."""
    changed = stale_files(folder)
    for version, name in FILES.items():
        (folder / name).write_text(render(version))
    return changed
