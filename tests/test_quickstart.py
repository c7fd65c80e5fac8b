"""The main job: every stage prints what it did, the serve stage's requests are answered and recorded, and a
second run registers nothing equal or worse."""

from __future__ import annotations

import io
import json
import re
import socket
from urllib.parse import urlsplit

from rich.console import Console

from amlops import quickstart
from quickstart_support import stage_output

STAGE_LINES = {
    "data": [
        r"loans\.csv: 500 rows \(sha256 [0-9a-f]{12}\); pending loans: 512,000 rows as CSV and Parquet",
        r"diabetes: 442 patients, 10 float columns and the disease progression \(scikit-learn's bundled copy: .*\)",
    ],
    "train and register": [
        r"registered chapter12-loans:1 \(accuracy 0\.\d{4}\), the first version",
        r"trained Ridge on scikit-learn's diabetes data: held-out R² 0\.\d{4}; registered diabetes-ridge:1 .*, the first version",
        r".*/quickstart/stacks/Pulumi\.dev\.yaml: dev rewritten by `amlops config migrate` \(comments kept\) with a second model: "
        r"loans \(loans-dev-online, loans-dev-batch\); diabetes \(diabetes-dev-online, diabetes-dev-batch\)",
    ],
    "import": [
        r"registered chapter12-loans-pkl:1 \(accuracy 0\.\d{4}\), the first version",
        r"imported diabetes-model\.pkl \(sha256 [0-9a-f]{12}, sklearn\.linear_model\._ridge\.Ridge\) with columns age:double, .* as an MLflow skops model",
        r"registered diabetes-ridge-pkl:1 .*, the first version",
    ],
    "serve": [
        r"  arrays, predict +→ 200 \{\"predict\": \[0, 1\]\}  \(\d+\.\d ms\)",
        r"  data collection: 300 patients drawn from the diabetes data, then the same with bmi raised by 2 standard deviations; "
        r"model_inputs (\d+) records, model_outputs \1 records logged \(one a request\)",
    ],
    "monitor": [
        r"in-distribution → no breach: 10 metrics within their thresholds; plot .*quickstart-in-distribution\.png",
        r"diabetes in-distribution → no breach: 31 metrics within their thresholds; plot .*quickstart-diabetes-in-distribution\.png",
    ],
    "models": [
        r"\$ AMLOPS_STACKS_DIR=\S+ amlops serve --stack dev --port 0 --no-logs",
        r"  diabetes  diabetes-ridge:1 +http://127\.0\.0\.1:\d+/score  → 200 \{\"predict\": \[\d+\.\d+, \d+\.\d+\]\}  \(the other endpoint's key: 401\)",
    ],
    "profile": [
        r"recommendation: \d+ × Standard_\w+ \(.*\) hold .* within p99 ≤ 200 ms.*",
        r"diabetes: diabetes-ridge:1 on diabetes-dev-online/blue, 2 steps \(1, 2 clients\) of at most 200 requests or 1 s each, .*",
    ],
    "batch": [
        r"batch: scored 512,000 pending loans .*; rows in 512,000, scored 512,000, rejected 0; 0 files failed; output .*",
        r"batch: scored 442 diabetes patients from 1 part file at [\d,]+ rows per second .*; rows in 442, scored 442, rejected 0; "
        r"0 files failed; output \S+/inferences/diabetes/\d{4}-\d{2}-\d{2}/predictions\.csv",
    ],
    "plan": [
        r"stack dev: \d+ Azure resources declared \(desired state under pulumi mocks, not a cloud preview\)",
        r"model diabetes \(endpoints diabetes-dev-online-[0-9a-f]{6}, diabetes-dev-batch-[0-9a-f]{6}\): \d+",
    ],
    "preview": [
        r"dev: \d+ rules over \d+ resources, 0 mandatory and 0 advisory finding\(s\): passed",
        r"the promotion of diabetes-ridge:\d+ changes \d+ resource\(s\), all of model diabetes; unchanged: shared by every model; model loans \(endpoints [^)]*\).*",
    ],
}
"""Lines each stage itself prints (not the runner's `title: N s`), each matched whole within that stage's output: the loans
model's and the second model's (`make run` shows both models in every stage)."""



def test_quickstart_every_stage_does_its_job_then_registers_nothing_equal(state):
    out = io.StringIO()
    ctx = quickstart.run("dev", console=Console(file=out, width=250))
    text = out.getvalue()
    assert (ctx.model_name, ctx.model_version) == ("chapter12-loans", 1)
    titles = [title for title, _ in quickstart.stages()]
    assert [t.split(":")[0] for t in titles] == list(STAGE_LINES)
    assert re.search(r"^quickstart done in \d+\.\d s: the versions served: chapter12-loans:1, diabetes-ridge:1$", text, re.M)
    for title in titles:
        printed = stage_output(text, title)
        for pattern in STAGE_LINES[title.split(":")[0]]:
            assert any(re.fullmatch(pattern, line) for line in printed), f"stage {title!r} printed no line matching {pattern!r}:\n" + "\n".join(printed)

    # the serve stage's results: the book's payloads answered, a 400 and a 401, all recorded, the server gone
    served = stage_output(text, titles[3])
    assert any(re.fullmatch(r"  records, predict_proba +→ 200 \{\"predict_proba\": \[\[0\.\d+, 0\.\d+\], .*", l) for l in served)
    assert any(re.fullmatch(r"  Power BI's shape +→ 200 \{\"Results\": \[0, 1\]\}  \(\d+\.\d ms\)", l) for l in served)
    assert any(l.startswith("  a missing column         → 400 {\"message\": \"data[0]: missing column 'age'") for l in served)
    assert any(l.startswith("  without a key            → 401 ") for l in served)
    telemetry = state / "endpoints" / ctx.cfg.online.endpoint_name / "telemetry.jsonl"
    spans = [r for r in map(json.loads, telemetry.read_text().splitlines()) if r.get("kind") == "span"]
    statuses = [s["attributes"]["http.response.status_code"] for s in spans]
    assert (statuses.count(400), statuses.count(401)) == (1, 2)  # the models stage's call with diabetes' key: the other 401
    assert statuses.count(200) >= 5 + 200 + 1  # the four book payloads, Power BI's, 200 timed requests, the models stage's
    assert any(re.fullmatch(r"  data collection: 300 loans from the training distribution, then the same with income doubled; "
                            r"model_inputs (\d+) records, model_outputs \1 records logged \(one a request\)", l) for l in served)

    # the monitor stage's verdicts: the in-distribution phase breaches nothing, the shifted phase exactly income
    monitored = stage_output(text, titles[4])
    verdicts = ctx.facts["monitor_verdicts"]
    assert (verdicts["in-distribution"].production_rows, verdicts["income doubled"].production_rows) == (300, 300)
    assert verdicts["in-distribution"].breaches == []
    shifted = verdicts["income doubled"]
    assert {r.feature for r in shifted.breaches if r.signal != "prediction_drift"} == {"income"}, shifted.breaches
    [line] = [l for l in monitored if l.startswith("income doubled → breach: ")]
    assert re.match(r"income doubled → breach: income \(data_drift jensen_shannon_distance 0\.\d+ > 0\.2", line), line
    assert all(v.plot.stat().st_size > 10_000 for v in verdicts.values())
    url = urlsplit(re.search(r"at (http://127\.0\.0\.1:\d+)/score", "\n".join(served)).group(1))
    with socket.socket() as s:
        assert s.connect_ex((url.hostname, url.port)) != 0, "the quickstart's server still listens"

    # the models stage: both endpoints answered at once with their own model, each refusing the other's key
    models = stage_output(text, titles[5])
    assert any(re.fullmatch(r"  loans     chapter12-loans:1 +http://127\.0\.0\.1:\d+/score  → 200 \{\"predict\": \[0, 1\]\}  \(the other endpoint's key: 401\)", l) for l in models), models
    facts = ctx.facts["many_models"]
    from amlops import modelfile
    from amlops.paths import trained_dir

    folder = trained_dir("diabetes-ridge")
    example = json.loads((folder / "input_example.json").read_text())
    import pandas as pd

    expected = modelfile.load(folder).predict(pd.DataFrame(example["data"][:2], columns=example["columns"]))
    assert facts["answers"]["diabetes"]["predict"] == expected.tolist()
    assert [c.split(" ")[0] for c in facts["choices"]] == ["loans", "diabetes"]

    out2 = io.StringIO()
    ctx2 = quickstart.run("dev", console=Console(file=out2, width=250), only=quickstart.FOUNDATION)
    assert ctx2.model_version == 1
    assert re.search(
        r"^not registered: the candidate's accuracy (0\.\d{4}) does not beat chapter12-loans:1's \1, the best registered version",
        out2.getvalue(), re.M,
    )
    assert len(ctx2.registry.versions("chapter12-loans")) == 1
