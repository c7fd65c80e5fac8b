"""Nothing is lost: poison rows, hung run(), dead workers, exceptions, malformed input, and the thresholds."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from amlops.batching import BatchJobFailed, BatchSettings, EntryScriptFailed, JobSpec, run_job
from amlops.errors import DataError

HEADER = "income,credit_cards,age\n"


def loans_csv(path: Path, rows: int, poison: dict[int, str] | None = None) -> Path:
    """`rows` clean rows; `poison` replaces the row at a 1-based file line (the header is line 1)."""
    lines = [f"{4000 + 37 * i}.5,{i % 5},{20 + i % 50}" for i in range(rows)]
    for line, text in (poison or {}).items():
        lines[line - 2] = text
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return path


def job(tmp_path: Path, model_dir: Path, input: Path, script: Path | None = None, **settings):
    out = tmp_path / "out"
    spec = JobSpec(input=input, output_dir=out, settings=BatchSettings(**settings), model_dir=model_dir, script=script, progress=False)
    return run_job(spec, console=Console(file=io.StringIO())), out


def processed(out: Path) -> list[dict]:
    with (out / "processed_mini-batches.csv").open() as fh:
        return list(csv.DictReader(fh))


def errors(out: Path) -> str:
    return re.sub(r"^\[[0-9: -]+\] ", "", (out / "errors.log").read_text(), flags=re.M)


def hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "test_entry.py"
    path.write_text(
        "import os, signal, time\nfrom pathlib import Path\nMARKS = Path(os.environ.get('MARKS', '.'))\n"
        "def init():\n    pass\n" + body
    )
    return path


ONCE = "def once(name):\n    mark = MARKS / name\n    if mark.exists():\n        return False\n    mark.touch()\n    return True\n"


POISON = {5: "abc,1,30", 9: ",2,40", 12: "5000,2.5,50"}


def test_batch_run_poison_rows_threshold_minus1_counts_and_names_them(tmp_path, trained_model_dir):
    src = loans_csv(tmp_path / "in.csv", 100, POISON)
    result, out = job(tmp_path, trained_model_dir, src, error_threshold=-1, max_concurrency_per_instance=1)
    assert result.status == "SUCCEEDED"
    assert (result.counts.items_succeeded, result.counts.items_failed) == (97, 3)
    assert len((out / "predictions.csv").read_text().splitlines()) == 97
    assert errors(out) == (
        f"mini-batch 0 ({src} lines 2-101): 3 of 100 items failed: run() returned 97 rows: line 5, line 9, line 12; "
        "the entry script's own messages are in logs/worker0.log\n"
    )
    assert [(r["items"], r["succeeded"], r["failed"], r["status"]) for r in processed(out)] == [("100", "97", "3", "SUCCEEDED")]


def test_batch_run_poison_rows_threshold_0_fails_with_no_output(tmp_path, trained_model_dir):
    src = loans_csv(tmp_path / "in.csv", 100, POISON)
    result, out = job(tmp_path, trained_model_dir, src, error_threshold=0)
    assert result.status == "FAILED"
    assert result.reason == "error_threshold exceeded: 3 items failed, more than the 0 allowed (amlops:batch.errorThreshold; -1 ignores all failures)"
    assert not (out / "predictions.csv").exists() and hidden(out) == []
    with pytest.raises(BatchJobFailed) as err:
        result.raise_for_status()
    assert str(err.value) == f"batch job failed: {result.reason}; see {out}/errors.log"


@pytest.mark.parametrize("threshold, status", [(3, "SUCCEEDED"), (2, "FAILED")])
def test_batch_run_poison_rows_threshold_n_allows_exactly_n(tmp_path, trained_model_dir, threshold, status):
    src = loans_csv(tmp_path / "in.csv", 100, POISON)
    result, out = job(tmp_path, trained_model_dir, src, error_threshold=threshold)
    assert result.status == status
    assert (out / "predictions.csv").exists() == (status == "SUCCEEDED")


def test_batch_run_hung_run_killed_at_timeout_then_retried(tmp_path, trained_model_dir):
    entry = script(tmp_path, ONCE + "def run(mb):\n    if once('hung'):\n        time.sleep(600)\n    return mb\n")
    src = loans_csv(tmp_path / "in.csv", 3)
    result, out = job(tmp_path, trained_model_dir, src, entry, timeout=1.0, max_retries=2,
                      environment_variables={"MARKS": str(tmp_path)})
    assert result.status == "SUCCEEDED"
    assert (result.counts.timeouts, result.counts.retries, result.counts.items_succeeded) == (1, 1, 3)
    assert [(r["attempts"], r["status"]) for r in processed(out)] == [("2", "SUCCEEDED")]
    first = errors(out).splitlines()[0]
    assert re.fullmatch(
        rf"mini-batch 0 \({re.escape(str(src))} lines 2-4\) attempt 1/3: RUN_TIMEOUT in process \d+ after 1\.\d\d s: "
        r"run\(\) did not return within retry_settings\.timeout=1 s; worker killed and replaced; retrying", first
    ), first
    assert len((out / "predictions.csv").read_text().splitlines()) == 3


def test_batch_run_always_hung_fails_mini_batch_after_retries(tmp_path, trained_model_dir):
    entry = script(tmp_path, "def run(mb):\n    time.sleep(600)\n")
    src = loans_csv(tmp_path / "in.csv", 3)
    result, out = job(tmp_path, trained_model_dir, src, entry, timeout=1.0, max_retries=1)
    assert result.status == "SUCCEEDED"  # both thresholds are -1: failures are counted, not fatal
    assert (result.counts.timeouts, result.counts.mini_batches_failed, result.counts.items_failed) == (2, 1, 3)
    assert [(r["items"], r["failed"], r["attempts"], r["status"]) for r in processed(out)] == [("3", "3", "2", "RUN_TIMEOUT")]
    assert errors(out).splitlines()[-1] == f"mini-batch 0 ({src} lines 2-4): RUN_TIMEOUT: all 3 items failed"
    assert (out / "predictions.csv").read_text() == ""


def test_batch_run_mini_batch_error_threshold_0_fails_on_first_failed_mini_batch(tmp_path, trained_model_dir):
    entry = script(tmp_path, "def run(mb):\n    raise ValueError('boom')\n")
    src = loans_csv(tmp_path / "in.csv", 3)
    result, out = job(tmp_path, trained_model_dir, src, entry, max_retries=0, mini_batch_error_threshold=0)
    assert result.status == "FAILED"
    assert result.reason == (
        "mini_batch_error_threshold exceeded: 1 mini-batches failed, more than the 0 allowed "
        "(amlops:batch.miniBatchErrorThreshold; -1 ignores all failures)"
    )
    assert not (out / "predictions.csv").exists() and hidden(out) == []


def test_batch_run_killed_worker_replaced_and_mini_batch_retried(tmp_path, trained_model_dir):
    entry = script(tmp_path, ONCE + "def run(mb):\n    if once('die'):\n        os.kill(os.getpid(), signal.SIGKILL)\n    return mb\n")
    src = loans_csv(tmp_path / "in.csv", 3)
    result, out = job(tmp_path, trained_model_dir, src, entry, max_retries=1, max_concurrency_per_instance=1,
                      environment_variables={"MARKS": str(tmp_path)})
    assert result.status == "SUCCEEDED"
    assert (result.counts.process_deaths, result.counts.items_succeeded) == (1, 3)
    died, retried = (int(m) for m in re.findall(r"in process (\d+)", errors(out))), int(processed(out)[0]["process"])
    assert next(died) != retried
    assert "attempt 1/2: PROCESS_DIED in process" in errors(out)
    assert "worker exit code -9; retrying" in errors(out)
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["worker0.log"]


def test_batch_run_run_exception_retried_then_counted_with_trace(tmp_path, trained_model_dir):
    entry = script(tmp_path, "def run(mb):\n    if (mb['age'] == 99).any():\n        raise ValueError('boom: age 99')\n    return mb\n")
    src = loans_csv(tmp_path / "in.csv", 300, {250: "5000,1,99"})
    result, out = job(tmp_path, trained_model_dir, src, entry, mini_batch_size=1024, max_retries=1)
    rows = processed(out)
    bad = [r for r in rows if r["status"] != "SUCCEEDED"]
    assert [(r["status"], r["attempts"]) for r in bad] == [("RUN_EXCEPTION", "2")]
    assert "lines " in bad[0]["source"] and int(bad[0]["source"].split("lines ")[1].split("-")[0]) <= 250
    log = errors(out)
    assert log.count("Traceback (most recent call last)") == 2
    assert log.count("ValueError: boom: age 99") == 4  # message line and trace, per attempt
    output_lines = len((out / "predictions.csv").read_text().splitlines())
    assert output_lines + result.counts.items_failed == 300
    assert result.counts.items_failed == int(bad[0]["items"])


def test_batch_run_malformed_csv_names_file_and_line_without_retry(tmp_path, trained_model_dir):
    src = loans_csv(tmp_path / "bad.csv", 10, {7: "1,2,3,4"})
    result, out = job(tmp_path, trained_model_dir, src, max_retries=3)
    assert [(r["status"], r["attempts"], r["failed"]) for r in processed(out)] == [("INPUT_ERROR", "1", "10")]
    first = errors(out).splitlines()[0]
    assert first.endswith(f": {src}: line 7: Expected 3 columns, got 4: 1,2,3,4; giving up"), first
    assert result.first_errors[0] == first


def test_batch_run_not_parquet_fails_before_any_work(tmp_path, trained_model_dir):
    src = tmp_path / "x.parquet"
    src.write_text("income,credit_cards,age\n1,2,3\n")
    with pytest.raises(DataError) as err:
        job(tmp_path, trained_model_dir, src)
    assert str(err.value).startswith(f"{src}: not a readable Parquet file: ")
    assert not (tmp_path / "out").exists()


def test_batch_run_folder_with_other_files_refused(tmp_path, trained_model_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    loans_csv(folder / "a.csv", 3)
    (folder / "notes.txt").write_text("hi")
    with pytest.raises(DataError) as err:
        job(tmp_path, trained_model_dir, folder)
    assert str(err.value) == (
        f"{folder / 'notes.txt'}: not a CSV or Parquet file; tabular input takes .csv and .parquet files "
        "(use --mode files to hand whole files to the entry script)"
    )


def test_batch_run_csv_without_header_names_the_file(tmp_path, trained_model_dir):
    src = tmp_path / "empty.csv"
    src.write_text("\n")
    with pytest.raises(DataError) as err:
        job(tmp_path, trained_model_dir, src)
    assert str(err.value) == f"{src}: line 1: empty; a CSV needs a header line naming its columns"


def test_batch_run_init_failure_stops_the_job_with_its_trace(tmp_path, trained_model_dir):
    entry = tmp_path / "bad_init.py"
    entry.write_text("def init():\n    raise RuntimeError('no model here')\ndef run(mb):\n    return mb\n")
    src = loans_csv(tmp_path / "in.csv", 3)
    with pytest.raises(EntryScriptFailed) as err:
        job(tmp_path, trained_model_dir, src, entry)
    out = tmp_path / "out"
    assert str(err.value) == f"bad_init.py: init() failed: RuntimeError: no model here; nothing was scored (stack trace in {out}/errors.log)"
    assert "raise RuntimeError('no model here')" in errors(out)
    assert not (out / "predictions.csv").exists() and hidden(out) == []


def test_batch_run_script_without_run_refused(tmp_path, trained_model_dir):
    entry = tmp_path / "no_run.py"
    entry.write_text("def init():\n    pass\n")
    with pytest.raises(EntryScriptFailed) as err:
        job(tmp_path, trained_model_dir, loans_csv(tmp_path / "in.csv", 3), entry)
    assert str(err.value) == (
        "no_run.py: defines no run(); Azure calls init() once and run(mini_batch) per mini-batch; "
        f"nothing was scored (stack trace in {tmp_path / 'out'}/errors.log)"
    )
