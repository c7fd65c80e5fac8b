"""Batch runner benchmark: `amlops batch run` against a single-process baseline measured in the same run.

    python -m benchmarks.batch [--repeat 3] [--small-only] [--json PATH]

Cases, each a fresh process from start to output written, run interleaved `--repeat`
times (the best time is reported: on a shared machine other work only ever adds time;
medians go to --json), then once more each with the process tree's memory sampled: the baseline (benchmarks/batch/baseline.py: pyarrow
reads the whole CSV, pandas, predict, pyarrow writes) and `amlops batch run` with the
dev stack's settings, 2 workers and 1MB or 100KB mini-batches, at 512K and 5.12M rows.
Figures are ratios to the baseline of the same size; absolute numbers depend on the
machine and its load. Then the runner's own costs, in one process: per mini-batch (the
slope of time over mini-batch count with a run() that does nothing) and fixed (a
one-row job).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.batch.measure import Measurement, measure

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def prepare(work: Path) -> tuple[dict[str, Path], Path]:
    """The 512K pending loans (the book's), ten copies of them (5.12M rows), and a trained model folder."""
    from amlops import data as data_mod
    from amlops import training

    generated = data_mod.generate_all(work / "data")
    small = generated.pending_csv.path
    header, body = small.read_bytes().split(b"\n", 1)
    large = work / "data" / "pending_5m.csv"
    with large.open("wb") as fh:
        fh.write(header + b"\n")
        for _ in range(10):
            fh.write(body)
    model, facts = training.train(generated.loans)
    model_dir = training.save_model(model, facts, work / "model")
    return {"512K": small, "5.12M": large}, model_dir


def cases(inputs: dict[str, Path], model_dir: Path, work: Path) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for size, path in inputs.items():
        out[(size, "baseline")] = [sys.executable, str(HERE / "baseline.py"), str(path), str(model_dir), str(work / f"baseline-{size}.csv")]
        for mb in ("1MB", "100KB"):
            out[(size, f"amlops batch run, {mb}")] = [
                str(BIN / "amlops"), "batch", "run", "--stack", "dev", "--input", str(path), "--model-dir", str(model_dir),
                "--output", str(work / f"out-{size}-{mb}"), "--overwrite", "--no-progress",
                "--mini-batch-size", mb, "--max-concurrency", "2",
            ]
    return out


def runner_costs(inputs: dict[str, Path], model_dir: Path, work: Path) -> dict[str, float]:
    """Per-mini-batch overhead (slope between 100KB and 1MB mini-batches, 1 worker, run() returns its input
    and summary_only so no output is formatted) and the fixed cost of a one-row job."""
    from amlops.batching import BatchSettings, JobSpec, run_job
    from amlops.batching.job import _preimport

    _preimport()
    noop = work / "noop_batch.py"
    noop.write_text("def init():\n    pass\n\ndef run(mini_batch):\n    return mini_batch\n")
    quiet = Console(file=io.StringIO())

    def timed(path: Path, size: int, workers: int, name: str) -> tuple[float, int]:
        s = BatchSettings(mini_batch_size=size, max_concurrency_per_instance=workers, output_action="summary_only")
        t0 = time.perf_counter()
        r = run_job(JobSpec(path, work / name, s, model_dir, script=noop, overwrite=True, progress=False), console=quiet)
        return time.perf_counter() - t0, r.counts.mini_batches_created

    path = inputs["5.12M"] if "5.12M" in inputs else inputs["512K"]
    timed(path, 1 << 20, 1, "warm")
    big = min((timed(path, 1 << 20, 1, "c1") for _ in range(3)), key=lambda t: t[0])
    small = min((timed(path, 100 << 10, 1, "c2") for _ in range(3)), key=lambda t: t[0])
    per_mb = (small[0] - big[0]) / (small[1] - big[1])
    one = work / "one.csv"
    one.write_text("income,credit_cards,age\n7298,2,35\n")
    fixed = min(timed(one, 1 << 20, 2, "c3")[0] for _ in range(5))
    return {"per_mini_batch_ms": per_mb * 1000, "fixed_s": fixed, "mini_batches_1MB": big[1], "mini_batches_100KB": small[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--small-only", action="store_true", help="Only 512K rows (quick).")
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON here.")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        work = Path(tmp)
        console.print("preparing data (512K and 5.12M rows) and a model …")
        inputs, model_dir = prepare(work)
        if args.small_only:
            inputs.pop("5.12M")
        todo = cases(inputs, model_dir, work)
        results: dict[tuple[str, str], list[Measurement]] = {k: [] for k in todo}
        for round_ in range(args.repeat):
            for key, cmd in todo.items():
                results[key].append(measure(cmd))
            console.print(f"round {round_ + 1}/{args.repeat} done")
        memory = {key: measure(cmd, memory=True) for key, cmd in todo.items()}
        console.print("memory sampled")
        costs = runner_costs(inputs, model_dir, work)
    table = Table(title="batch scoring, end to end (best of %d; ratios to the baseline of the same size)" % args.repeat)
    for col in ("rows", "case", "seconds", "× baseline time", "tree PSS MB", "tree RSS MB"):
        table.add_column(col, justify="right" if col not in ("case",) else "left")
    report: dict = {"cases": [], "runner": costs}
    for size in inputs:
        base = min(m.seconds for m in results[(size, "baseline")])
        for (sz, case), ms in results.items():
            if sz != size:
                continue
            secs = min(m.seconds for m in ms)
            pss, rss = memory[(sz, case)].peak_pss_mb, memory[(sz, case)].peak_rss_mb
            table.add_row(size, case, f"{secs:.2f}", f"{secs / base:.2f}x", f"{pss:.0f}", f"{rss:.0f}")
            report["cases"].append({
                "rows": size, "case": case, "best_seconds": secs, "ratio": secs / base,
                "median_seconds": statistics.median(m.seconds for m in ms), "pss_mb": pss, "rss_mb": rss,
            })
    console.print(table)
    if "5.12M" in inputs:
        for mb in ("1MB", "100KB"):
            key = f"amlops batch run, {mb}"
            p_small, p_large = memory[("512K", key)].peak_pss_mb, memory[("5.12M", key)].peak_pss_mb
            console.print(f"memory flatness, {mb}: tree PSS at 5.12M rows is {p_large / p_small:.2f}x that at 512K (input 10x)")
    console.print(
        f"runner overhead: {costs['per_mini_batch_ms']:.2f} ms per mini-batch "
        f"({costs['mini_batches_100KB']} vs {costs['mini_batches_1MB']} mini-batches, 1 worker, run() does nothing); "
        f"fixed {costs['fixed_s'] * 1000:.0f} ms for a one-row job (fork 2 workers, init, reports)"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
