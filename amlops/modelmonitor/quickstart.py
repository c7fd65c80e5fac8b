"""The quickstart's monitor stage: each model's declared monitor over each phase of the traffic the serve stage
collected from it, as `amlops monitor run --endpoint <key> --since` computes it: the in-distribution phase breaches
nothing, the shifted one breaches on the shifted feature."""

from __future__ import annotations

from amlops.quickstart_context import Context


def quickstart_stage(ctx: Context) -> None:
    """Judge the traffic phases the serve stage recorded per model in ctx.facts["monitor_windows"]; each model's
    verdicts go to ctx.facts["monitor_verdicts_by_model"][key][phase], the migrated model's (loans, which keeps a
    single-model stack's names) also to ctx.facts["monitor_verdicts"][phase]."""
    from amlops.modelmonitor.run import run_stack

    recorded = ctx.facts.get("monitor_windows") or {}
    assert ctx.whole is not None, "the train stage runs first"
    for trained, cfg in ctx.each():
        windows = recorded.get(trained.key)
        # The migrated model keeps its unprefixed lines (and plot names), as it keeps its resource names.
        prefix = "" if ctx.whole.migrated(trained.key) else f"{trained.key} "
        if not windows:
            ctx.console.print(f"  {prefix}no monitored traffic: the live deployment of {trained.ref} declares no dataCollector", highlight=False)
            continue
        phases = [p for p in windows if p != "end"]
        bounds = [windows[p] for p in phases] + [windows["end"]]
        verdicts = ctx.facts.setdefault("monitor_verdicts_by_model", {}).setdefault(trained.key, {})
        for i, phase in enumerate(phases):
            label = f"{prefix}{phase}"
            verdict = run_stack(cfg, ctx.stack, since=bounds[i], until=bounds[i + 1], registry=ctx.registry,
                                plot_name=f"quickstart-{label.replace(' ', '-')}.png")
            ctx.console.print(f"{label}: {verdict.describe()}", highlight=False)
            ctx.console.print(verdict.table(), highlight=False, markup=False)
            outcome = f"breach: {verdict.breach_summary()}" if verdict.breaches else f"no breach: {len(verdict.results)} metrics within their thresholds"
            ctx.console.print(f"{label} → {outcome}; plot {verdict.plot}", highlight=False, markup=False, soft_wrap=True)
            verdicts[phase] = verdict
        if not prefix:
            ctx.facts["monitor_verdicts"] = verdicts
