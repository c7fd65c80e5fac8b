"""The batch instruction-count benchmark's parts without valgrind: each case scores part files in process as the
timed run does (the worker's output is the rows `amlops batch run` writes), and callgrind's count is read per part."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks.batch import instructions

pytestmark = pytest.mark.slow

PARTS = ["application_id,income,credit_cards,age\nA1,5000.5,1,30\nA2,300,0,41\n",
         '"application_id","income","credit_cards","age"\nA3,7000,2,52\n']


@pytest.mark.parametrize("case", sorted(instructions.CASES))
def test_batch_instructions_bench_child_scores_every_part(case, trained_model_dir, tmp_path):
    for n, text in enumerate(PARTS):
        (tmp_path / f"part-{n:05d}.csv").write_text(text)
    done = subprocess.run([sys.executable, "-m", "benchmarks.batch.instructions", "--child", case, str(trained_model_dir),
                           str(tmp_path), "1"], cwd=instructions.REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_batch_instructions_bench_worker_case_writes_what_a_job_writes(trained_model_dir, tmp_path, monkeypatch):
    """The worker case is `amlops batch run`'s per-mini-batch work: its rows are the job's output rows."""
    import os

    monkeypatch.chdir(instructions.REPO)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # the case sets the worker's variables
    paths = []
    for n, text in enumerate(PARTS):
        paths.append(tmp_path / f"part-{n:05d}.csv")
        paths[-1].write_text(text)
    one = instructions._worker(trained_model_dir)
    done = [one(str(p)) for p in paths]
    assert [d.rows.records for d in done] == [2, 1] and [d.rows_in for d in done] == [2, 1]


def test_batch_instructions_bench_reads_callgrinds_count_per_part():
    stderr = "==12== Events    : Ir\n==12== Collected : 314,454,822\n==12==\n"
    assert instructions.per_part(stderr, 4) == 78_613_705
    with pytest.raises(RuntimeError, match="callgrind printed no count"):
        instructions.per_part("valgrind: command not found", 4)
