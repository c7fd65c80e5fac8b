"""The quickstart's models stage serves the two-model stack the way a user does: `amlops serve --stack dev` as a
process (AMLOPS_STACKS_DIR at the stack the train stage wrote), then `amlops invoke --endpoint <key>` per model; each
endpoint answers with its own model on its own port, refuses the other's key, and stops on SIGTERM."""

from __future__ import annotations

import io
import json
import re
import socket
from urllib.parse import urlsplit

import pytest
from rich.console import Console

from amlops import quickstart

MODELS = next(t for t, _ in quickstart.stages() if t.startswith("models:"))
ANSWER = r"  (?P<key>loans|diabetes) +(?P<ref>\S+) +(?P<url>http://127\.0\.0\.1:\d+/score)  → 200 (?P<answer>\{.*\})  \(the other endpoint's key: 401\)"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_models_stage_serves_both_endpoints_through_the_cli_and_invokes_each(state):
    import pandas as pd

    from amlops import modelfile

    out = io.StringIO()
    ctx = quickstart.run("dev", console=Console(file=out, width=250), only=(*quickstart.FOUNDATION, MODELS))
    text = out.getvalue()
    stage = text[text.index(MODELS):]
    assert f"$ AMLOPS_STACKS_DIR={ctx.stacks_dir} amlops serve --stack dev --port 0 --no-logs" in stage, stage
    for key in ("loans", "diabetes"):
        assert f"$ amlops invoke --stack dev --endpoint {key} --file {ctx.stacks_dir.parent / 'requests' / f'{key}.json'}" in stage, stage
    found = {m["key"]: m for m in (re.fullmatch(ANSWER, line) for line in stage.splitlines()) if m}
    assert sorted(found) == ["diabetes", "loans"], stage
    assert (found["loans"]["ref"], found["diabetes"]["ref"]) == (ctx.models["loans"].ref, ctx.models["diabetes"].ref)
    ports = {urlsplit(m["url"]).port for m in found.values()}
    assert len(ports) == 2, found
    # each answer is what that model itself predicts for the rows sent
    answers = ctx.facts["many_models"]["answers"]
    loans = modelfile.load(ctx.models["loans"].folder).predict(pd.DataFrame([[2000, 2, 45], [9000, 1, 60]], columns=["income", "credit_cards", "age"]))
    assert answers["loans"] == {"predict": loans.tolist()} == json.loads(found["loans"]["answer"])
    example = json.loads((ctx.models["diabetes"].folder / "input_example.json").read_text())
    ridge = modelfile.load(ctx.models["diabetes"].folder).predict(pd.DataFrame(example["data"][:2], columns=example["columns"]))
    assert answers["diabetes"]["predict"] == ridge.tolist()
    # stopped by SIGTERM: both servers said so and listen no more
    assert "  stopped loans-dev-online (gunicorn exit code 0)" in stage.splitlines(), stage
    assert "  stopped diabetes-dev-online (gunicorn exit code 0)" in stage.splitlines(), stage
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still listens"
    # each endpoint's own telemetry: one answered request and one refused (the other endpoint's key)
    for endpoint in ("loans-dev-online", "diabetes-dev-online"):
        spans = [r for r in map(json.loads, (state / "endpoints" / endpoint / "telemetry.jsonl").read_text().splitlines()) if r.get("kind") == "span"]
        assert sorted(s["attributes"]["http.response.status_code"] for s in spans if s["name"].startswith("POST /score")) == [200, 401], endpoint
