"""The managed endpoint's admission imitated (429 above 2 x max_concurrent_requests_per_instance in
flight; the queue wait on Kubernetes targets): the rule on a real listening socket with
connections waiting, then the server answering a burst while its only worker is busy."""

from __future__ import annotations

import http.client
import json
import socket
import textwrap
import time

import pytest

from amlops.errors import UsageError
from amlops.serving.admission import Gate, accept_queue_length
from amlops.serving.endpoint import LocalEndpoint
from amlops.serving.settings import Admission
from amlops.stackfile import load_stack

from serve_support import scoring_with

OVER = "too many pending requests: this instance takes at most {limit} at once (2 x max_concurrent_requests_per_instance {mcrpi}); retry with backoff"


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    clients: list[socket.socket] = []

    def arrive(n: int) -> None:
        """n requests arrive, one after another, and wait in the accept queue."""
        for _ in range(n):
            c = socket.create_connection(sock.getsockname())
            c.sendall(b"POST /score HTTP/1.1\r\n\r\n")
            clients.append(c)

    yield sock, arrive
    for c in clients:
        c.close()
    sock.close()


def gates(listener_sock, tmp_path, workers: int, mcrpi: int, wait_ms: int | None = None) -> list[Gate]:
    settings = Admission(mcrpi, wait_ms, workers, tmp_path / "admission.bin")
    return [Gate(settings, listener_sock.fileno()) for _ in range(workers)]


def take(listener_sock, gate: Gate) -> bool:
    """A worker takes the next request; True if it is admitted."""
    conn, _ = listener_sock.accept()
    try:
        return gate.admit(conn) is None
    finally:
        conn.close()


def test_serve_admission_accept_queue_length_counts_waiting_connections(listener):
    sock, arrive = listener
    arrive(3)
    assert accept_queue_length(sock) == 3


def test_serve_admission_burst_over_the_limit_refuses_the_latest_arrivals(listener, tmp_path):
    sock, arrive = listener
    one, two = gates(sock, tmp_path, workers=2, mcrpi=1)  # at most 2 in flight
    arrive(5)
    # Five arrive at once: the first two are admitted, the last three were over the limit on arrival.
    assert [take(sock, one), take(sock, two)] == [True, True]
    one.done(), two.done()
    assert [take(sock, one) for _ in range(3)] == [False, False, False]


def test_serve_admission_at_the_limit_refuses_nothing(listener, tmp_path):
    sock, arrive = listener
    one, two = gates(sock, tmp_path, workers=2, mcrpi=2)  # at most 4 in flight
    arrive(4)
    admitted = []
    for gate in (one, two, one, two):
        admitted.append(take(sock, gate))
        gate.done()
    assert admitted == [True, True, True, True]


def test_serve_admission_requests_waiting_while_one_is_computed_count_it(listener, tmp_path):
    sock, arrive = listener
    [gate] = gates(sock, tmp_path, workers=1, mcrpi=1)  # at most 2 in flight
    arrive(1)
    assert take(sock, gate)
    arrive(4)  # while the first is computed: one more fits, three are over
    gate.done()
    results = []
    for _ in range(4):
        results.append(take(sock, gate))
        gate.done()
    assert results == [True, False, False, False]


def test_serve_admission_refusal_says_what_to_do(listener, tmp_path):
    sock, arrive = listener
    [gate] = gates(sock, tmp_path, workers=1, mcrpi=1)
    arrive(1)
    take(sock, gate)
    arrive(2)
    gate.done()
    take(sock, gate)
    gate.done()
    conn, _ = sock.accept()
    refusal = gate.admit(conn)
    conn.close()
    assert refusal is not None and refusal.message == OVER.format(limit=2, mcrpi=1)


def test_serve_admission_queue_wait_over_the_limit_is_refused(listener, tmp_path):
    sock, arrive = listener
    [gate] = gates(sock, tmp_path, workers=1, mcrpi=10, wait_ms=0)
    arrive(1)
    conn, _ = sock.accept()
    deadline = time.monotonic() + 10
    while (refusal := gate.admit(conn)) is None and time.monotonic() < deadline:  # until a millisecond has passed
        gate.done()
    conn.close()
    assert refusal is not None and refusal.message.startswith("the request waited ")
    assert refusal.message.endswith(" ms in the queue, longer than max_queue_wait_ms 0; retry with backoff")


@pytest.mark.parametrize("mcrpi,wait,workers,message", [
    (0, None, 1, "max concurrent requests per instance must be between 1 and 1000, got 0"),
    (1001, None, 1, "max concurrent requests per instance must be between 1 and 1000, got 1001"),
    (1, -1, 1, "max queue wait must be ≥ 0 ms, got -1"),
    (1, None, 0, "workers must be ≥ 1, got 0"),
])
def test_serve_admission_nonsense_settings_are_refused(tmp_path, mcrpi, wait, workers, message):
    with pytest.raises(UsageError) as err:
        Admission(mcrpi, wait, workers, tmp_path / "a.bin")
    assert str(err.value) == message


def test_serve_admission_queue_wait_is_read_only_for_kubernetes_targets(state, trained_model_dir):
    cfg = load_stack("dev")
    managed = LocalEndpoint(cfg, trained_model_dir)
    kube = LocalEndpoint(cfg.model_copy(update={"online": cfg.online.model_copy(update={"target": "kubernetes"})}), trained_model_dir)
    rs = cfg.online.deployments[managed.deployment].request_settings
    assert (managed.admission.max_queue_wait_ms, kube.admission.max_queue_wait_ms) == (None, rs.max_queue_wait_ms)
    assert managed.admission.max_concurrent_requests_per_instance == rs.max_concurrent_requests_per_instance


BLOCKING_SCRIPT = textwrap.dedent('''
    import os, time
    from pathlib import Path
    from azureml_inference_server_http.api.aml_request import rawhttp
    from azureml_inference_server_http.api.aml_response import AMLResponse

    def init():
        pass

    @rawhttp
    def run(request):
        if request.get_data() == b"block":
            Path(os.environ["STARTED_FILE"]).touch()
            while not Path(os.environ["RELEASE_FILE"]).exists():
                time.sleep(0.01)
        return AMLResponse({"ok": True}, 200, json_str=True)
''')


def one_worker(cfg, tmp_path, mcrpi: int):
    dep = cfg.online.deployments["blue"]
    env = {**dep.environment_variables, "STARTED_FILE": str(tmp_path / "started"), "RELEASE_FILE": str(tmp_path / "release")}
    blue = dep.model_copy(update={"worker_count": 1, "environment_variables": env})
    return cfg.model_copy(update={"online": cfg.online.model_copy(update={"deployments": {"blue": blue}})})


def wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout} s: {what}")
        time.sleep(0.02)


def raw_request(port: int, body: bytes) -> socket.socket:
    """Connect and send a whole request; the connection waits in the server's accept queue until a worker takes it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(b"POST /score HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    return sock


def answer(sock: socket.socket) -> tuple[int, dict]:
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    try:
        return resp.status, json.loads(resp.read())
    finally:
        sock.close()


@pytest.mark.slow
def test_serve_burst_while_the_worker_is_busy_answers_429_over_the_limit(state, trained_model_dir, tmp_path):
    scoring = scoring_with(tmp_path / "scoring", BLOCKING_SCRIPT)
    cfg = one_worker(load_stack("dev"), tmp_path, 1)
    with LocalEndpoint(cfg, trained_model_dir, scoring_dir=scoring, max_concurrent_requests_per_instance=1, auth=False) as ep:
        first = raw_request(ep.port, b"block")
        wait_for((tmp_path / "started").exists, "the first request in run()")
        then = [raw_request(ep.port, b"{}") for _ in range(4)]  # arrive in this order while the only worker is busy
        (tmp_path / "release").touch()
        results = [answer(s) for s in (first, *then)]
    refused = (429, {"message": OVER.format(limit=2, mcrpi=1)})
    assert results == [(200, {"ok": True}), (200, {"ok": True}), refused, refused, refused]
