"""How a profile reads in a terminal: the step table and the recommendation (Rich renderables)."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from amlops.profiling.measurements import StepResult
from amlops.profiling.recommend import MIB, Recommendation
from amlops.profiling.session import ProfileRun

CLIENT_BOUND_PERCENT = 90.0
"""Above this CPU the Python load generator (one core under the GIL) may be what limits throughput."""


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def step_line(step: StepResult, slo_p99_ms: float) -> str:
    """One line of progress while a profile runs."""
    flag = "ok" if step.within(slo_p99_ms) else ("errors" if step.errors else "over SLO")
    cpu = f", server CPU {step.server_cpu_percent:.0f}%" if step.server_cpu_percent is not None else ""
    return (
        f"{step.concurrency:>3} clients: {step.requests} requests, {step.throughput_rps:.0f} req/s, "
        f"p99 {_ms(step.p99_ms)} ms, {step.errors} errors{cpu}: {flag}"
    )


def steps_table(run: ProfileRun) -> Table:
    """Every step with its figures (latency in ms, CPU in % of one core); the best step is marked ★."""
    slo = run.profile.plan.slo_p99_ms
    local = run.context.get("local", False)
    table = Table(
        title=f"{run.context['stack']}/{run.deployment} at {run.profile.target}",
        caption="latency in ms; CPU in % of one core, summed over the server's processes",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
    )
    columns = ["clients", "reqs", "req/s", "p50", "p90", "p99", "errors"]
    columns += ["CPU %", "RSS MiB"] if local else []
    for name in [*columns, ""]:
        table.add_column(name, justify="right" if name else "left", no_wrap=True)
    best = run.recommendation.best_concurrency
    for s in run.profile.steps:
        verdict = "★ best" if s.concurrency == best else ("ok" if s.within(slo) else ("errors" if s.errors else "over SLO"))
        row = [str(s.concurrency), str(s.requests), f"{s.throughput_rps:.0f}", _ms(s.p50_ms), _ms(s.p90_ms), _ms(s.p99_ms)]
        row.append(str(s.errors))
        if local:
            row.append("-" if s.server_cpu_percent is None else f"{s.server_cpu_percent:.0f}")
            row.append("-" if s.server_peak_rss_bytes is None else f"{s.server_peak_rss_bytes / MIB:.0f}")
        row.append(verdict)
        table.add_row(*row, style=None if s.within(slo) else "red")
    return table


def print_run(console: Console, run: ProfileRun) -> None:
    """The table, why stepping stopped, the recommendation with its assumptions, and the report files."""
    rec: Recommendation = run.recommendation
    console.print(steps_table(run))
    console.print(Text(f"stopped: {run.profile.stop_detail}"))
    busiest = max((s.client_cpu_percent or 0.0) for s in run.profile.steps)
    if busiest >= CLIENT_BOUND_PERCENT:
        console.print(Text.assemble(
            ("note:", "yellow"),
            f" the load generator used {busiest:.0f}% of a core: throughput may be limited by "
            "the client on this machine, so the capacity below is a lower bound",
        ))
    if rec.feasible:
        console.print(Text.assemble(("recommendation:", "bold green"), f" {rec.verdict}"))
        console.print(Text(
            f"  instanceType {rec.instance_type}, instanceCount {rec.instance_count}, "
            f"maxConcurrentRequestsPerInstance {rec.max_concurrent_requests_per_instance}"
            + (f", memory request {rec.memory_request_mib} MiB" if rec.memory_request_mib is not None else "")
        ))
    else:
        console.print(Text.assemble(("no recommendation:", "bold red"), f" {rec.verdict}"))
    for line in rec.assumptions:
        console.print(Text(f"  assumes {line}", style="dim"))
    console.print(Text(f"report: {run.files.json_path}  plot: {run.files.png_path}"), soft_wrap=True)
