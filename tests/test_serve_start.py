"""LocalEndpoint's life cycle: a fast failure with the script's own init() error, a port in use,
the request timeout (408), a clean stop that leaves no process behind, no gunicorn left when
start-up is interrupted or the starting process dies, and no shared control socket."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from amlops.serving.endpoint import LocalEndpoint, choose_deployment, parse_model_ref, worker_timeout_s
from amlops.serving.package import package_scoring
from amlops.serving.server import PortInUse, ServerStartError, script_error
from amlops.errors import UsageError
from amlops.stackfile import load_stack

from serve_support import scoring_with, wait_for, with_online

pytestmark = pytest.mark.slow

STUCK_SCRIPT = textwrap.dedent('''
    import threading
    from azureml_inference_server_http.api.aml_request import rawhttp
    from azureml_inference_server_http.api.aml_response import AMLResponse

    NEVER = threading.Event()

    def init():
        pass

    @rawhttp
    def run(request):  # noqa: F811
        if request.get_data() == b"stuck":
            while not NEVER.wait(0.01):  # until the server's request timeout interrupts it
                pass
        return AMLResponse({"done": True}, 200, json_str=True)
''')


def with_request_settings(cfg, **settings):
    """dev's config with blue's request settings changed."""
    dep = cfg.online.deployments["blue"]
    rs = dep.request_settings.model_copy(update=settings)
    deployments = {**cfg.online.deployments, "blue": dep.model_copy(update={"request_settings": rs, "worker_count": 1})}
    return with_online(cfg, cfg.online.model_copy(update={"deployments": deployments}))


def post(ep, body: bytes) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=30)
    try:
        conn.request("POST", "/score", body=body, headers=ep.headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_serve_init_failure_raises_the_scripts_own_error(state, trained_model_dir, tmp_path):
    scoring = scoring_with(tmp_path / "scoring", "def init():\n    raise RuntimeError('cannot load the model: disk on fire')\n")
    ep = LocalEndpoint(load_stack("dev"), trained_model_dir, workers=1, scoring_dir=scoring)
    with pytest.raises(ServerStartError) as err:
        ep.start()
    assert str(err.value) == f"the scoring script failed to start: RuntimeError: cannot load the model: disk on fire (log: {ep.log_path})"
    assert ep.poll() not in (None, 0)  # gunicorn's halt status survives the master's quick exit (amlops.serving.preload)


def test_serve_model_score_py_cannot_load_is_the_packagers_usage_error(state, trained_model_dir, tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "MLmodel").write_text("flavors: {}\n")
    with pytest.raises(UsageError) as packaging:  # what `amlops endpoint swagger` says for it, in this process
        package_scoring(broken, max_rows=100, title="m:1")
    ep = LocalEndpoint(load_stack("dev"), broken, workers=1)  # the package is built by gunicorn's master
    with pytest.raises(UsageError) as served:
        ep.start()
    assert str(served.value) == str(packaging.value)
    assert ep.poll() is not None


def test_serve_new_model_is_packaged_by_the_master_not_this_process(state, trained_model_dir):
    probe = (
        "import sys; from amlops.serving.endpoint import LocalEndpoint; from amlops.stackfile import load_stack; "
        f"ep = LocalEndpoint(load_stack('dev'), {str(trained_model_dir)!r}, workers=1); "
        "heavy = sorted(m for m in ('sklearn', 'pandas', 'skops', 'azureml_inference_server_http') if m in sys.modules); "
        "ep.start(); print(heavy, sorted(p.name for p in ep.app_root.iterdir() if p.suffix == '.json')); ep.stop()"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[] ['swagger.json', 'swagger3.1.json', 'swagger3.json']"


def test_serve_port_in_use_raises_port_in_use(state, trained_model_dir):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        ep = LocalEndpoint(load_stack("dev"), trained_model_dir, port=port)
        with pytest.raises(PortInUse) as err:
            ep.start()
        assert str(err.value) == f"cannot listen on 127.0.0.1:{port}: Address already in use; choose another --port (0 picks a free one)"
        assert ep.pid is None
    finally:
        holder.close()


def test_serve_request_that_never_finishes_answers_408_and_the_worker_survives(state, trained_model_dir, tmp_path):
    scoring = scoring_with(tmp_path / "scoring", STUCK_SCRIPT)
    cfg = with_request_settings(load_stack("dev"), request_timeout_ms=500)
    with LocalEndpoint(cfg, trained_model_dir, scoring_dir=scoring) as ep:
        assert post(ep, b"go") == (200, {"done": True})
        assert post(ep, b"stuck") == (408, {"message": "the request took longer than the deployment's request timeout of 500 ms"})
        assert post(ep, b"go") == (200, {"done": True})


def test_serve_stop_terminates_master_and_workers(state, trained_model_dir):
    ep = LocalEndpoint(load_stack("dev"), trained_model_dir)
    ep.start()
    master = psutil.Process(ep.pid)
    workers = master.children()
    assert len(workers) == 2
    assert ep.stop() == 0
    assert not master.is_running() or master.status() == psutil.STATUS_ZOMBIE
    assert [w.pid for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE] == []


def with_traffic(traffic: dict[str, int]):
    cfg = load_stack("dev")
    blue = cfg.online.deployments["blue"]
    online = cfg.online.model_copy(update={"deployments": {"blue": blue, "green": blue}, "traffic": traffic})
    return with_online(cfg, online)


@pytest.mark.parametrize("traffic,chosen", [({"blue": 10, "green": 90}, "green"), ({"blue": 50, "green": 50}, "blue"), ({}, "blue")])
def test_serve_choose_deployment_takes_the_most_traffic(traffic, chosen):
    assert choose_deployment(with_traffic(traffic)) == chosen


def test_serve_unknown_deployment_is_a_usage_error():
    with pytest.raises(UsageError) as err:
        choose_deployment(load_stack("dev"), "green")
    assert str(err.value) == "no deployment 'green' in amlops:online.deployments; known: blue"


@pytest.mark.parametrize("ref", ["chapter12-loans", "chapter12-loans:0", "chapter12-loans:x", ":3"])
def test_serve_bad_model_ref_is_a_usage_error(ref):
    with pytest.raises(UsageError) as err:
        parse_model_ref(ref)
    assert str(err.value) == f"--model takes NAME:VERSION with a version ≥ 1, e.g. chapter12-loans:1, got {ref!r}"


def test_serve_worker_timeout_is_a_backstop_past_the_request_timeout():
    assert (worker_timeout_s(5000), worker_timeout_s(180000)) == (30, 360)


def test_serve_script_error_reads_the_line_before_the_cause():
    log = "Traceback (most recent call last):\n  File x\nentry_module.Boom: bad thing\n\nThe above exception was the direct cause of the following exception:\n\nTraceback\nUserScriptException: wrapper\n"
    assert (script_error(log), script_error("no traceback here")) == ("Boom: bad thing", None)


HELLO_APP = textwrap.dedent('''
    import os, pathlib, time

    # Start-up blocks while this file exists (a slow init()).
    while pathlib.Path(os.environ["HOLD_FILE"]).exists():
        time.sleep(0.01)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]
''')

STARTER = textwrap.dedent('''
    import json, sys, threading
    from pathlib import Path
    from amlops.serving.server import GunicornServer, GunicornSpec

    server = GunicornServer(GunicornSpec(app="hello_app:app", env={"PYTHONPATH": sys.argv[1]}, workers=2))
    try:
        server.start()
        print(json.dumps({"pid": server.pid, "port": server.port}), flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
''')


@pytest.fixture
def starter(tmp_path):
    """A separate process that starts gunicorn with a tiny app (as `amlops serve` does), and its gunicorn."""
    (tmp_path / "hello_app.py").write_text(HELLO_APP)
    (tmp_path / "starter.py").write_text(STARTER)
    env = {**os.environ, "HOLD_FILE": str(tmp_path / "hold"), "HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    procs = []

    def start(hold: bool = False) -> subprocess.Popen:
        if hold:
            (tmp_path / "hold").touch()
        proc = subprocess.Popen([sys.executable, str(tmp_path / "starter.py"), str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        for child in _children(proc.pid):
            child.kill()
        proc.kill()
        proc.wait()


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _port_free(port: int) -> bool:
    """Nothing listens on the port (connections closed by the server may linger in TIME_WAIT, as for any server)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def test_serve_gunicorn_stops_when_the_starting_process_is_hung_up(starter):
    proc = starter()
    started = json.loads(proc.stdout.readline())
    master = psutil.Process(started["pid"])
    wait_for(lambda: len(master.children()) == 2, "both workers")
    gunicorn = [master, *master.children()]
    proc.send_signal(signal.SIGHUP)  # the terminal closed: Python exits without running any cleanup
    assert proc.wait(30) == -signal.SIGHUP
    wait_for(lambda: all(_gone(p.pid) for p in gunicorn), "gunicorn master and workers gone")
    assert _port_free(started["port"])


def test_serve_ctrl_c_during_start_up_leaves_no_gunicorn(starter, tmp_path):
    proc = starter(hold=True)
    [master] = wait_for(lambda: [p for p in _children(proc.pid) if "gunicorn" in " ".join(p.cmdline())][:1], "gunicorn started")
    wait_for(lambda: len(master.children()) == 2, "both workers importing the app")
    workers = master.children()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    assert proc.stdout.read() == "interrupted\n"
    assert all(_gone(p.pid) for p in (master, *workers))


def test_serve_gunicorn_opens_no_control_socket(starter, tmp_path):
    proc = starter()
    json.loads(proc.stdout.readline())
    found = [str(p) for p in tmp_path.rglob("*.ctl")] + [str(p) for p in tmp_path.rglob("*gunicorn*") if p.is_socket()]
    assert found == []
