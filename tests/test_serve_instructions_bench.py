"""The instruction-count benchmark's parts without valgrind: the in-process harness answers 200s with a
worker's environment for each app, and callgrind's count is read from its stderr."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks.serving import instructions

pytestmark = pytest.mark.slow


def test_serve_instructions_bench_harness_serves_each_app_with_a_workers_environment(state, tmp_path):
    worker, key = instructions.worker_env(tmp_path)
    assert worker["AZUREML_ENTRY_SCRIPT"] == "score.py" and key
    for name in instructions.APPS:
        env = instructions.app_env(name, worker, key)
        assert ("AMLOPS_SERVE_TELEMETRY_FILE" in env) is (name.startswith("(3) ")), name
        done = subprocess.run([sys.executable, "-m", "benchmarks.serving.inproc", instructions.APPS[name][0], "3"],
                              env=env, cwd=instructions.REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"


def test_serve_instructions_bench_reads_callgrinds_count_per_request():
    stderr = "==12== Events    : Ir\n==12== Collected : 469,775,501\n==12==\n==12== I   refs:      469,775,501\n"
    assert instructions.instructions(stderr, 200) == 2_348_877
    with pytest.raises(RuntimeError, match="callgrind printed no count"):
        instructions.instructions("valgrind: command not found", 200)
