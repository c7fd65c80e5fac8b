"""The managed endpoint's admission imitated (429 above 2 x max_concurrent_requests_per_instance in
flight, answered at arrival however busy the workers are; the queue wait on Kubernetes targets):
real servers holding slow requests in flight, and the queue wait's rule on a ticket."""

from __future__ import annotations

import concurrent.futures
import errno
import http.client
import json
import os
import signal
import socket
import textwrap
import time
from types import SimpleNamespace

import pytest

from amlops.errors import UsageError
from amlops.serving import admission
from amlops.serving.endpoint import LocalEndpoint
from amlops.serving.settings import Admission
from amlops.stackfile import load_stack

from serve_support import scoring_with, wait_for, with_online

OVER = "too many pending requests: this instance takes at most {limit} at once (2 x max_concurrent_requests_per_instance {mcrpi}); retry with backoff"


def ticket(waited_ms: int) -> admission.Ticket:
    """A worker's ticket for a connection the dispatcher accepted `waited_ms` ago (uncounted)."""
    fake = SimpleNamespace(held=bytearray(admission.SLOTS), units=None)
    payload = admission._TICKET.pack(0, time.monotonic_ns() - waited_ms * 1_000_000)
    return admission.Ticket(fake, 0, payload)  # type: ignore[arg-type]


def test_serve_admission_queue_wait_over_the_limit_is_refused():
    gate = admission.Gate(Admission(10, 5, 1))
    admission.begin(ticket(50))
    try:
        refusal = gate.refusal()
    finally:
        admission.end()
    assert refusal is not None and refusal.message.startswith("the request waited ")
    assert refusal.message.endswith(" ms in the queue, longer than max_queue_wait_ms 5; retry with backoff")
    assert int(refusal.message.split()[3]) >= 50


def test_serve_admission_queue_wait_within_the_limit_or_unset_is_admitted():
    admission.begin(ticket(0))
    try:
        assert admission.Gate(Admission(10, 10_000, 1)).refusal() is None
        assert admission.Gate(Admission(10, None, 1)).refusal() is None
    finally:
        admission.end()


@pytest.mark.parametrize("mcrpi,wait,workers,message", [
    (0, None, 1, "max concurrent requests per instance must be between 1 and 1000, got 0"),
    (1001, None, 1, "max concurrent requests per instance must be between 1 and 1000, got 1001"),
    (1, -1, 1, "max queue wait must be ≥ 0 ms, got -1"),
    (1, None, 0, "workers must be ≥ 1, got 0"),
])
def test_serve_admission_nonsense_settings_are_refused(mcrpi, wait, workers, message):
    with pytest.raises(UsageError) as err:
        Admission(mcrpi, wait, workers)
    assert str(err.value) == message


def test_serve_admission_reads_the_accept_queue_of_a_tcp_listener_only():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        clients = [socket.create_connection(listener.getsockname()) for _ in range(3)]
        try:
            assert admission.queued(listener) == 3
            listener.accept()[0].close()
            assert admission.queued(listener) == 2
        finally:
            for c in clients:
                c.close()
    left, right = socket.socketpair()
    with left, right:
        assert admission.queued(left) is None  # not TCP: the dispatcher accepts every connection itself


@pytest.mark.parametrize("wait,direct", [(None, True), (500, False)])
def test_serve_admission_workers_accept_themselves_unless_the_queue_wait_is_read(wait, direct):
    """Where max_queue_wait is read (Kubernetes), the dispatcher accepts every connection, so each one's wait is known."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        made = admission.Admission(Admission(2, wait, 2), listener)
        try:
            assert (made.direct, made.busy_at) == (direct, 2)
        finally:
            for end in (made.sender, made.receiver, made.returner, made.returns):
                end.close()


class _Waiting:
    """A non-blocking socket's stand-in: the connections waiting on it, by name."""

    def __init__(self, *waiting: str):
        self.waiting = list(waiting)


def _worker_loop(receiver: _Waiting, listener: _Waiting) -> list[str]:
    """What an AdmittingWorker's loop takes, in order, until its first sleep in select() ("wait")."""
    from amlops.serving.worker import AdmittingWorker

    worker = object.__new__(AdmittingWorker)  # the loop alone: no gunicorn arbiter, no admission
    worker.sockets, worker.alive = [receiver, listener], True
    taken: list[str] = []

    def accept(sock: _Waiting) -> None:
        if not sock.waiting:
            raise BlockingIOError(errno.EAGAIN, "nothing waiting")
        taken.append(sock.waiting.pop(0))

    def wait(timeout: float) -> None:
        taken.append("wait")
        worker.alive = False

    worker.accept, worker.wait = accept, wait  # type: ignore[method-assign]
    worker.notify = worker.is_parent_alive = lambda: True  # type: ignore[method-assign]
    worker.run_for_multiple(1.0)
    return taken


def test_serve_admission_a_worker_takes_what_waits_before_it_sleeps_handed_over_first():
    """gunicorn's loop for several sockets sleeps in select() before every accept; the worker serves what already
    waits, the dispatcher's hand-over (older) before the listener's, and sleeps only when both are empty."""
    assert _worker_loop(_Waiting("handed over"), _Waiting("new 1", "new 2")) == ["handed over", "new 1", "new 2", "wait"]
    assert _worker_loop(_Waiting(), _Waiting()) == ["wait"]


def test_serve_admission_queue_wait_is_read_only_for_kubernetes_targets(state, trained_model_dir):
    cfg = load_stack("dev")
    managed = LocalEndpoint(cfg, trained_model_dir)
    kube = LocalEndpoint(with_online(cfg, cfg.online.model_copy(update={"target": "kubernetes"})), trained_model_dir)
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
            Path(f"{os.environ['STARTED_FILE']}.{os.getpid()}").touch()  # one per worker holding a request
            while not Path(os.environ["RELEASE_FILE"]).exists():
                time.sleep(0.01)
        return AMLResponse({"ok": True}, 200, json_str=True)
''')


def workers(cfg, tmp_path, count: int):
    dep = cfg.online.deployments["blue"]
    env = {**dep.environment_variables, "STARTED_FILE": str(tmp_path / "started"), "RELEASE_FILE": str(tmp_path / "release")}
    blue = dep.model_copy(update={"worker_count": count, "environment_variables": env})
    return with_online(cfg, cfg.online.model_copy(update={"deployments": {"blue": blue}}))


def raw_request(port: int, body: bytes) -> socket.socket:
    """Connect and send a whole request (it is in flight from here on until its answer is read)."""
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


def probe(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    finally:
        conn.close()


def hold_one(ep: LocalEndpoint, tmp_path) -> socket.socket:
    """A request held in run() (the server's only worker is busy with it)."""
    sock = raw_request(ep.port, b"block")
    wait_for((tmp_path / "started").exists, "the held request in run()")
    return sock


def children(pid: int) -> list[int]:
    return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
def blocking(state, trained_model_dir, tmp_path):
    """Start a server whose run() holds a request with body `block` until the test releases it."""
    scoring = scoring_with(tmp_path / "scoring", BLOCKING_SCRIPT)
    started: list[LocalEndpoint] = []

    def serve(worker_count: int, mcrpi: int) -> LocalEndpoint:
        cfg = workers(load_stack("dev"), tmp_path, worker_count)
        ep = LocalEndpoint(cfg, trained_model_dir, scoring_dir=scoring, max_concurrent_requests_per_instance=mcrpi, auth=False).start()
        started.append(ep)
        return ep

    yield serve
    (tmp_path / "release").touch()
    for ep in started:
        ep.stop()


REFUSED = (429, {"message": OVER.format(limit=4, mcrpi=2)})
OK = (200, {"ok": True})


@pytest.mark.slow
def test_serve_admission_at_the_limit_answers_429_while_the_requests_are_in_flight(blocking, tmp_path):
    ep = blocking(worker_count=2, mcrpi=2)  # at most 4 in flight: 2 computed, 2 waiting for a worker
    held = [raw_request(ep.port, b"block") for _ in range(4)]
    wait_for((tmp_path / "started").exists, "a held request in run()")
    over = [raw_request(ep.port, b"{}") for _ in range(3)]
    refusals = [answer(s) for s in over]  # answered while every worker is still busy
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        probed = pool.submit(probe, ep.port)  # served once a worker is free, never refused (Azure's probes bypass its front end)
        assert not (tmp_path / "release").exists()
        (tmp_path / "release").touch()
        assert refusals == [REFUSED] * 3
        assert [answer(s) for s in held] == [OK] * 4
        assert probed.result() == 200


@pytest.mark.slow
def test_serve_admission_a_free_worker_over_the_limit_hands_the_connection_back_to_be_refused(blocking, tmp_path):
    ep = blocking(worker_count=3, mcrpi=1)  # at most 2 in flight, both computed: the third worker stays free
    held = [raw_request(ep.port, b"block") for _ in range(2)]
    wait_for(lambda: len(list(tmp_path.glob("started.*"))) == 2, "two workers holding a request in run()")
    over = raw_request(ep.port, b"{}")  # accepted by the free worker, which finds no unit left
    assert answer(over) == (429, {"message": OVER.format(limit=2, mcrpi=1)})
    assert probe(ep.port) == 200  # handed back, then served uncounted
    (tmp_path / "release").touch()
    assert [answer(s) for s in held] == [OK] * 2


@pytest.mark.slow
def test_serve_admission_one_below_the_limit_refuses_nothing(blocking, tmp_path):
    ep = blocking(worker_count=2, mcrpi=2)
    held = [raw_request(ep.port, b"block") for _ in range(3)]
    wait_for((tmp_path / "started").exists, "a held request in run()")
    last = raw_request(ep.port, b"{}")  # the 4th in flight: admitted, waits for a worker
    (tmp_path / "release").touch()
    assert [answer(s) for s in (*held, last)] == [OK] * 4


@pytest.mark.slow
def test_serve_admission_answered_requests_no_longer_count(blocking, tmp_path):
    ep = blocking(worker_count=1, mcrpi=1)  # at most 2 in flight
    for _ in range(20):  # one after another, each sent once the previous is answered: never over the limit
        pair = [raw_request(ep.port, b"{}"), raw_request(ep.port, b"{}")]
        assert [answer(s) for s in pair] == [OK, OK]


@pytest.mark.slow
def test_serve_admission_a_dead_workers_request_is_given_back(blocking, tmp_path):
    ep = blocking(worker_count=1, mcrpi=1)
    first = hold_one(ep, tmp_path)
    [worker] = children(ep.pid)
    os.kill(worker, signal.SIGKILL)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        answer(first)
    wait_for(lambda: children(ep.pid) not in ([], [worker]), "the master replacing the dead worker")
    (tmp_path / "release").touch()
    pair = [raw_request(ep.port, b"{}"), raw_request(ep.port, b"{}")]  # both fit again once the master gave the unit back
    assert [answer(s) for s in pair] == [OK, OK]


@pytest.mark.slow
def test_serve_admission_sigterm_answers_what_is_in_flight_and_exits(blocking, tmp_path):
    ep = blocking(worker_count=1, mcrpi=2)
    computing = hold_one(ep, tmp_path)
    waiting = raw_request(ep.port, b"{}")  # admitted, waiting for the only worker
    os.kill(ep.pid, signal.SIGTERM)
    wait_for(lambda: refused(ep.port), "the listener closed (nothing new queues, to be reset later)")
    (tmp_path / "release").touch()
    assert [answer(computing), answer(waiting)] == [OK, OK]
    assert ep.wait() == 0
