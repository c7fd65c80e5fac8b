"""The cyclic collector paused while `amlops batch run` imports, and back on for the job, its workers and the caller."""

from __future__ import annotations

import gc
import sys

import pytest

from amlops import gcpause
from amlops.cli import main
from batch_support import script


@pytest.fixture
def collector():
    """Leave the collector as the test found it, even when an assertion fails mid-pause."""
    was = gc.isenabled()
    yield
    gcpause.resume()
    gc.unfreeze()
    (gc.enable if was else gc.disable)()


def test_gcpause_pause_then_resume_freezes_what_is_alive_and_restarts_collections(collector):
    gc.unfreeze()
    gcpause.pause()
    assert not gc.isenabled()
    alive = [object() for _ in range(10)]
    gcpause.resume()
    assert gc.isenabled() and gc.get_freeze_count() > 0 and alive
    frozen = gc.get_freeze_count()
    gcpause.resume()  # a second resume changes nothing
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_gcpause_resume_leaves_a_collector_it_did_not_stop_alone(collector):
    gc.disable()
    gc.unfreeze()
    gcpause.pause()
    gcpause.resume()
    assert not gc.isenabled() and gc.get_freeze_count() == 0


def _batch_run(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["amlops", "batch", "run", "--no-progress", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_batch_run_workers_collect_and_the_command_gives_the_collector_back(monkeypatch, capsys, collector, state, trained_model_dir, tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "a.csv").write_text("application_id\nA1\n")
    entry = script(tmp_path, "import gc\ndef run(mini_batch):\n    return [f'{p} {gc.isenabled()}' for p in mini_batch]\n")
    out = tmp_path / "out"
    seen, real = [], gcpause.resume
    monkeypatch.setattr(gcpause, "resume", lambda: (seen.append(gc.isenabled()), real())[1])
    code, err = _batch_run(monkeypatch, capsys, "--input", str(parts), "--model-dir", str(trained_model_dir), "--script", str(entry),
                           "--output", str(out))
    assert code == 0, err
    assert (out / "predictions.csv").read_text().split() == [str(parts / "a.csv"), "True"]  # the worker's collector runs
    assert seen[0] is False and gc.isenabled()  # paused until run_job had imported the workers' modules
    code, err = _batch_run(monkeypatch, capsys, "--input", str(tmp_path / "missing"), "--model-dir", str(trained_model_dir))
    assert code == 2 and gc.isenabled(), err  # a command that stops early gives it back too


def test_serve_master_imports_with_the_collector_paused_and_forks_workers_with_it_running():
    """gunicorn's on_starting hook (amlops.serving.preload) imports the workers' libraries paused, then freezes
    them and restarts the collector, so the workers it forks next collect (their own objects only)."""
    import json
    import subprocess

    probe = (
        "import gc, json\n"
        "from amlops import gcpause\n"
        "from amlops.serving import preload\n"
        "seen = []\n"
        "real = gcpause.resume\n"
        "gcpause.resume = lambda: (seen.append(gc.isenabled()), real())[1]\n"
        "preload.on_starting(None)\n"
        "print(json.dumps({'paused': seen, 'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count()}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120)
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["paused"] == [False] and state["enabled"] and state["frozen"] > 100_000, state
