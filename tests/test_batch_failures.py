"""Nothing is lost: bad files, hung run(), dead workers, exceptions, errorThreshold, a job with no success."""

from __future__ import annotations

import re

import pytest

from amlops.batching import BatchJobFailed, EntryScriptFailed
from batch_support import errors, hidden, job, parts, processed, script

BAD_PART = {1: {3: "A9,abc,1,30"}}
"""Part 1 has an income that is not a number on line 3."""


def test_batch_run_bad_file_threshold_minus1_counts_it_and_names_the_line(tmp_path, trained_model_dir):
    folder = parts(tmp_path / "in", 3, 4, bad=BAD_PART)
    result, out, reports = job(tmp_path, trained_model_dir, folder, mini_batch_size=1, max_concurrency_per_instance=1)
    assert result.status == "SUCCEEDED"
    assert (result.counts.items_succeeded, result.counts.items_failed, result.counts.output_lines) == (2, 1, 8)
    assert len((out / "predictions.csv").read_text().splitlines()) == 8
    assert errors(reports) == (
        f"mini-batch 1 ({folder / 'part-00001.csv'}): 1 of 1 items failed: run() returned 0 elements: "
        f"{folder / 'part-00001.csv'}; the entry script's own messages are in logs/worker0.log\n"
    )
    log = (reports / "logs" / "worker0.log").read_text()
    assert f"{folder / 'part-00001.csv'}: line 3: column income must be a number, got 'abc' (1 such row(s) in the file)" in log


def test_batch_run_empty_file_among_good_ones_counts_against_error_threshold(tmp_path, trained_model_dir):
    folder = parts(tmp_path / "in", 2, 3)
    (folder / "part-00009.csv").write_bytes(b"")
    ok, _, _ = job(tmp_path / "a", trained_model_dir, folder, mini_batch_size=1, error_threshold=1)
    stopped, out, _ = job(tmp_path / "b", trained_model_dir, folder, mini_batch_size=1, error_threshold=0)
    assert (ok.status, ok.counts.items_failed, ok.counts.output_lines) == ("SUCCEEDED", 1, 6)
    assert stopped.status == "FAILED"
    assert stopped.reason == "error_threshold exceeded: 1 files failed, more than the 0 allowed (amlops:batch.errorThreshold; -1 ignores all failures)"
    assert not (out / "predictions.csv").exists()


def test_batch_run_threshold_0_fails_with_no_output_and_no_partial_file(tmp_path, trained_model_dir):
    folder = parts(tmp_path / "in", 3, 4, bad=BAD_PART)
    result, out, reports = job(tmp_path, trained_model_dir, folder, mini_batch_size=1, error_threshold=0)
    assert result.status == "FAILED"
    assert not (out / "predictions.csv").exists() and hidden(out, reports) == []
    with pytest.raises(BatchJobFailed) as err:
        result.raise_for_status()
    assert str(err.value) == f"batch job failed: {result.reason}; see {reports}/errors.log"


@pytest.mark.parametrize("threshold, status", [(1, "SUCCEEDED"), (0, "FAILED")])
def test_batch_run_threshold_n_allows_exactly_n_failed_files(tmp_path, trained_model_dir, threshold, status):
    result, out, _ = job(tmp_path, trained_model_dir, parts(tmp_path / "in", 3, 4, bad=BAD_PART), mini_batch_size=1, error_threshold=threshold)
    assert result.status == status
    assert (out / "predictions.csv").exists() == (status == "SUCCEEDED")


def test_batch_run_no_file_succeeded_fails_whatever_the_threshold(tmp_path, trained_model_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("wrong,columns\n1,2\n")
    result, out, _ = job(tmp_path, trained_model_dir, folder, error_threshold=-1)
    assert (result.status, result.reason) == (
        "FAILED", "no file succeeded: all 1 failed (Azure fails such a job whatever errorThreshold says)"
    )
    assert not (out / "predictions.csv").exists()


def test_batch_run_hung_run_killed_at_timeout_then_retried(tmp_path, trained_model_dir):
    entry = script(tmp_path, "def run(mb):\n    if once('hung'):\n        time.sleep(600)\n    return mb\n")
    folder = parts(tmp_path / "in", 1, 3)
    result, out, reports = job(tmp_path, trained_model_dir, folder, entry, timeout=1.0, max_retries=2,
                               environment_variables={"MARKS": str(tmp_path)})
    assert result.status == "SUCCEEDED"
    assert (result.counts.timeouts, result.counts.retries, result.counts.items_succeeded) == (1, 1, 1)
    assert [(r["attempts"], r["status"]) for r in processed(reports)] == [("2", "SUCCEEDED")]
    first = errors(reports).splitlines()[0]
    assert re.fullmatch(
        rf"mini-batch 0 \({re.escape(str(folder / 'part-00000.csv'))}\) attempt 1/3: RUN_TIMEOUT in process \d+ after \d+\.\d\d s: "
        r"run\(\) did not return within retry_settings\.timeout=1 s; worker killed and replaced; retrying", first
    ), first


def test_batch_run_always_hung_fails_its_files_after_the_retries(tmp_path, trained_model_dir):
    entry = script(tmp_path, "def run(mb):\n    if mb[0].endswith('0.csv'):\n        time.sleep(600)\n    return mb\n")
    folder = parts(tmp_path / "in", 2, 1)
    result, out, reports = job(tmp_path, trained_model_dir, folder, entry, timeout=1.0, max_retries=1, mini_batch_size=1)
    assert result.status == "SUCCEEDED"  # errorThreshold -1: failures are counted, not fatal
    assert (result.counts.timeouts, result.counts.mini_batches_failed, result.counts.items_failed) == (2, 1, 1)
    assert [(r["items"], r["failed"], r["attempts"], r["status"]) for r in processed(reports)] == [
        ("1", "1", "2", "RUN_TIMEOUT"), ("1", "0", "1", "SUCCEEDED")
    ]
    assert errors(reports).splitlines()[-1] == f"mini-batch 0 ({folder / 'part-00000.csv'}): RUN_TIMEOUT: all 1 items failed"


def test_batch_run_killed_worker_replaced_and_mini_batch_retried(tmp_path, trained_model_dir):
    entry = script(tmp_path, "def run(mb):\n    if once('die'):\n        os.kill(os.getpid(), signal.SIGKILL)\n    return mb\n")
    result, out, reports = job(tmp_path, trained_model_dir, parts(tmp_path / "in", 1, 3), entry, max_retries=1,
                               max_concurrency_per_instance=1, environment_variables={"MARKS": str(tmp_path)})
    assert result.status == "SUCCEEDED"
    assert (result.counts.process_deaths, result.counts.items_succeeded) == (1, 1)
    died, retried = int(re.findall(r"in process (\d+)", errors(reports))[0]), int(processed(reports)[0]["process"])
    assert died != retried
    assert "attempt 1/2: PROCESS_DIED in process" in errors(reports) and "worker exit code -9; retrying" in errors(reports)


def test_batch_run_run_exception_retried_then_its_files_counted_with_trace(tmp_path, trained_model_dir):
    entry = script(tmp_path, "def run(mb):\n    if any(p.endswith('1.csv') for p in mb):\n        raise ValueError('boom: part 1')\n    return mb\n")
    folder = parts(tmp_path / "in", 4, 1)
    result, out, reports = job(tmp_path, trained_model_dir, folder, entry, mini_batch_size=2, max_retries=1)
    assert [(r["status"], r["attempts"], r["failed"]) for r in processed(reports)] == [("RUN_EXCEPTION", "2", "2"), ("SUCCEEDED", "1", "0")]
    log = errors(reports)
    assert log.count("Traceback (most recent call last)") == 2
    assert log.count("ValueError: boom: part 1") == 4  # message line and trace, per attempt
    assert (result.counts.items_failed, len((out / "predictions.csv").read_text().splitlines())) == (2, 2)


def test_batch_run_init_failure_stops_the_job_with_its_trace(tmp_path, trained_model_dir):
    entry = tmp_path / "bad_init.py"
    entry.write_text("def init():\n    raise RuntimeError('no model here')\ndef run(mb):\n    return mb\n")
    with pytest.raises(EntryScriptFailed) as err:
        job(tmp_path, trained_model_dir, parts(tmp_path / "in", 1, 1), entry)
    reports = tmp_path / "reports"
    assert str(err.value) == f"bad_init.py: init() failed: RuntimeError: no model here; nothing was scored (stack trace in {reports}/errors.log)"
    assert "raise RuntimeError('no model here')" in errors(reports)
    assert not (tmp_path / "out" / "predictions.csv").exists() and hidden(tmp_path / "out", reports) == []


def test_batch_run_script_without_run_refused(tmp_path, trained_model_dir):
    entry = tmp_path / "no_run.py"
    entry.write_text("def init():\n    pass\n")
    with pytest.raises(EntryScriptFailed) as err:
        job(tmp_path, trained_model_dir, parts(tmp_path / "in", 1, 1), entry)
    assert str(err.value) == (
        "no_run.py: defines no run(); Azure calls init() once and run(mini_batch) per mini-batch; "
        f"nothing was scored (stack trace in {tmp_path / 'reports'}/errors.log)"
    )
