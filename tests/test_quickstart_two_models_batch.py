"""The quickstart's profile and batch stages show both models of the two-model stack: a profile and a
recommendation per endpoint, and a batch job per endpoint with that endpoint's own settings. (It also carries
what the single-model profile stage's test checked: the report per model, its steps, and no --write.)"""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from amlops import quickstart
from quickstart_support import stage_output, stage_title
from amlops.paths import STACKS_DIR
from amlops.profiling.quickstart import QUICK_PLAN, SECOND_PLAN

RECOMMENDATION = r"recommendation: \d+ × Standard_\w+ \(.*\) hold .* within p99 ≤ 200 ms.*"




@pytest.mark.slow
def test_profile_and_batch_stages_show_both_models(state):
    import pandas as pd

    from amlops import modelfile
    from amlops.multimodel.diabetes import ID_COLUMN, patients

    stack_text = (STACKS_DIR / "Pulumi.dev.yaml").read_text()
    profile_title, batch_title = stage_title("profile"), stage_title("batch")
    out = io.StringIO()
    ctx = quickstart.run("dev", console=Console(file=out, width=250), only=(*quickstart.FOUNDATION, profile_title, batch_title))
    text = out.getvalue()
    diabetes = ctx.models["diabetes"]

    # profile: a heading per model, then that model's steps and recommendation; one report each
    profiled = stage_output(text, profile_title)
    headings = [i for i, l in enumerate(profiled) if re.match(r"(loans|diabetes): \S+:\d+ on \S+-online/blue, ", l)]
    assert [profiled[i].split(":")[0] for i in headings] == ["loans", "diabetes"], profiled
    loans_part, diabetes_part = profiled[headings[0] : headings[1]], profiled[headings[1] :]
    assert re.fullmatch(
        r"diabetes: diabetes-ridge:1 on diabetes-dev-online/blue, 2 steps \(1, 2 clients\) of at most 200 requests or 1 s each, "
        r"shorter than the first model's to keep the quickstart short; payloads: diabetes-ridge:1's input example \(5 rows, one per request\)",
        diabetes_part[0],
    ), diabetes_part[0]
    assert "payloads: loans dataset (500 rows, one per request)" in loans_part[0]
    for part in (loans_part, diabetes_part):
        assert sum(bool(re.fullmatch(RECOMMENDATION, l)) for l in part) == 1, part
        assert any(l.startswith("dev/blue at http://127.0.0.1:") for l in part) and any("★ best" in l for l in part), part
    runs = ctx.facts["profiles"]
    for key, plan in (("loans", QUICK_PLAN), ("diabetes", SECOND_PLAN)):
        report = json.loads(runs[key].files.json_path.read_text())
        assert report["model"] == ctx.models[key].ref
        steps = report["profile"]["steps"]
        assert [s["concurrency"] for s in steps] == plan.concurrencies()
        assert all(s["requests"] <= plan.step_requests and s["errors"] == 0 for s in steps), steps
        assert f"recommendation: {report['recommendation']['verdict']}" in "\n".join(profiled)
    assert len(list((state / "profiles").glob("*/profile.json"))) == 2
    assert (STACKS_DIR / "Pulumi.dev.yaml").read_text() == stack_text  # no --write in the quickstart

    # batch: the loans job as before, then the diabetes job with its own id column, output path and counts
    batched = stage_output(text, batch_title)
    assert any(re.fullmatch(r"batch: scored 512,000 pending loans .*; rows in 512,000, scored 512,000, rejected 0; "
                            r"0 files failed; output .*", l) for l in batched), batched
    line = next(l for l in batched if l.startswith("batch: scored 442 diabetes patients"))
    assert re.fullmatch(r"batch: scored 442 diabetes patients from 1 part file at [\d,]+ rows per second \(1 worker, mini-batches of 1 file\(s\)\); "
                        r"rows in 442, scored 442, rejected 0; 0 files failed; output \S+/inferences/diabetes/\d{4}-\d{2}-\d{2}/predictions\.csv",
                        line), line
    assert any(l.startswith("batch: diabetes: 442 patients of scikit-learn's diabetes data written to ")
               and l.endswith("scored with diabetes-ridge:1 by diabetes-dev-batch's settings: id columns patient_id, tabular mode, "
                              "append_row to predictions.csv") for l in batched), batched
    assert any(l.startswith("batch: dev's schedule ") or l.startswith("batch: prod's schedule ") for l in batched)
    facts = ctx.facts["batch_diabetes"]
    assert facts["id_columns"] == (ID_COLUMN,)
    assert (facts["rows_in"], facts["rows"], facts["rejected"], facts["failed"]) == (442, 442, 0, 0)
    output = facts["output"]
    assert output.startswith(str(state / "datastores" / "workspaceblobstore" / "inferences" / "diabetes")) and output in line
    assert any((state / "batch" / "dev" / "diabetes" / "jobs").iterdir())

    # every patient's prediction is the Ridge's own prediction on that patient's row
    rows = patients(442)
    scored = pd.read_csv(output, header=None, names=[ID_COLUMN, "prediction"])
    assert sorted(scored[ID_COLUMN]) == sorted(rows[ID_COLUMN])
    expected = modelfile.load(diabetes.folder).predict(rows.drop(columns=[ID_COLUMN]))
    by_id = dict(zip(rows[ID_COLUMN], expected))
    # equal to the last bit or one ulp: the entry script predicts on the frame it read from the part file
    assert scored["prediction"].tolist() == pytest.approx([by_id[i] for i in scored[ID_COLUMN]], rel=1e-12)
    assert scored["prediction"].nunique() > 400  # a regressor's values, not a constant
