"""`amlops batch run` as a user runs it: the stack's pinned model, exit codes, messages, Ctrl-C, the quickstart stage."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from rich.console import Console

from amlops import data as data_mod
from amlops import stackfile
from amlops.cli import main
from amlops.paths import ROOT
from amlops.registry import Registry


def cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["amlops", "batch", "run", "--no-progress", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def registered(state, trained_model_dir) -> Registry:
    registry = Registry()
    registry.register("chapter12-loans", trained_model_dir)
    return registry


@pytest.fixture
def pending(tmp_path) -> Path:
    return data_mod.write_csv(data_mod.pending_loans(data_mod.generate_loans(100, seed=5), doublings=2), tmp_path / "pending.csv").path


def test_batch_run_uses_stack_pinned_model_from_registry(monkeypatch, capsys, registered, pending, tmp_path):
    code, out, err = cli(monkeypatch, capsys, "--input", str(pending), "--output", str(tmp_path / "out"))
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "batch job SUCCEEDED",
        f"input {pending} (tabular); script {ROOT / 'batch' / 'tabular_batch.py'}; model chapter12-loans:1",
    ]
    assert "items: 400 succeeded, 0 failed" in out
    assert len((tmp_path / "out" / "predictions.csv").read_text().splitlines()) == 400


def test_batch_run_unknown_model_version_exits_1(monkeypatch, capsys, registered, pending, tmp_path):
    code, out, err = cli(monkeypatch, capsys, "--input", str(pending), "--model", "chapter12-loans:9", "--output", str(tmp_path / "o"))
    assert (code, err.strip()) == (1, "error: chapter12-loans has no version 9 (versions: 1)")


def test_batch_run_bad_model_ref_exits_2(monkeypatch, capsys, state, pending):
    code, out, err = cli(monkeypatch, capsys, "--input", str(pending), "--model", "chapter12-loans")
    assert (code, err.strip()) == (2, "error: --model takes NAME:VERSION (a version ≥ 1), got 'chapter12-loans'")


def test_batch_run_missing_input_exits_2(monkeypatch, capsys, state, trained_model_dir, tmp_path):
    code, out, err = cli(monkeypatch, capsys, "--input", str(tmp_path / "nope.csv"), "--model-dir", str(trained_model_dir))
    assert (code, err.strip()) == (
        2, f"error: input {tmp_path / 'nope.csv'} does not exist; pass a CSV or Parquet file or a folder of them with --input"
    )


def test_batch_run_threshold_exceeded_exits_1_with_reason(monkeypatch, capsys, state, trained_model_dir, stacks_copy, tmp_path):
    dev = stacks_copy / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("errorThreshold: -1", "errorThreshold: 1"))
    real = stackfile.load_stack
    monkeypatch.setattr(stackfile, "load_stack", lambda stack: real(stack, stacks_copy))
    src = tmp_path / "in.csv"
    src.write_text("income,credit_cards,age\n5000,1,30\nabc,1,30\n5000,x,30\n")
    code, out, err = cli(monkeypatch, capsys, "--input", str(src), "--model-dir", str(trained_model_dir), "--output", str(tmp_path / "out"))
    reason = "error_threshold exceeded: 2 items failed, more than the 1 allowed (amlops:batch.errorThreshold; -1 ignores all failures)"
    assert code == 1
    assert out.splitlines()[0] == f"batch job FAILED: {reason}"
    assert err.strip() == f"error: batch job failed: {reason}; see {tmp_path / 'out'}/errors.log"
    assert f"  ✗ mini-batch 0 ({src} lines 2-4): 2 of 3 items failed: run() returned 1 rows: line 3, line 4" in out
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_batch_run_interrupted_leaves_no_output_and_no_workers(tmp_path, trained_model_dir, state):
    entry = tmp_path / "slow.py"
    entry.write_text("import time\ndef init():\n    pass\ndef run(mb):\n    time.sleep(600)\n")
    src = tmp_path / "in.csv"
    src.write_text("income,credit_cards,age\n5000,1,30\n")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "amlops"), "batch", "run", "--no-progress", "--input", str(src), "--script", str(entry),
         "--model-dir", str(trained_model_dir), "--output", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        log = out / "logs" / "worker0.log"
        for _ in range(600):  # wait until a worker is ready and holds the mini-batch
            if log.exists() and "ready" in log.read_text() and any(out.glob(".predictions.csv.partial-*")):
                break
            time.sleep(0.05)
        workers = [c.pid for c in psutil.Process(proc.pid).children()]
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (proc.returncode, err.strip().splitlines()[-1]) == (
        130, f"error: batch job interrupted (Ctrl-C or SIGTERM): no output written; reports in {out}"
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "errors.log", "job_summary.json", "job_summary.txt", "logs", "processed_mini-batches.csv"
    ]
    assert "batch job INTERRUPTED: interrupted (Ctrl-C or SIGTERM); no output written" in (out / "job_summary.txt").read_text()
    assert len(workers) == 2 and not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in workers)


def test_batch_quickstart_stage_scores_pending_loans_and_prints_rate(registered, tmp_path):
    from amlops.batching.quickstart import quickstart_stage
    from amlops.quickstart import Context

    loans = data_mod.write_csv(data_mod.generate_loans(100, seed=5), tmp_path / "loans.csv")
    frame = data_mod.pending_loans(data_mod.generate_loans(100, seed=5), doublings=3)
    generated = data_mod.GeneratedData(loans, data_mod.write_csv(frame, tmp_path / "p.csv"), data_mod.write_parquet(frame, tmp_path / "p.parquet"))
    buffer = io.StringIO()
    cfg = stackfile.load_stack("dev")
    ctx = Context(stack="dev", cfg=cfg, registry=registered, console=Console(file=buffer, width=300), data=generated,
                  model_name="chapter12-loans", model_version=1)
    quickstart_stage(ctx)
    text = buffer.getvalue()
    assert "batch: scored 800 pending loans at " in text and " rows per second (2 workers, 1 mini-batches of 1MB); 0 failed" in text
    assert ctx.facts["batch"]["rows"] == 800
    assert len(Path(ctx.facts["batch"]["output"]).read_text().splitlines()) == 800
