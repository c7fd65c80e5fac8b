"""The profile's report on disk: profile.json with every figure, profile.png to read it at a glance."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from amlops.paths import state_dir
from amlops.profiling.recommend import Recommendation
from amlops.profiling.stepping import Profile

REPORT_VERSION = 1
JSON_NAME = "profile.json"
PNG_NAME = "profile.png"


@dataclass(frozen=True)
class ReportFiles:
    json_path: Path
    png_path: Path


def default_out_dir(now: datetime | None = None) -> Path:
    """`<state>/profiles/<UTC timestamp>/`."""
    now = now or datetime.now(timezone.utc)
    return state_dir() / "profiles" / now.strftime("%Y%m%dT%H%M%S.%fZ")


def report_json(profile: Profile, rec: Recommendation, context: dict) -> dict:
    """The whole report as one JSON document (`context`: stack, deployment, model, local or not)."""
    return {
        "amlopsProfile": REPORT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **context,
        "profile": profile.to_json(),
        "recommendation": rec.to_json(),
    }


def write_report(profile: Profile, rec: Recommendation, out_dir: Path, context: dict) -> ReportFiles:
    """Write profile.json and profile.png into `out_dir` (created)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out_dir / JSON_NAME, out_dir / PNG_NAME)
    files.json_path.write_text(json.dumps(report_json(profile, rec, context), indent=2) + "\n")
    plot(profile, rec, files.png_path, title=context.get("title", profile.target))
    return files


def plot(profile: Profile, rec: Recommendation, path: Path, title: str) -> None:
    """Latency percentiles (top) and throughput (bottom) per concurrency step; the SLO as a line."""
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    steps = profile.steps
    slo = profile.plan.slo_p99_ms
    xs = list(range(len(steps)))
    labels = [str(s.concurrency) for s in steps]
    fig, (lat, thr) = plt.subplots(2, 1, figsize=(9, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    fig.suptitle(title, fontsize=12, fontweight="bold")

    for key, name, style in (("p50_ms", "p50", "-o"), ("p90_ms", "p90", "-s"), ("p99_ms", "p99", "-^")):
        ys = [getattr(s, key) if getattr(s, key) is not None else float("nan") for s in steps]
        lat.plot(xs, ys, style, label=name, linewidth=2, markersize=6)
    top = max([s.p99_ms for s in steps if s.p99_ms is not None] + [1.0])
    for x, s in zip(xs, steps):
        if s.p99_ms is not None:
            lat.annotate(f"{s.p99_ms:.1f}", (x, s.p99_ms), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
        if not s.within(slo):
            lat.annotate("errors" if s.errors else "over SLO", (x, s.p99_ms or slo), textcoords="offset points",
                         xytext=(0, 18), ha="center", color="crimson", fontsize=9, fontweight="bold")
    if slo <= 2.5 * top:  # the SLO line fits without flattening the curves
        lat.axhline(slo, color="crimson", linestyle="--", linewidth=1.5, label=f"SLO p99 {slo:g} ms")
        lat.set_ylim(0, max(slo, top) * 1.25)
    else:
        lat.set_ylim(0, top * 1.5)
        lat.text(0.99, 0.95, f"SLO p99 {slo:g} ms: far above every step (off the chart)", transform=lat.transAxes,
                 ha="right", va="top", color="crimson", fontsize=9)
    lat.set_ylabel("latency (ms)")
    lat.grid(True, alpha=0.3)
    lat.legend(loc="upper left", fontsize=9)

    best = rec.best_concurrency
    colors = ["seagreen" if s.concurrency == best else ("lightgray" if not s.within(slo) else "steelblue") for s in steps]
    bars = thr.bar(xs, [s.throughput_rps for s in steps], color=colors, width=0.6)
    for bar, s in zip(bars, steps):
        text = f"{s.throughput_rps:.0f}/s"
        if s.server_cpu_percent is not None:
            text += f"\nserver CPU {s.server_cpu_percent:.0f}%"
        thr.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), textcoords="offset points",
                     xytext=(0, 3), ha="center", fontsize=8)
    thr.set_ylabel("throughput (req/s)")
    thr.set_ylim(top=max([s.throughput_rps for s in steps] + [1.0]) * 1.35)
    thr.grid(True, axis="y", alpha=0.3)
    thr.set_xticks(xs, labels)
    thr.set_xlabel("concurrent requests (clients)")
    fig.text(0.5, 0.01, _footer(profile, rec), ha="center", fontsize=9, wrap=True)
    fig.tight_layout(rect=(0, 0.07, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _footer(profile: Profile, rec: Recommendation) -> str:
    if rec.feasible:
        memory = f", memory {rec.memory_request_mib} MiB" if rec.memory_request_mib is not None else ""
        return (
            f"green: best step within the SLO ({rec.best_rps:.0f} req/s at concurrency {rec.best_concurrency}); "
            f"gray: over the SLO or errors.\nRecommendation: {rec.instance_count} × {rec.instance_type}, "
            f"maxConcurrentRequestsPerInstance {rec.max_concurrent_requests_per_instance}{memory}"
        )
    return f"No recommendation: {rec.verdict.split(':')[0]}.  Stopped: {profile.stop_detail}"
