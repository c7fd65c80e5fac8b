"""`amlops monitor run` through the CLI on data with a known answer: the dev stack's model served with its data
collector, sent loans drawn from the training distribution (no breach, exit 0) or with one feature shifted (a breach
naming exactly that feature, exit 1); the reference is the training data the registered version's lineage records."""

from __future__ import annotations

import re

import httpx
import pytest

from amlops import data as data_mod
from amlops.registry import Registry
from amlops.serving.endpoint import LocalEndpoint
from amlops.stackfile import load_stack
from cli_support import run_cli

ROWS = 300
FEATURES = list(data_mod.FEATURES)


def serve_and_send(trained_model_dir, frame) -> None:
    """Register the trained model as dev's pinned version, serve it with dev's data collector, score `frame` row by row."""
    cfg = load_stack("dev")
    registered = Registry(cfg.registry.tracking_uri).register(cfg.model.name, trained_model_dir).registered
    assert registered is not None and registered.version == cfg.model.version
    collector = cfg.online.deployments["blue"].data_collector
    with LocalEndpoint(cfg, trained_model_dir, workers=1, auth=False, telemetry=False, data_collector=collector,
                       target_column=cfg.model.monitor.target_column) as ep, httpx.Client(timeout=30) as client:
        for row in frame[FEATURES].to_dict("records"):
            client.post(ep.scoring_url, json={"data": [row]}).raise_for_status()
        assert ep.collector.wait_for({"model_inputs": len(frame), "model_outputs": len(frame)}, timeout=30)


def table_rows(out: str) -> dict[tuple[str, str, str], str]:
    """(signal, feature, metric) → ok | BREACH, read from the printed table."""
    found = {}
    for line in out.splitlines():
        cells = line.split()
        if len(cells) == 7 and cells[6] in ("ok", "BREACH"):
            found[cells[0], cells[1], cells[3]] = cells[6]
    return found


def test_monitor_run_in_distribution_traffic_breaches_nothing(state, trained_model_dir, capsys, monkeypatch):
    serve_and_send(trained_model_dir, data_mod.generate_loans(ROWS, 7))
    code, out, err = run_cli(capsys, monkeypatch, "monitor", "run", "--stack", "dev", "--since", "1h")
    assert code == 0, out + err
    rows = table_rows(out)
    assert {f for _, f, _ in rows} == {*FEATURES, "approved_loan"} and set(rows.values()) == {"ok"}, out
    assert re.search(rf"monitor loans-dev-online/blue \(chapter12-loans:1\): {ROWS} collected rows against 500 training rows", out), out
    assert "no breach: " in out
    plot = state / "monitor" / "dev" / "monitor-loans-dev-online-blue.png"
    assert f"plot: {plot}" in out and plot.stat().st_size > 10_000


@pytest.mark.parametrize(("feature", "shift"), [("income", lambda f: f.assign(income=f.income * 2)), ("age", lambda f: f.assign(age=f.age + 25))])
def test_monitor_run_one_shifted_feature_breaches_exactly_that_feature(state, trained_model_dir, capsys, monkeypatch, tmp_path, feature, shift):
    serve_and_send(trained_model_dir, shift(data_mod.generate_loans(ROWS, 7)))
    code, out, err = run_cli(capsys, monkeypatch, "monitor", "run", "--stack", "dev", "--endpoint", "loans-dev-online", "--plot-dir", str(tmp_path))
    assert code == 1, out + err
    breached = {f for (signal, f, _), v in table_rows(out).items() if v == "BREACH" and signal != "prediction_drift"}
    assert breached == {feature}, out
    [summary] = [line for line in out.splitlines() if line.startswith("breach: ")]
    named = {part.split(" (")[0] for part in summary.removeprefix("breach: ").split("; ")}
    assert named - {"approved_loan"} == {feature}, summary
    assert (tmp_path / "monitor-loans-dev-online-blue.png").is_file()


def test_monitor_run_errors_name_what_is_missing(state, trained_model_dir, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "monitor", "run", "--stack", "dev", "--since", "yesterday")
    assert (code, err.strip()) == (2, "error: --since must be an ISO 8601 time (2026-01-31T08:00) or an age (30m, 6h, 2d), got 'yesterday'")
    code, out, err = run_cli(capsys, monkeypatch, "monitor", "run", "--stack", "dev", "--endpoint", "nope")
    assert code == 2 and "--endpoint 'nope' names no endpoint of the stack" in err, err
    Registry(load_stack("dev").registry.tracking_uri).register("chapter12-loans", trained_model_dir)
    code, out, err = run_cli(capsys, monkeypatch, "monitor", "run", "--stack", "dev")
    assert code == 2 and "no collected data for loans-dev-online/blue" in err, err
