"""`amlops profile` end to end: the stack's deployment served locally, a short stepped load, the report,
the recommendation written to a copy of the stack; and the errors a user sees."""

from __future__ import annotations

import json
import socket
import sys

import pytest

import amlops.cli.profile as profile_cli
from amlops.cli import main
from amlops.registry import Registry
from amlops.stackfile import load_stack
from infra.skus import ONLINE_INSTANCE_TYPES
from profile_support import Behaviour, FakeEndpoint

MIB = 1024 * 1024


def _amlops(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["amlops", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
        sys.exit(0)
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


@pytest.fixture
def registered(state, trained_model_dir):
    """chapter12-loans:1 in a fresh local registry (what the dev stack pins)."""
    Registry().register("chapter12-loans", trained_model_dir)


@pytest.mark.slow
def test_profile_local_endpoint_reports_recommends_and_writes(registered, stacks_copy, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AMLOPS_STACKS_DIR", str(stacks_copy))
    out_dir = tmp_path / "report"
    code, out, err = _amlops(
        monkeypatch, capsys, "profile", "--stack", "dev", "--max-concurrency", "2", "--step-seconds", "3",
        "--step-requests", "150", "--target-rps", "50", "--out", str(out_dir), "--write",
    )
    assert code == 0, err
    report = json.loads((out_dir / "profile.json").read_text())
    assert (report["stack"], report["deployment"], report["local"], report["model"]) == ("dev", "blue", True, "chapter12-loans:1")
    steps = report["profile"]["steps"]
    assert [s["concurrency"] for s in steps] == [1, 2]
    assert report["profile"]["stop_reason"] == "max-concurrency"
    for s in steps:
        assert (s["requests"], s["ok"], s["errors"], s["statuses"]) == (150, 150, 0, {"200": 150})
        assert 0 < s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"] <= s["max_ms"]
        assert s["throughput_rps"] == pytest.approx(150 / s["duration_s"])
        assert s["server_cpu_percent"] > 0
        assert s["server_peak_rss_bytes"] > 50 * MIB  # Python + scikit-learn in each worker
        assert s["server_processes"] == 3  # gunicorn master + the dev stack's 2 workers
    rec = report["recommendation"]
    assert rec["feasible"] is True
    assert (rec["target_rps"], rec["target_source"], rec["slo_p99_ms"], rec["headroom"]) == (50, "--target-rps", 200, 0.3)
    assert rec["instance_type"] in ONLINE_INSTANCE_TYPES
    assert rec["capacity_rps"] >= 50
    peak = max(s["server_peak_rss_bytes"] for s in steps)
    assert rec["memory_request_mib"] == -(-peak * 13 // (10 * MIB))  # ceil(peak × 1.3 in MiB)
    assert (out_dir / "profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"recommendation: {rec['verdict']}" in " ".join(out.split())
    blue = load_stack("dev", stacks_copy).online.deployments["blue"]
    written = (blue.instance_type, blue.instance_count, blue.request_settings.max_concurrent_requests_per_instance)
    assert written == (rec["instance_type"], rec["instance_count"], rec["max_concurrent_requests_per_instance"])


def test_profile_unreachable_url_exits_1_without_a_report(tmp_path, monkeypatch, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = _amlops(monkeypatch, capsys, "profile", "--url", f"http://127.0.0.1:{port}/score", "--out", str(tmp_path / "r"))
    assert code == 1
    assert " ".join(err.split()) == (
        f"error: cannot reach http://127.0.0.1:{port}/score: connection refused; start it (`amlops serve --stack S`) "
        "or leave out --url to let `amlops profile` start the stack's deployment itself"
    )
    assert not (tmp_path / "r").exists()


def test_profile_slo_breached_at_concurrency_1_reports_and_exits_1(tmp_path, monkeypatch, capsys):
    with FakeEndpoint(Behaviour(delay_s=0.25)) as ep:
        code, out, err = _amlops(
            monkeypatch, capsys, "profile", "--url", ep.url, "--slo-p99-ms", "100", "--step-requests", "4",
            "--out", str(tmp_path / "r"),
        )
    assert code == 1
    report = json.loads((tmp_path / "r" / "profile.json").read_text())
    assert [s["concurrency"] for s in report["profile"]["steps"]] == [1]
    assert report["profile"]["stop_reason"] == "slo"
    assert report["recommendation"]["feasible"] is False
    p99 = report["profile"]["steps"][0]["p99_ms"]
    message = f"SLO breached already at concurrency 1: p99 {p99:.1f} ms > 100 ms."
    assert report["recommendation"]["verdict"].startswith(message)
    assert " ".join(err.split()).startswith(f"error: {message} More or bigger instances add throughput")
    assert "no recommendation: SLO breached already at concurrency 1" in " ".join(out.split())


def test_profile_bad_requests_file_exits_1_naming_the_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "requests.jsonl"
    path.write_text('{"data": [[1, 2, 3]]}\nnot json\n')
    code, out, err = _amlops(monkeypatch, capsys, "profile", "--requests", str(path), "--url", "http://127.0.0.1:9/score")
    assert code == 1
    assert " ".join(err.split()) == f"error: {path}: line 2, column 1: not valid JSON: Expecting value"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--key", "abc"], "error: --key goes with --url (a local endpoint's key is read from the state folder)"),
        (["--headroom", "0.95"], "error: --headroom must be between 0 and 0.9, got 0.95"),
        (["--max-concurrency", "0"], "error: --max-concurrency must be 1-256, got 0"),
        (["--deployment", "green"], "error: no deployment 'green' in amlops:online.deployments; known: blue"),
    ],
)
def test_profile_misuse_exits_2(args, message, state, monkeypatch, capsys):
    code, out, err = _amlops(monkeypatch, capsys, "profile", *args)
    assert code == 2
    assert " ".join(err.split()) == message
