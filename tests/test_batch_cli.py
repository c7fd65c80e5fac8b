"""`amlops batch run` as a user runs it: the stack's pinned model, exit codes, messages, Ctrl-C, the quickstart stage."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from rich.console import Console

from amlops import data as data_mod
from amlops import stackfile
from amlops.cli import main
from amlops.paths import ROOT, STATE_ENV
from amlops.batching.split import split
from amlops.registry import Registry
from batch_support import loans_csv


def cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`amlops batch run --no-progress ARGS`: exit code, stdout, stderr."""
    return amlops(monkeypatch, capsys, "batch", "run", "--no-progress", *args)


def amlops(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["amlops", *args])
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
    """400 pending loans with application ids, split into part files as a batch model deployment takes them."""
    frame = data_mod.pending_loans(data_mod.generate_loans(100, seed=5), doublings=2)
    return split(data_mod.write_csv(frame, tmp_path / "pending.csv").path, tmp_path / "parts", 4096).folder


def job_folders(state: Path) -> list[Path]:
    return sorted((state / "batch" / "dev" / "jobs").iterdir())


def test_batch_run_uses_stack_pinned_model_and_writes_where_azure_would(monkeypatch, capsys, registered, pending, state):
    code, out, err = cli(monkeypatch, capsys, "--input", str(pending))
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "batch job SUCCEEDED",
        f"input {pending} (tabular); script {ROOT / 'batch' / 'tabular_batch.py'}; model chapter12-loans:1",
    ]
    files = len(list(pending.iterdir()))
    assert f"rows: 400 in, 400 scored, 0 rejected, 0 in failed files; files failed: 0" in out
    assert f"files: {files} succeeded, 0 failed; {files} elements returned" in out
    cfg = stackfile.load_stack("dev").batch
    (written,) = (state / "datastores" / cfg.output.datastore).rglob(cfg.output_file_name)
    assert f"output: {written}" in out and len(written.read_text().splitlines()) == 400
    assert f"reports: {job_folders(state)[0]}/processed_mini-batches.csv, errors.log, job_summary.json" in out


def test_batch_run_unknown_model_version_exits_1(monkeypatch, capsys, registered, pending, tmp_path):
    code, out, err = cli(monkeypatch, capsys, "--input", str(pending), "--model", "chapter12-loans:9", "--output", str(tmp_path / "o"))
    assert (code, err.strip()) == (1, "error: chapter12-loans has no version 9 (versions: 1)")


def test_batch_run_missing_input_exits_2(monkeypatch, capsys, state, trained_model_dir, tmp_path):
    code, out, err = cli(monkeypatch, capsys, "--input", str(tmp_path / "nope.csv"), "--model-dir", str(trained_model_dir))
    assert (code, err.strip()) == (2, f"error: input {tmp_path / 'nope.csv'} does not exist; pass a file or a folder of files with --input")


def test_batch_run_mini_batch_size_zero_exits_2_in_one_line(monkeypatch, capsys, state, pending):
    code, out, err = cli(monkeypatch, capsys, "--input", str(pending), "--mini-batch-size", "0")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--mini-batch-size" in err


def test_batch_run_threshold_exceeded_exits_1_with_reason(monkeypatch, capsys, state, trained_model_dir, stacks_copy, tmp_path):
    dev = stacks_copy / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("errorThreshold: -1", "errorThreshold: 1"))
    real = stackfile.load_stack
    monkeypatch.setattr(stackfile, "load_stack", lambda stack: real(stack, stacks_copy))
    folder = tmp_path / "in"
    loans_csv(folder / "a.csv", 2)
    loans_csv(folder / "b.csv", 2, {3: "A9,abc,1,30"})
    loans_csv(folder / "c.csv", 2, {2: "A9,5000,x,30"})
    code, out, err = cli(monkeypatch, capsys, "--input", str(folder), "--model-dir", str(trained_model_dir), "--output", str(tmp_path / "out"))
    reason = "error_threshold exceeded: 2 files failed, more than the 1 allowed (amlops:batch.errorThreshold; -1 ignores all failures)"
    assert code == 1
    assert out.splitlines()[0] == f"batch job FAILED: {reason}"
    assert err.strip() == f"error: batch job failed: {reason}; see {job_folders(state)[0]}/errors.log"
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_batch_split_writes_parts_and_says_how_many(monkeypatch, capsys, registered, tmp_path):
    src = loans_csv(tmp_path / "big.csv", 2000)
    code, out, err = amlops(monkeypatch, capsys, "batch", "split", str(src), "--out", str(tmp_path / "parts"), "--part-size", "16KB")
    parts = sorted((tmp_path / "parts").iterdir())
    assert (code, out.strip()) == (0, f"2,000 rows in {len(parts)} part files of about 16KB in {tmp_path / 'parts'}")
    assert len(parts) > 2 and sum(len(p.read_text().splitlines()) - 1 for p in parts) == 2000


def _start(tmp_path: Path, model_dir: Path) -> tuple[subprocess.Popen, Path, list[int]]:
    """`amlops batch run` with a run() that never returns, once both workers are ready; the workers' pids."""
    entry = tmp_path / "slow.py"
    entry.write_text("import time\ndef init():\n    pass\ndef run(mb):\n    time.sleep(600)\n")
    folder = tmp_path / "in"
    for n in range(2):
        loans_csv(folder / f"p{n}.csv", 1)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "amlops"), "batch", "run", "--no-progress", "--input", str(folder), "--script", str(entry),
         "--model-dir", str(model_dir), "--output", str(out), "--mini-batch-size", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )
    workers: list[int] = []
    for _ in range(1200):  # until both workers are ready (each logs it once init() returned)
        logs = list(Path(os.environ[STATE_ENV]).rglob("worker*.log"))
        workers = [c.pid for c in psutil.Process(proc.pid).children()]
        if len(workers) == 2 and len([p for p in logs if "ready" in p.read_text()]) == 2:
            break
        time.sleep(0.05)
    return proc, out, workers


def _gone(pids: list[int]) -> bool:
    return not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def test_batch_run_interrupted_exits_130_with_no_output_and_no_workers(tmp_path, trained_model_dir, state):
    proc, out, workers = _start(tmp_path, trained_model_dir)
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (proc.returncode, err.strip().splitlines()[-1]) == (
        130, f"error: batch job interrupted (Ctrl-C or SIGTERM): no output written; reports in {job_folders(state)[0]}"
    )
    assert list(out.iterdir()) == [] and not list(state.rglob(".*"))
    assert "batch job INTERRUPTED: interrupted (Ctrl-C or SIGTERM); no output written" in (job_folders(state)[0] / "job_summary.txt").read_text()
    assert len(workers) == 2 and _gone(workers)


def test_batch_run_sigkill_of_the_main_process_leaves_no_worker_and_no_partial_file(tmp_path, trained_model_dir, state):
    proc, out, workers = _start(tmp_path, trained_model_dir)
    try:
        proc.kill()
        proc.communicate(timeout=60)
        for _ in range(200):  # the kernel delivers the workers' death signal right after the parent's exit
            if _gone(workers):
                break
            time.sleep(0.05)
    finally:
        for pid in workers:
            if psutil.pid_exists(pid):
                psutil.Process(pid).kill()
    assert len(workers) == 2 and _gone(workers)
    assert list(out.iterdir()) == [] and not list(state.rglob(".*"))


def test_batch_quickstart_stage_scores_each_models_batch_input_with_its_ids(registered, trained_model_dir, tmp_path, state):
    from amlops.batching.quickstart import quickstart_stage
    from amlops.multimodel import diabetes
    from amlops.multimodel.stack import write_two_model_stack
    from amlops.quickstart import Context
    from amlops.quickstart_context import Trained

    loans = data_mod.write_csv(data_mod.generate_loans(100, seed=5), tmp_path / "loans.csv")
    frame = data_mod.pending_loans(data_mod.generate_loans(100, seed=5), doublings=3)
    generated = data_mod.GeneratedData(loans, data_mod.write_csv(frame, tmp_path / "p.csv"), data_mod.write_parquet(frame, tmp_path / "p.parquet"))
    ridge, _ = diabetes.train(tmp_path / "ridge")
    version = registered.register(diabetes.NAME, ridge).registered.version
    two = write_two_model_stack(stackfile.stack_path("dev"), tmp_path / "stacks" / "Pulumi.dev.yaml", version).parent
    buffer = io.StringIO()
    cfg = stackfile.load_stack("dev")
    ctx = Context(stack="dev", cfg=cfg, registry=registered, console=Console(file=buffer, width=300), data=generated,
                  model_name="chapter12-loans", model_version=1, whole=stackfile.load_stack("dev", two), stacks_dir=two,
                  models={"loans": Trained("loans", "chapter12-loans", 1, trained_model_dir),
                          "diabetes": Trained("diabetes", diabetes.NAME, version, ridge)})
    quickstart_stage(ctx)
    text = buffer.getvalue()
    assert "batch: split 800 pending loans into 1 part files of about 1MB, each row checked against the model's signature: 800 scorable, 0 set aside" in text
    assert "batch: scored 800 pending loans from 1 part file at " in text
    assert "; rows in 800, scored 800, rejected 0; 0 files failed; output " in text
    assert "batch: prod's schedule (Europe/Amsterdam) runs next at " in text and "; each reads azureml://datastores/" in text
    written = pd.read_csv(ctx.facts["batch"]["output"], header=None, names=["application_id", "prediction"])
    assert written["application_id"].tolist() == frame["application_id"].tolist()
    assert "batch: scored 442 diabetes patients from 1 part file at " in text and " (1 worker, mini-batches of 1 file(s)); rows in 442, scored 442, rejected 0" in text
    patients = pd.read_csv(ctx.facts["batch_diabetes"]["output"], header=None, names=[diabetes.ID_COLUMN, "prediction"])
    assert patients[diabetes.ID_COLUMN].tolist() == diabetes.patients(442)[diabetes.ID_COLUMN].tolist()
