"""The quickstart's serve and monitor stages with both models of the two-model stack: the diabetes regressor is
served with its own stack settings next to the loans model, answers its input example, refuses bad input and a
missing key, collects two phases of traffic, and its monitor judges them (no breach, then the shifted feature)."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
from rich.console import Console

from amlops import modelfile, quickstart
from quickstart_support import stage_output, stage_title
from amlops.multimodel import diabetes
from amlops.paths import trained_dir
from amlops.serving.quickstart import DIABETES_SHIFTED

SERVE, MONITOR = stage_title("serve"), stage_title("monitor")



def model_block(lines: list[str], ref: str) -> list[str]:
    """The serve stage's lines about the model `ref`: from its `serving REF` line to its `server stopped`."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"serving {ref} "))
    end = next(i for i in range(start, len(lines)) if lines[i] == "  server stopped")
    return lines[start : end + 1]


def test_quickstart_serve_and_monitor_show_both_models(state):
    out = io.StringIO()
    ctx = quickstart.run("dev", console=Console(file=out, width=250), only=(*quickstart.FOUNDATION, SERVE, MONITOR))
    text = out.getvalue()
    served = stage_output(text, SERVE)
    refs = [line.split(" ")[1] for line in served if line.startswith("serving ")]
    assert refs == [ctx.models["loans"].ref, ctx.models["diabetes"].ref] == ["chapter12-loans:1", "diabetes-ridge:1"], refs

    # the loans model's lines are today's
    loans = model_block(served, "chapter12-loans:1")
    assert any(re.fullmatch(r"  arrays, predict +→ 200 \{\"predict\": \[0, 1\]\}  \(\d+\.\d ms\)", l) for l in loans), loans
    assert any(l.startswith("  a missing column         → 400 {\"message\": \"data[0]: missing column 'age'") for l in loans), loans

    # the diabetes endpoint: its own endpoint and settings, its model's answers, 400s naming the problem, a 401
    block = model_block(served, "diabetes-ridge:1")
    assert re.fullmatch(r"serving diabetes-ridge:1 \(diabetes-dev-online/blue, 1 workers\) at http://127\.0\.0\.1:\d+/score, ready in \d+\.\d s", block[0]), block
    folder = trained_dir(diabetes.NAME)
    example = json.loads((folder / "input_example.json").read_text())
    expected = modelfile.load(folder).predict(pd.DataFrame(example["data"][:2], columns=example["columns"])).tolist()
    answers = {m.group(1): json.loads(m.group(2)) for m in (re.fullmatch(r"  (arrays, predict|records, predict) +→ 200 (\{.*\})  \(\d+\.\d ms\)", l) for l in block) if m}
    assert answers == {"arrays, predict": {"predict": expected}, "records, predict": {"predict": expected}}, block
    assert any(re.fullmatch(r"  Power BI's shape +→ 200 \{\"Results\": \[-?\d+\.\d+, -?\d+\.\d+\]\}  \(\d+\.\d ms\)", l) for l in block), block
    [proba] = [l for l in block if l.startswith("  records, predict_proba ")]
    assert re.match(r"  records, predict_proba +→ 400 \{\"message\": \".*predict_proba", proba), proba
    assert any(l.startswith(f"  a missing column         → 400 {{\"message\": \"data[0]: missing column '{DIABETES_SHIFTED}'") for l in block), block
    assert any(l.startswith("  without a key            → 401 ") for l in block), block
    assert any(re.fullmatch(r"  swagger: 2\.0 \(\d+ paths, definitions .+\); OpenAPI 3\.\d+\.\d+ at \?version=3", l) for l in block), block
    collected = [l for l in block if l.startswith("  data collection: ")]
    assert len(collected) == 1 and re.fullmatch(
        r"  data collection: 300 patients drawn from the diabetes data, then the same with bmi raised by 2 standard deviations; "
        r"model_inputs 263 records, model_outputs 263 records logged \(one a request\)", collected[0]), collected  # 3 + 200 + 60 requests
    telemetry = state / "endpoints" / "diabetes-dev-online" / "telemetry.jsonl"
    spans = [r for r in map(json.loads, telemetry.read_text().splitlines()) if r.get("kind") == "span"]
    statuses = [s["attributes"]["http.response.status_code"] for s in spans]
    assert (statuses.count(400), statuses.count(401), statuses.count(200)) == (2, 1, 3 + 200 + 2 + 60), statuses  # payloads, timed, swaggers, traffic

    # the monitor stage: one verdict line per (model, phase); diabetes: no breach, then exactly its shifted feature
    monitored = stage_output(text, MONITOR)
    verdicts = ctx.facts["monitor_verdicts_by_model"]
    assert verdicts["loans"] is ctx.facts["monitor_verdicts"] and list(verdicts["loans"]) == ["in-distribution", "income doubled"]
    assert list(verdicts["diabetes"]) == ["in-distribution", "bmi shifted"]
    calm, shifted = verdicts["diabetes"]["in-distribution"], verdicts["diabetes"]["bmi shifted"]
    assert (calm.production_rows, shifted.production_rows, calm.reference_rows) == (300, 300, 353)
    assert calm.reference.name == diabetes.TRAINING_CSV
    assert calm.breaches == [], calm.breaches
    assert {r.feature for r in shifted.breaches if r.signal != "prediction_drift"} == {DIABETES_SHIFTED}, shifted.breaches
    [prediction] = [r for r in shifted.results if r.signal == "prediction_drift"]
    assert (prediction.feature, prediction.breach) == (diabetes.TARGET, True), prediction  # its predictions moved with bmi
    assert any(re.fullmatch(r"diabetes in-distribution → no breach: 31 metrics within their thresholds; plot .*quickstart-diabetes-in-distribution\.png", l) for l in monitored), monitored
    [line] = [l for l in monitored if l.startswith("diabetes bmi shifted → ")]
    assert re.fullmatch(r"diabetes bmi shifted → breach: bmi \(data_drift jensen_shannon_distance 0\.\d+ > 0\.2.*\); plot .*quickstart-diabetes-bmi-shifted\.png", line), line
    assert any(re.fullmatch(r"in-distribution → no breach: 10 metrics within their thresholds; plot .*quickstart-in-distribution\.png", l) for l in monitored), monitored
    assert all(v.plot.stat().st_size > 10_000 for v in (calm, shifted))
