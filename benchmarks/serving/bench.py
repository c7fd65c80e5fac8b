"""Serving benchmark: four servers on loopback, same model, same worker count, one at a time.

(1) the limit: gunicorn sync workers with a bare WSGI function (json → numpy → predict)
(2) azureml-inference-server-http with the plainest script (benchmarks/serving/plain)
(3) `amlops serve`: scoring/score.py as shipped, with validation, key auth and telemetry on
(4) the book's inference-schema PandasParameterType script (benchmarks/serving/book)
and, to locate a cost, (5) = (3) with telemetry off and (6) = (3) with auth and telemetry off.

Load comes from client processes running a bounded loop of http.client requests (a request
count and a time limit, whichever ends first) with TCP_NODELAY. Reported: single-client
p50/p99 latency and requests per second at 8 clients, each as a ratio to (1).

    python -m benchmarks.serving [--requests N] [--seconds S] [--clients 8] [--workers 2]
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from amlops.profiling.loadgen import Client, Target
from amlops.profiling.resources import TreeSampler

HERE = Path(__file__).resolve().parent
ROWS = [[2000, 2, 45]]
RECORDS = [{"income": 2000, "credit_cards": 2, "age": 45}]


@dataclass(frozen=True)
class Load:
    """What one measurement sends: the scoring URL with its key, and the body of every request."""

    target: Target
    body: bytes


@dataclass(frozen=True)
class Result:
    name: str
    p50_ms: float
    p99_ms: float
    rps: float
    errors: int
    cpu_us: float
    """Server CPU (master + workers) per request, in microseconds."""


def _client(load: Load, count: int, deadline: float, out) -> None:
    """One client: up to `count` requests, stopping at `deadline`; sends back its latencies (s) and errors.

    The profiler's keep-alive client (amlops.profiling.loadgen.Client): http.client sets
    TCP_NODELAY on every connection, and it reconnects when the server closes one.
    """
    client = Client(load.target)
    latencies, errors = [], 0
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        reply = client.send(load.body)
        latencies.append(reply.latency_s)
        errors += reply.status != 200
    client.close()
    out.put((latencies, errors))


def drive(load: Load, clients: int, requests: int, seconds: float) -> tuple[list[float], int, float]:
    """Run `clients` client processes sharing `requests` requests within `seconds`; returns latencies, errors, wall time."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    deadline = time.monotonic() + seconds
    per = max(1, requests // clients)
    procs = [ctx.Process(target=_client, args=(load, per, deadline, out)) for _ in range(clients)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    latencies: list[float] = []
    errors = 0
    for _ in procs:
        got, bad = out.get(timeout=seconds + 60)
        latencies.extend(got)
        errors += bad
    wall = time.perf_counter() - t0
    for p in procs:
        p.join(timeout=10)
    return latencies, errors, wall


@dataclass
class _Tally:
    single: list
    many: int = 0
    wall: float = 0.0
    errors: int = 0
    cpu_s: float = 0.0
    served: int = 0


def measure_all(loads: dict[str, tuple[Load, int]], clients: int, requests: int, seconds: float, rounds: int) -> list[Result]:
    """Interleave the servers round by round, so that load from elsewhere on the machine
    falls on all of them alike; pool each server's rounds."""
    tallies = {name: _Tally([]) for name in loads}
    for load, _ in loads.values():
        drive(load, 1, min(200, requests), seconds)  # warm-up
    for _ in range(rounds):
        for name, (load, pid) in loads.items():
            t = tallies[name]
            with TreeSampler(pid) as sampler:
                single, err1, _ = drive(load, 1, max(1, requests // rounds), seconds / rounds)
                many, err2, wall = drive(load, clients, max(clients, 2 * requests // rounds), seconds / rounds)
            t.cpu_s += sampler.usage.cpu_seconds
            t.served += len(single) + len(many)
            t.single += single
            t.many += len(many)
            t.wall += wall
            t.errors += err1 + err2
    results = []
    for name, t in tallies.items():
        q = statistics.quantiles(t.single, n=100, method="inclusive") if len(t.single) > 1 else [t.single[0]] * 99
        results.append(Result(name, q[49] * 1000, q[98] * 1000, t.many / t.wall, t.errors, t.cpu_s / max(1, t.served) * 1e6))
    return results


def _model_dir(work: Path) -> Path:
    from amlops import data as data_mod
    from amlops import training

    ds = data_mod.write_csv(data_mod.generate_loans(), work / "loans.csv")
    model, facts = training.train(ds)
    return training.save_model(model, facts, work / "model")


def _gunicorn(app: str, env: dict, workers: int, log_dir: Path):
    from amlops.serving.server import GunicornServer, GunicornSpec

    return GunicornServer(GunicornSpec(app=app, env=env, workers=workers, log_dir=log_dir))


def run(
    requests: int = 3000, seconds: float = 10.0, clients: int = 8, workers: int = 2, only: tuple[int, ...] = (1, 2, 3, 4), rounds: int = 5
) -> list[Result]:
    """Start the servers, measure them interleaved over `rounds`; one Result per server, in `only` order."""
    from amlops.paths import STATE_ENV
    from amlops.serving.endpoint import LocalEndpoint
    from amlops.stackfile import load_stack

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        work = Path(tmp)
        previous_state = os.environ.get(STATE_ENV)
        os.environ[STATE_ENV] = str(work / "state")  # keys and telemetry of (3) stay out of .amlops
        model_dir = _model_dir(work)
        rows = json.dumps({"data": ROWS}).encode()
        records = json.dumps({"data": RECORDS}).encode()
        aml_env = {"AZUREML_MODEL_DIR": str(model_dir), "AZUREML_ENTRY_SCRIPT": "score.py"}
        servers = {
            1: ("(1) bare WSGI + gunicorn", lambda: _gunicorn("bare_app:app", {**aml_env, "PYTHONPATH": str(HERE)}, workers, work / "logs"), rows),
            2: ("(2) inference server, plain script", lambda: _gunicorn("azureml_inference_server_http.server.entry:app", {**aml_env, "AML_APP_ROOT": str(HERE / "plain")}, workers, work / "logs"), rows),
            3: ("(3) amlops serve (score.py)", lambda: LocalEndpoint(load_stack("dev"), model_dir, workers=workers), rows),
            5: ("(3') amlops serve, telemetry off", lambda: LocalEndpoint(load_stack("dev"), model_dir, workers=workers, telemetry=False), rows),
            6: ("(3'') amlops serve, auth+telemetry off", lambda: LocalEndpoint(load_stack("dev"), model_dir, workers=workers, telemetry=False, auth=False), rows),
            4: ("(4) book: inference-schema pandas", lambda: _gunicorn("azureml_inference_server_http.server.entry:app", {**aml_env, "AML_APP_ROOT": str(HERE / "book")}, workers, work / "logs"), records),
        }
        started = []
        try:
            loads = {}
            for number in only:
                name, make, body = servers[number]
                server = make()
                server.start()
                started.append(server)
                target = Target(f"http://127.0.0.1:{server.port}/score", getattr(server, "key", None))
                loads[name] = (Load(target, body), server.pid)
            results = measure_all(loads, clients, requests, seconds, rounds)
        finally:
            for server in started:
                server.stop()
            if previous_state is None:
                os.environ.pop(STATE_ENV, None)
            else:
                os.environ[STATE_ENV] = previous_state
    return results


def report(results: list[Result], clients: int) -> str:
    """A table with every figure as a ratio to the first server's."""
    base = results[0]
    lines = [
        f"{'server':<38} {'p50 ms':>7} {'p99 ms':>7} {f'req/s@{clients}':>10} {'cpu us/req':>10} "
        f"{'p50 x':>6} {'p99 x':>6} {'req/s x':>8} {'cpu x':>6} {'errors':>6}",
    ]
    for r in results:
        lines.append(
            f"{r.name:<38} {r.p50_ms:7.3f} {r.p99_ms:7.3f} {r.rps:10.0f} {r.cpu_us:10.0f} {r.p50_ms / base.p50_ms:6.2f} "
            f"{r.p99_ms / base.p99_ms:6.2f} {r.rps / base.rps:8.2f} {r.cpu_us / base.cpu_us:6.2f} {r.errors:6d}"
        )
    by = {r.name[:3]: r for r in results}
    if {"(2)", "(3)", "(4)"} <= set(by):
        lines.append(
            f"targets: (3)/(2) throughput {by['(3)'].rps / by['(2)'].rps:.2f} (≥ 0.90; server CPU per request "
            f"{by['(2)'].cpu_us / by['(3)'].cpu_us:.2f} of (2)'s efficiency); "
            f"(3)/(4) {by['(3)'].rps / by['(4)'].rps:.1f}x (≥ 3); (3) single-client p50 {by['(3)'].p50_ms:.3f} ms (≤ 1 ms)"
        )
    return "\n".join(lines)
