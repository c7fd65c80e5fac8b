"""The scoring API of a multiModel group (scoring/score_multi.py): each member's own spec (infra/swagger.py),
routed by the request's "model" field.

OpenAPI 3.1 (swagger3.json and swagger3.1.json, as for one model): every member's schemas are kept under
`<key>_<name>`; each of its request bodies gets a required `model` property fixed to its key (`const`), and
the group's input is a `oneOf` over them (the constant makes exactly one match); the output is an `anyOf`
over the members' outputs (two models may answer in the same shape). Swagger 2.0 (swagger.json, what Power BI
reads) has neither `oneOf` nor `const`: it states `model` as an enum of the keys and each member's `Inputs` in
words only, pointing to swagger3.json; README says so. The inference server serves these files from the app
root as they are (infra/swagger.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Mapping

from infra import swagger

REF = "#/components/schemas/"
SHARED = ("ErrorResponse",)
"""Schemas every member's spec holds alike: kept once, unprefixed."""
ROUTE_FIELD = "model"
"""The request field that names the model (scoring/score_multi.py's ROUTE_FIELD)."""


def _renamed(node: Any, key: str) -> Any:
    """`node` with every `$ref` to a member schema pointed at its `<key>_` copy."""
    if isinstance(node, dict):
        out = {k: _renamed(v, key) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF) and ref[len(REF):] not in SHARED:
            out["$ref"] = f"{REF}{key}_{ref[len(REF):]}"
        return out
    if isinstance(node, list):
        return [_renamed(v, key) for v in node]
    return node


def _routed(body: dict, key: str) -> dict:
    """A member's closed request body with the required `model` field fixed to its key."""
    out = copy.deepcopy(body)
    out["properties"] = {ROUTE_FIELD: {"type": "string", "const": key, "description": "The model to score with."}, **out["properties"]}
    out["required"] = [ROUTE_FIELD, *out.get("required", [])]
    if "example" in out:
        out["example"] = {ROUTE_FIELD: key, **out["example"]}
    return out


def _v31(members: Mapping[str, dict], title: str) -> dict:
    first = next(iter(members.values()))
    doc = copy.deepcopy(first)
    schemas: dict[str, Any] = {name: first["components"]["schemas"][name] for name in SHARED}
    inputs, outputs = [], []
    for key, spec in members.items():
        own = spec["components"]["schemas"]
        for name, schema in own.items():
            if name in SHARED or name in ("ServiceInput", "ServiceOutput"):
                continue
            schemas[f"{key}_{name}"] = _renamed(schema, key)
        for alternative in own["ServiceInput"]["oneOf"]:
            name = alternative["$ref"][len(REF):]
            schemas[f"{key}_{name}"] = _routed(schemas[f"{key}_{name}"], key)
            inputs.append({"$ref": f"{REF}{key}_{name}"})
        outputs += _renamed(own["ServiceOutput"], key)["oneOf"]
    schemas["ServiceInput"] = {"oneOf": inputs}
    schemas["ServiceOutput"] = {"anyOf": outputs}
    doc["components"]["schemas"] = schemas
    _describe(doc, members, title)
    return doc


def _v2(members: Mapping[str, dict], title: str) -> dict:
    first = next(iter(members.values()))
    doc = copy.deepcopy(first)
    keys = list(members)
    defs = doc["definitions"]
    inputs = {key: spec["definitions"]["ServiceInput"] for key, spec in members.items()}
    columns = "; ".join(f"{key}: {', '.join(s['properties']['Inputs']['properties']['data']['items']['properties'])}" for key, s in inputs.items())
    defs["ServiceInput"] = {
        "type": "object",
        "required": [ROUTE_FIELD, "Inputs"],
        "properties": {
            ROUTE_FIELD: {"type": "string", "enum": keys, "description": "The model to score with."},
            "Inputs": {"type": "object", "description": f"The chosen model's Inputs ({{\"data\": [records]}}; columns by model: {columns}). "
                       "Swagger 2.0 cannot tie them to the model; swagger3.json (?version=3) states each exactly."},
            "GlobalParameters": {"type": "object", "description": "The chosen model's GlobalParameters ({\"method\": ...})."},
        },
        "example": {ROUTE_FIELD: keys[0], **inputs[keys[0]].get("example", {})},
    }
    defs["ServiceOutput"] = {
        "type": "object",
        "required": ["Results"],
        "properties": {"Results": {"type": "array", "description": "One entry per row, as the chosen model answers it alone (swagger3.json states each)."}},
    }
    _describe(doc, members, title)
    return doc


def _describe(doc: dict, members: Mapping[str, dict], title: str) -> None:
    doc["info"]["title"] = title
    doc["info"]["description"] = (
        f"Scores rows with one of the models {', '.join(members)}, named by the request's \"model\" field; "
        f"the rest of the request and the answer are that model's own: "
        + " ".join(f"[{key}] {spec['info']['description']}" for key, spec in members.items())
    )


def generate(members: Mapping[str, Path], *, max_rows: int, title: str, scoring_dir: Path) -> dict[str, dict]:
    """The three spec files (name → document) for a group's members (key → MLflow folder), from each member's own."""
    own = {key: swagger.generate(folder, max_rows=max_rows, title=key, scoring_dir=scoring_dir) for key, folder in members.items()}
    v31 = _v31({k: s["swagger3.1.json"] for k, s in own.items()}, title)
    return {"swagger.json": _v2({k: s["swagger.json"] for k, s in own.items()}, title), "swagger3.json": v31, "swagger3.1.json": v31}


def members_of(folder: Path) -> dict[str, Path]:
    """A combined folder's members (key → subfolder), in multimodel.json's order."""
    from infra.multi_model import MANIFEST

    return {key: folder / key for key in json.loads((folder / MANIFEST).read_text())["models"]}
