"""The quickstart's monitor stage: the stack's declared monitor over each phase of the serve stage's collected
traffic, as `amlops monitor run --since` computes it: the in-distribution phase breaches nothing, the shifted one
breaches on the shifted feature."""

from __future__ import annotations

from amlops.quickstart_context import Context


def quickstart_stage(ctx: Context) -> None:
    """Judge the two traffic phases the serve stage recorded in ctx.facts["monitor_windows"]."""
    from amlops.modelmonitor.run import run_stack

    windows = ctx.facts.get("monitor_windows")
    if not windows:
        ctx.console.print("  no monitored traffic: the stack's live deployment declares no dataCollector", highlight=False)
        return
    phases = [p for p in windows if p != "end"]
    bounds = [windows[p] for p in phases] + [windows["end"]]
    for i, phase in enumerate(phases):
        verdict = run_stack(ctx.cfg, ctx.stack, since=bounds[i], until=bounds[i + 1], plot_name=f"quickstart-{phase.replace(' ', '-')}.png")
        ctx.console.print(f"{phase}: {verdict.describe()}", highlight=False)
        ctx.console.print(verdict.table(), highlight=False, markup=False)
        outcome = f"breach: {verdict.breach_summary()}" if verdict.breaches else f"no breach: {len(verdict.results)} metrics within their thresholds"
        ctx.console.print(f"{phase} → {outcome}; plot {verdict.plot}", highlight=False, markup=False)
        ctx.facts.setdefault("monitor_verdicts", {})[phase] = verdict
