"""Any scikit-learn model, not only the loans one: the loans LogisticRegression, a random forest (30
columns with spaces, a tree type to trust), a ColumnTransformer pipeline (numbers and strings, string
labels), a Ridge regressor and a multiclass classifier with string labels are each registered, served in
every payload form and planned, with scoring/ as it is."""

from __future__ import annotations

import json
import math

import httpx
import pandas as pd
import pytest

from amlops import modelfile
from amlops.paths import ROOT, STATE_ENV, SCORING_DIR
from amlops.plan import run_plan
from amlops.registry import Registry
from amlops.serving.endpoint import LocalEndpoint
from amlops.serving.package import package_scoring
from amlops.stackfile import load_stack
from infra.content import content_hash
from models_support import SERVED_CASES
from tree_support import copy_tree, with_local_models

pytestmark = pytest.mark.slow

SCORING_HASH = content_hash(SCORING_DIR)


@pytest.fixture(scope="module", params=sorted(SERVED_CASES))
def registered(request, tmp_path_factory):
    """One model kind saved, registered (with the --trust its file needs) and downloaded like a deployment's."""
    state = tmp_path_factory.mktemp(f"{request.param}-state")
    mp = pytest.MonkeyPatch()
    mp.setenv(STATE_ENV, str(state))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    case = SERVED_CASES[request.param](tmp_path_factory.mktemp(request.param))
    version = Registry().register(case.name, case.folder, trust=case.trust).registered
    assert version is not None and version.version == 1
    yield case, Registry().download(case.name, 1), state
    mp.undo()


def expected(folder, case, method: str) -> list:
    model = modelfile.load(folder)
    frame = pd.DataFrame(case.records)
    return getattr(model, method)(frame).tolist()


def same_answer(got: object, want: object) -> bool:
    """Equal, except that two floats may differ in their last bits: a probability computed from the rows as
    the server builds its frame and as this test does may be summed in another order (2 ulps seen); labels,
    integers and messages must be equal exactly."""
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(got, want, rel_tol=1e-12)
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() == want.keys() and all(same_answer(got[k], want[k]) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(same_answer(g, w) for g, w in zip(got, want))
    return type(got) is type(want) and got == want


def test_three_models_are_served_in_every_payload_form(registered):
    case, folder, _ = registered
    predicted = expected(folder, case, "predict")
    forms = [
        ({"data": case.rows}, {"predict": predicted}),
        ({"data": case.records}, {"predict": predicted}),
        ({"Inputs": {"data": case.records}}, {"Results": predicted}),
        ({"Inputs": {"data": case.records}, "GlobalParameters": {"method": "predict"}}, {"Results": predicted}),
    ]
    if hasattr(modelfile.load(folder), "predict_proba"):
        probabilities = expected(folder, case, "predict_proba")
        forms += [
            ({"data": case.records, "method": "predict_proba"}, {"predict_proba": probabilities}),
            ({"data": case.rows, "method": "predict_proba"}, {"predict_proba": probabilities}),
            ({"Inputs": {"data": case.records}, "GlobalParameters": {"method": "predict_proba"}}, {"Results": probabilities}),
        ]
    else:  # a regressor: predict_proba is an unknown method
        forms.append(({"data": case.rows, "method": "predict_proba"}, {"message": "method: unknown method 'predict_proba'; expected predict"}))
    with LocalEndpoint(load_stack("dev"), folder, model_ref=f"{case.name}:1", workers=1) as ep:
        for body, answer in forms:
            got = httpx.post(ep.scoring_url, json=body, headers=ep.headers, timeout=30)
            assert got.status_code == (400 if "message" in answer else 200), json.dumps(body)[:200]
            assert same_answer(got.json(), answer), (json.dumps(body)[:200], got.json(), answer)
        spec = httpx.get(ep.swagger_url, headers=ep.headers, timeout=30).json()
        bad = dict(case.records[0])
        bad.pop(case.columns[-1])
        refused = httpx.post(ep.scoring_url, json={"Inputs": {"data": [bad]}}, headers=ep.headers, timeout=30)
    assert spec["info"]["title"] == f"{case.name}:1"
    record = spec["definitions"]["ServiceInput"]["properties"]["Inputs"]["properties"]["data"]["items"]
    assert record["required"] == list(case.columns)
    assert (refused.status_code, refused.json()) == (
        400, {"message": f"Inputs.data[0]: missing column {case.columns[-1]!r} (columns: {', '.join(case.columns)})"},
    )
    assert content_hash(SCORING_DIR) == SCORING_HASH  # scoring/ untouched


def test_three_models_record_their_trusted_types_and_signature(registered):
    case, folder, _ = registered
    assert modelfile.recorded_trust(folder) == list(case.trust)
    assert [c.name for c in modelfile.columns(folder)] == list(case.columns)
    assert Registry().get(case.name, 1).tags["skops_trusted_types"] == ",".join(case.trust)


def test_three_models_are_planned_with_scoring_packaged_for_their_signature(registered, tmp_path):
    """The scoring code asset is scoring/ unchanged plus the swagger generated for the model (what `amlops serve` serves)."""
    case, folder, state = registered
    tree = with_local_models(copy_tree(ROOT, tmp_path / "tree"))
    stack_file = tree / "stacks" / "Pulumi.dev.yaml"
    text = stack_file.read_text()
    assert text.count("    name: chapter12-loans\n") == 1
    stack_file.write_text(text.replace("    name: chapter12-loans\n", f"    name: {case.name}\n"))
    plan = run_plan("dev", tree, env={STATE_ENV: str(state), "MLFLOW_TRACKING_URI": ""})
    assert plan["warnings"] == []
    by_name = {r["name"]: r for r in plan["resources"]}
    model = by_name["model-v1"]["inputs"]["properties"]
    assert model["modelUri"].endswith(f"/models/{case.name}/{content_hash(folder)}"), model["modelUri"]
    max_rows = load_stack("dev", tree / "stacks").online.deployments["blue"].request_settings.max_rows
    package = package_scoring(folder, max_rows=max_rows, title=f"{case.name}:1", scoring_dir=tree / "scoring")
    assert by_name["scoring-code-version"]["inputs"]["version"] == content_hash(package)
    assert (package / "score.py").read_bytes() == (SCORING_DIR / "score.py").read_bytes()
    assert json.loads((package / "swagger.json").read_text())["info"]["title"] == f"{case.name}:1"
    blue = by_name["online-blue"]["inputs"]["properties"]
    assert blue["model"].endswith(f"/modelVersions/{case.name}/versions/1"), blue["model"]
    assert blue["codeConfiguration"]["scoringScript"] == "score.py"
