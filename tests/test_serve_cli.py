"""The CLI: `amlops serve`, `amlops invoke`, `amlops endpoint keys|logs|swagger`, run as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from amlops.serving.keys import keys_path
from cli_support import run_cli

CLI = [sys.executable, "-c", "from amlops.cli import main; main()"]


def amlops(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250", **(env_extra or {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env=env)


def test_endpoint_keys_creates_two_keys_once_with_0600(state):
    first = amlops("endpoint", "keys", "--stack", "dev")
    assert first.returncode == 0, first.stderr
    path = keys_path("loans-dev-online")
    stored = json.loads(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stored["primary"] in first.stdout and stored["secondary"] in first.stdout
    assert len(stored["primary"]) == 43 and stored["primary"] != stored["secondary"]
    again = amlops("endpoint", "keys", "--stack", "dev")
    assert json.loads(path.read_text()) == stored and again.returncode == 0


def test_endpoint_keys_regenerate_secondary_keeps_primary(state):
    amlops("endpoint", "keys")
    before = json.loads(keys_path("loans-dev-online").read_text())
    out = amlops("endpoint", "keys", "--regenerate", "secondary")
    after = json.loads(keys_path("loans-dev-online").read_text())
    assert out.returncode == 0, out.stderr
    assert after["primary"] == before["primary"] and after["secondary"] != before["secondary"]
    assert "regenerated the secondary key; a running `amlops serve` accepts it within a second" in out.stdout


def test_endpoint_keys_regenerate_unknown_key_exits_2(state):
    out = amlops("endpoint", "keys", "--regenerate", "tertiary")
    assert (out.returncode, out.stderr.strip()) == (2, "error: --regenerate takes primary or secondary, got 'tertiary'")


def test_invoke_without_a_running_endpoint_says_how_to_start_one(state):
    out = amlops("invoke", "--stack", "dev", "--data", '{"data": [[2000, 2, 45]]}')
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "error: no local endpoint 'loans-dev-online' is running; start one with `amlops serve --stack dev` "
        "or pass --url SCORING_URI --key KEY"
    )


def test_invoke_data_that_is_not_json_exits_2(state):
    out = amlops("invoke", "--data", "{data: 1}")
    assert (out.returncode, out.stderr.strip()) == (
        2, "error: --data: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )


def test_invoke_needs_exactly_one_of_data_and_file(state, tmp_path):
    body = tmp_path / "body.json"
    body.write_text("{}")
    out = amlops("invoke", "--data", "{}", "--file", str(body))
    assert (out.returncode, out.stderr.strip()) == (2, "error: pass exactly one of --data JSON or --file F")


def test_endpoint_logs_without_telemetry_says_what_to_do(state):
    out = amlops("endpoint", "logs", "--stack", "dev")
    path = state / "endpoints" / "loans-dev-online" / "telemetry.jsonl"
    assert (out.returncode, out.stderr.strip()) == (
        2, f"error: no telemetry for loans-dev-online yet ({path}); serve it with `amlops serve --stack dev` and send a request"
    )


def test_endpoint_logs_shows_the_last_requests_and_their_log_lines(state):
    path = state / "endpoints" / "loans-dev-online" / "telemetry.jsonl"
    path.parent.mkdir(parents=True)
    lines = [
        {"kind": "span", "time": f"2026-01-01T10:00:0{i}.000000+00:00", "name": "POST /score", "duration_ms": 1.5 + i,
         "attributes": {"request.id": f"rid-{i}", "http.response.status_code": 200 if i else 400}}
        for i in range(3)
    ]
    lines.append({"kind": "log", "time": "2026-01-01T10:00:00.100000+00:00", "severity": "INFO", "body": "rejected: data[0]: bad", "request_id": "rid-0"})
    path.write_text("".join(json.dumps(r) + "\n" for r in lines) + "not json, a torn line\n")
    out = amlops("endpoint", "logs", "--tail", "2")
    assert out.returncode == 0, out.stderr
    assert "rid-1" in out.stdout and "rid-2" in out.stdout and "rid-0" not in out.stdout
    assert "10:00:01.000 │ POST /score │    200 │ 2.50 │ rid-1" in out.stdout
    only = amlops("endpoint", "logs", "--request-id", "rid-0")
    assert "10:00:00.000 │ POST /score │    400 │ 1.50 │ rid-0" in only.stdout
    assert "10:00:00.100 INFO  [rid-0] rejected: data[0]: bad" in only.stdout


def test_endpoint_swagger_without_a_registered_model_names_the_fix(state):
    out = amlops("endpoint", "swagger", "--stack", "dev")
    assert out.returncode == 1 and "model 'chapter12-loans' is not registered at" in out.stderr, out.stderr


@pytest.mark.slow
def test_serve_invoke_logs_and_sigterm_end_to_end(state, trained_model_dir):
    from amlops.registry import Registry

    assert Registry().register("chapter12-loans", trained_model_dir).registered.version == 1
    env = {**os.environ, "COLUMNS": "250", "OTEL_BSP_SCHEDULE_DELAY": "100"}
    server = subprocess.Popen([*CLI, "serve", "--stack", "dev", "--port", "0", "--no-logs"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = server.stdout.readline()
        assert first.startswith("serving chapter12-loans:1 as loans-dev-online/blue at http://127.0.0.1:"), first or server.stderr.read()
        answer = amlops("invoke", "--stack", "dev", "--data", '{"data": [[2000, 2, 45], [9000, 1, 60]]}')
        assert answer.returncode == 0, answer.stderr
        assert json.loads(answer.stdout[: answer.stdout.rindex("}") + 1]) == {"predict": [0, 1]}
        refused = amlops("invoke", "--stack", "dev", "--data", '{"data": [[2000, 2]]}')
        assert refused.returncode == 1
        assert refused.stderr.strip().endswith("/score answered 400: data[0]: expected 3 values (income, credit_cards, age), got 2")
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert out.strip().splitlines()[-1] == "stopped loans-dev-online (gunicorn exit code 0)"
    assert not (state / "endpoints" / "loans-dev-online" / "running.json").exists()
    logs = amlops("endpoint", "logs")
    assert logs.stdout.count("POST /score") == 2 and "rejected: data[0]: expected 3 values" in logs.stdout


def test_invoke_file_that_is_not_utf8_exits_2(state, tmp_path):
    body = tmp_path / "body.json"
    body.write_bytes(b'{"data": [["caf\xe9", 2, 45]]}')
    out = amlops("invoke", "--file", str(body))
    assert (out.returncode, out.stderr.strip()) == (
        2, f"error: --file {body}: not UTF-8 text (byte 0xe9 at offset 15); a JSON body is UTF-8: re-save the file as UTF-8"
    )


@pytest.fixture
def fake_local_endpoint(state):
    """A scoring server on loopback recorded as the running dev endpoint; it answers 200 only to the primary key."""
    from amlops.serving import keys, running
    from amlops.stackfile import load_stack

    name = load_stack("dev").online.endpoint_name
    primary = keys.load_or_create(name)[0].primary
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers.get("Authorization"))
            ok = self.headers.get("Authorization") == f"Bearer {primary}"
            body = json.dumps({"predict": [0]} if ok else {"message": "key required"}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    running.record(name, running.Running(f"http://127.0.0.1:{server.server_port}", os.getpid(), "blue", "chapter12-loans:1"))
    try:
        yield server.server_port, seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_invoke_url_of_the_local_endpoint_sends_its_key(fake_local_endpoint, capsys, monkeypatch, host):
    port, seen = fake_local_endpoint
    code, out, err = run_cli(capsys, monkeypatch, "invoke", "--url", f"http://{host}:{port}/score", "--data", '{"data": [[2000, 2, 45]]}')
    assert (code, err) == (0, "")
    assert out.startswith('{\n  "predict": [\n    0\n  ]\n}\n200 in ')
    assert len(seen) == 1 and seen[0].startswith("Bearer ")


def test_invoke_url_of_another_port_sends_no_local_key(fake_local_endpoint, capsys, monkeypatch):
    port, seen = fake_local_endpoint
    other = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    other.server_close()  # a port nothing listens on: the call fails, but only after deciding the key
    code, _, err = run_cli(capsys, monkeypatch, "invoke", "--url", f"http://127.0.0.1:{other.server_port}/score", "--data", "{}")
    assert code == 1 and err.startswith(f"error: cannot reach http://127.0.0.1:{other.server_port}/score")
    assert seen == []


def test_endpoint_logs_prints_request_ids_and_log_lines_literally_and_whole_at_80_columns(state, capsys, monkeypatch):
    path = state / "endpoints" / "loans-dev-online" / "telemetry.jsonl"
    path.parent.mkdir(parents=True)
    rid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    lines = [
        {"kind": "span", "time": "2026-01-01T10:00:00.000000+00:00", "name": "POST /score", "duration_ms": 1.5,
         "attributes": {"request.id": rid, "http.response.status_code": 200}},
        {"kind": "span", "time": "2026-01-01T10:00:01.000000+00:00", "name": "POST /score", "duration_ms": 0.5,
         "attributes": {"request.id": "[/x]", "http.response.status_code": 401}},
        {"kind": "log", "time": "2026-01-01T10:00:01.100000+00:00", "severity": "INFO", "body": "[bold]secure: v1:abc:def[/]",
         "request_id": "[/x]"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run_cli(capsys, monkeypatch, "endpoint", "logs", "--stack", "dev")
    assert (code, err) == (0, "")
    rows = [line for line in out.splitlines() if "│" in line]
    assert rows and all(len(line) <= 80 for line in rows), out
    assert any(line.endswith(f"│ {rid} │") for line in rows), out
    assert any(line.endswith("│ [/x]                                 │") for line in rows), out
    assert out.splitlines()[-1] == "10:00:01.100 INFO  [[/x]] [bold]secure: v1:abc:def[/]"
