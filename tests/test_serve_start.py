"""LocalEndpoint's life cycle: a fast failure with the script's own init() error, a port in use,
the request timeout (408), and a clean stop that leaves no process behind."""

from __future__ import annotations

import http.client
import json
import socket
import textwrap

import psutil
import pytest

from amlops.serving.endpoint import LocalEndpoint, choose_deployment, parse_model_ref, worker_timeout_s
from amlops.serving.server import PortInUse, ServerStartError, script_error
from amlops.errors import UsageError
from amlops.stackfile import load_stack

pytestmark = pytest.mark.slow

SLOW_SCRIPT = textwrap.dedent('''
    import time
    from azureml_inference_server_http.api.aml_request import rawhttp
    from azureml_inference_server_http.api.aml_response import AMLResponse

    def init():
        pass

    @rawhttp
    def run(request):
        time.sleep(float(request.get_data() or 0))
        return AMLResponse({"slept": True}, 200, json_str=True)
''')


def with_request_settings(cfg, **settings):
    """dev's config with blue's request settings changed."""
    dep = cfg.online.deployments["blue"]
    rs = dep.request_settings.model_copy(update=settings)
    deployments = {**cfg.online.deployments, "blue": dep.model_copy(update={"request_settings": rs, "worker_count": 1})}
    return cfg.model_copy(update={"online": cfg.online.model_copy(update={"deployments": deployments})})


def post(ep, body: bytes) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=30)
    try:
        conn.request("POST", "/score", body=body, headers=ep.headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_serve_init_failure_raises_the_scripts_own_error(state, tmp_path):
    empty = tmp_path / "no-model"
    empty.mkdir()
    ep = LocalEndpoint(load_stack("dev"), empty, workers=1)
    with pytest.raises(ServerStartError) as err:
        ep.start()
    assert str(err.value) == (
        f"the scoring script failed to start: ModelLoadError: no MLflow model with model.skops below "
        f"AZUREML_MODEL_DIR={empty} (save it with mlflow.sklearn.save_model(..., serialization_format='skops')) "
        f"(log: {ep.log_path})"
    )
    assert ep.poll() is not None


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


def test_serve_slow_request_answers_408_after_the_request_timeout(state, trained_model_dir, tmp_path):
    (tmp_path / "score.py").write_text(SLOW_SCRIPT)
    cfg = with_request_settings(load_stack("dev"), request_timeout_ms=300)
    with LocalEndpoint(cfg, trained_model_dir, scoring_dir=tmp_path) as ep:
        assert post(ep, b"0") == (200, {"slept": True})
        assert post(ep, b"3") == (408, {"message": "the request took longer than the deployment's request timeout of 300 ms"})
        assert post(ep, b"0") == (200, {"slept": True})  # the worker survived


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
    return cfg.model_copy(update={"online": online})


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
