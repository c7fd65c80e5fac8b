"""The main job: a first run registers a version, a second registers nothing equal or worse."""

from __future__ import annotations

import io

from rich.console import Console

from amlops import quickstart


def test_quickstart_twice_registers_once(state):
    out = io.StringIO()
    ctx = quickstart.run("dev", console=Console(file=out, width=200))
    assert (ctx.model_name, ctx.model_version) == ("chapter12-loans", 1)
    assert "registered chapter12-loans:1" in out.getvalue()
    out2 = io.StringIO()
    ctx2 = quickstart.run("dev", console=Console(file=out2, width=200))
    assert ctx2.model_version == 1
    assert "not registered" in out2.getvalue()
    assert len(ctx2.registry.versions("chapter12-loans")) == 1
