"""The main job: every stage runs; a second run registers nothing equal or worse."""

from __future__ import annotations

import io

from rich.console import Console

from amlops import quickstart


def test_quickstart_runs_every_stage_then_registers_nothing_equal(state):
    out = io.StringIO()
    ctx = quickstart.run("dev", console=Console(file=out, width=200))
    text = out.getvalue()
    assert (ctx.model_name, ctx.model_version) == ("chapter12-loans", 1)
    assert "registered chapter12-loans:1" in text
    for title, _ in quickstart.stages():
        assert f"{title}:" in text, f"stage {title!r} did not report its time"
    out2 = io.StringIO()
    ctx2 = quickstart.run("dev", console=Console(file=out2, width=200), only=quickstart.FOUNDATION)
    assert ctx2.model_version == 1
    assert "not registered" in out2.getvalue()
    assert len(ctx2.registry.versions("chapter12-loans")) == 1
