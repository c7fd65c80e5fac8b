"""The quickstart's plan and preview stages show both models: the two-model stack the train stage wrote is planned
(shared resources, then each model with its endpoints) and checked, and a new version of the diabetes regressor is
promoted into a copy of it, its desired-state diff touching only the diabetes model's resources; dev's own lines stay."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from amlops import quickstart
from quickstart_support import stage_output, stage_title

PLAN = stage_title("plan")
PREVIEW = stage_title("preview")



@pytest.mark.slow
def test_plan_and_preview_show_the_two_model_stack_and_a_promotion_touching_only_diabetes(state):
    from amlops.plan.document import parse_plan
    from amlops.plan.groups import model_of

    out = io.StringIO()
    ctx = quickstart.run("dev", console=Console(file=out, width=250), only=(*quickstart.FOUNDATION, PLAN, PREVIEW))
    text = out.getvalue()
    print(text)  # shown when an assertion fails

    plan = stage_output(text, PLAN)
    dev = [l for l in plan if re.fullmatch(r"stack dev: \d+ Azure resources declared \(desired state under pulumi mocks, not a cloud preview\)", l)]
    assert len(dev) == 2, plan  # dev's own, then the two-model stack's
    assert f"the two-model stack, as `AMLOPS_STACKS_DIR={ctx.stacks_dir} amlops plan --stack dev` plans it:" in plan, plan
    two = ctx.facts["two_model_plan"]
    keys = model_of(parse_plan(two, source="two"))
    titles = [l for l in plan[plan.index(dev[1]):] if re.fullmatch(r"(shared by every model|model (loans|diabetes) \(endpoints [^)]*\)): \d+", l)]
    assert [t.split(" (")[0].split(":")[0] for t in titles] == ["shared by every model", "model diabetes", "model loans"], plan
    for title in titles:  # each group's count is the plan's own resources of that group (custom resources)
        group = "shared" if title.startswith("shared") else title.split()[1]
        own = [r for r in two["resources"] if keys[r["urn"]] == group and r["custom"]]
        assert int(title.rsplit(": ", 1)[1]) == len(own), title
    assert re.search(r"model diabetes \(endpoints diabetes-dev-online-[0-9a-f]{6}, diabetes-dev-batch-[0-9a-f]{6}\)", "\n".join(titles))

    preview = stage_output(text, PREVIEW)
    checks = [l for l in preview if re.fullmatch(r"dev: \d+ rules over (\d+) resources, 0 mandatory and 0 advisory finding\(s\): passed", l)]
    assert len(checks) == 2, preview  # dev, then the two-model stack (more resources)
    counts = [int(re.search(r"over (\d+) resources", l).group(1)) for l in checks]
    assert counts[1] == len(two["resources"]) > counts[0]
    assert f"the two-model stack, as `AMLOPS_STACKS_DIR={ctx.stacks_dir} amlops check --stack dev` checks it:" in preview, preview
    [candidate] = [l for l in preview if l.startswith("a new diabetes version: ")]
    assert re.fullmatch(r"a new diabetes version: Ridge on another split \(seed 7\), held-out R² 0\.\d{4} as its gate score; "
                        r"registered diabetes-ridge:2 \(accuracy 0\.\d{4}\).*", candidate), candidate
    assert "promotion dry run of diabetes-ridge:2 into the two-model stack (a copy; no file here changes):" in preview
    diff = ctx.facts["two_model_promotion"]
    assert diff.changes and {diff.members[c.urn] for c in diff.changes} == {"diabetes"}, diff.changes
    assert "diabetes-online-green" in {c.name for c in diff.changes if c.action == "add"}
    summary = next(l for l in preview if l.startswith("the promotion of diabetes-ridge:2 changes "))
    assert re.fullmatch(rf"the promotion of diabetes-ridge:2 changes {len(diff.changes)} resource\(s\), all of model diabetes; "
                        r"unchanged: shared by every model; model loans \(endpoints [^)]*\)", summary), summary
    # a dry run: the two-model stack still pins the version the train stage registered
    assert "version: 1" in (ctx.stacks_dir / "Pulumi.dev.yaml").read_text().split("diabetes:")[-1]
