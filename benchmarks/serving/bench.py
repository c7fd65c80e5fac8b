"""Serving benchmark: four servers on loopback, same model, same worker count, one at a time.

(1) the limit: gunicorn sync workers with a bare WSGI function (json → numpy → predict)
(2) azureml-inference-server-http with the plainest script (benchmarks/serving/plain)
(3) `amlops serve`: scoring/score.py as shipped, with validation, admission, key auth and telemetry on
(4) the book's inference-schema PandasParameterType script (benchmarks/serving/book)
and, to locate a cost, (5) = (3) with telemetry off, (6) = (3) with auth and telemetry off and (7) = (3)
with admission off (no count, no 429, no dispatcher thread watching the accept queue in the master).

Load comes from client processes, each a loop of keep-alive http.client requests (the
profiler's Client, TCP_NODELAY) for a fixed window of seconds. The client processes are forked
first, then the server's CPU sampler starts, and the clock starts when every client is ready
(a barrier). Windows are interleaved round by round across the servers, the order rotating each
round, so that load from elsewhere on the machine falls on all of them alike. (3)'s admission limit is set above the
client count, so it refuses nothing.

Reported per server: single-client p50/p99 latency, requests per second at N clients, server
CPU per request (master + workers) and the clients' CPU, each figure also as a ratio to (1);
a warning when the clients used so much CPU that they, not the server, may be the limit.

    python -m benchmarks.serving [--seconds S] [--clients 8] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from amlops.profiling.display import CLIENT_BOUND_PERCENT
from amlops.profiling.loadgen import Client, Target
from amlops.profiling.resources import TreeSampler

HERE = Path(__file__).resolve().parent
ROWS = [[2000, 2, 45]]
RECORDS = [{"income": 2000, "credit_cards": 2, "age": 45}]
MACHINE_SHARE = 0.5
"""Clients using more than this share of the machine's CPU leave the server too little to measure it."""


@dataclass(frozen=True)
class Load:
    """What one measurement sends: the scoring URL with its key, and the body of every request."""

    target: Target
    body: bytes


@dataclass(frozen=True)
class Window:
    """One timed window: every reply's latency (s), the errors, the wall time and the CPU each side used."""

    latencies: list[float]
    errors: int
    wall_s: float
    client_cpu_s: float
    busiest_client_percent: float
    server_cpu_s: float


@dataclass(frozen=True)
class Result:
    name: str
    p50_ms: float
    p99_ms: float
    rps: float
    errors: int
    cpu_us: float
    """Server CPU (master + workers) per request, in microseconds, over every window."""
    client_cpu_percent: float
    """The clients' CPU during the N-client windows, summed over the clients, in % of one core."""
    busiest_client_percent: float
    """The busiest single client process during the N-client windows, in % of one core."""
    rounds: list = field(default_factory=list)
    """Per round: (req/s with one client, req/s with N clients), for ratios of pairs measured side by side."""

    @property
    def client_bound(self) -> bool:
        """The clients may have limited throughput: one of them near a full core (as the profiler
        warns), or all of them together using more than MACHINE_SHARE of the machine."""
        cores = os.cpu_count() or 1
        return self.busiest_client_percent >= CLIENT_BOUND_PERCENT or self.client_cpu_percent >= MACHINE_SHARE * cores * 100


def _client(load: Load, seconds: float, ready, out) -> None:
    """One client: waits at the barrier, then sends requests for `seconds`; sends back latencies, errors and its CPU."""
    client = Client(load.target)
    latencies, errors = [], 0
    ready.wait()
    cpu0 = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        reply = client.send(load.body)
        latencies.append(reply.latency_s)
        errors += reply.status != 200
    cpu = time.process_time() - cpu0
    client.close()
    out.put((latencies, errors, cpu))


def drive(load: Load, clients: int, seconds: float, server_pid: int) -> Window:
    """Run `clients` client processes for a window of `seconds`, measuring the server's CPU meanwhile.

    The clients are forked before the sampler's thread exists (forking a process that runs
    threads can deadlock the child), and the clock starts when all of them are ready."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    ready = ctx.Barrier(clients + 1)
    procs = [ctx.Process(target=_client, args=(load, seconds, ready, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    latencies: list[float] = []
    errors, client_cpu, busiest = 0, 0.0, 0.0
    with TreeSampler(server_pid) as sampler:
        ready.wait()
        t0 = time.perf_counter()
        for _ in procs:
            got, bad, cpu = out.get(timeout=seconds + 60)
            latencies.extend(got)
            errors += bad
            client_cpu += cpu
            busiest = max(busiest, cpu)
        wall = time.perf_counter() - t0
    for p in procs:
        p.join(timeout=10)
    assert sampler.usage is not None
    return Window(latencies, errors, wall, client_cpu, 100 * busiest / wall, sampler.usage.cpu_seconds)


@dataclass
class _Tally:
    single: list = field(default_factory=list)
    rounds: list = field(default_factory=list)
    """Per round: (requests per second with one client, requests per second with N clients)."""
    many: int = 0
    many_wall: float = 0.0
    errors: int = 0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    busiest: float = 0.0
    served: int = 0


def measure_all(loads: dict[str, tuple[Load, int]], clients: int, seconds: float, rounds: int) -> list[Result]:
    """Interleave the servers round by round, in an order rotating each round; pool each server's windows."""
    tallies = {name: _Tally() for name in loads}
    for load, pid in loads.values():
        drive(load, 1, min(1.0, seconds), pid)  # warm-up
    names = list(loads)
    for r in range(rounds):
        # the order rotates each round: with a fixed order, two builds of amlops serve measured 0.86x and
        # 1.14x of each other at 8 clients when only their slots were swapped (load average 4-5)
        for name in names[r % len(names):] + names[: r % len(names)]:
            load, pid = loads[name]
            t = tallies[name]
            single = drive(load, 1, seconds, pid)
            many = drive(load, clients, seconds, pid)
            t.single += single.latencies
            t.rounds.append((len(single.latencies) / single.wall_s, len(many.latencies) / many.wall_s))
            t.many += len(many.latencies)
            t.many_wall += many.wall_s
            t.errors += single.errors + many.errors
            t.server_cpu_s += single.server_cpu_s + many.server_cpu_s
            t.served += len(single.latencies) + len(many.latencies)
            t.client_cpu_s += many.client_cpu_s
            t.busiest = max(t.busiest, many.busiest_client_percent)
    results = []
    for name, t in tallies.items():
        q = statistics.quantiles(t.single, n=100, method="inclusive") if len(t.single) > 1 else [t.single[0]] * 99
        results.append(
            Result(
                name, q[49] * 1000, q[98] * 1000, t.many / t.many_wall, t.errors, t.server_cpu_s / max(1, t.served) * 1e6,
                100 * t.client_cpu_s / t.many_wall, t.busiest, t.rounds,
            )
        )
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


def run(seconds: float = 5.0, clients: int = 8, workers: int = 2, only: tuple[int, ...] = (1, 2, 3, 4), rounds: int = 3) -> list[Result]:
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

        def amlops_serve(**kwargs):
            return LocalEndpoint(load_stack("dev"), model_dir, workers=workers, max_concurrent_requests_per_instance=clients, **kwargs)

        servers = {
            1: ("(1) bare WSGI + gunicorn", lambda: _gunicorn("bare_app:app", {**aml_env, "PYTHONPATH": str(HERE)}, workers, work / "logs"), rows),
            2: ("(2) inference server, plain script", lambda: _gunicorn("azureml_inference_server_http.server.entry:app", {**aml_env, "AML_APP_ROOT": str(HERE / "plain")}, workers, work / "logs"), rows),
            3: ("(3) amlops serve (score.py)", lambda: amlops_serve(), rows),
            5: ("(3') amlops serve, telemetry off", lambda: amlops_serve(telemetry=False), rows),
            6: ("(3'') amlops serve, auth+telemetry off", lambda: amlops_serve(telemetry=False, auth=False), rows),
            7: ("(3''') amlops serve, admission off", lambda: amlops_serve(admission=False), rows),
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
            results = measure_all(loads, clients, seconds, rounds)
        finally:
            for server in started:
                server.stop()
            if previous_state is None:
                os.environ.pop(STATE_ENV, None)
            else:
                os.environ[STATE_ENV] = previous_state
    return results


def report(results: list[Result], clients: int) -> str:
    """A table with every figure as a ratio to the first server's, server CPU per request beside each, and warnings."""
    base = results[0]
    lines = [
        f"{'server':<38} {'p50 ms':>7} {'p99 ms':>7} {f'req/s@{clients}':>10} {'req/s x':>8} {'cpu us/req':>10} {'cpu x':>6} "
        f"{'p50 x':>6} {'p99 x':>6} {'client cpu%':>11} {'errors':>6}",
    ]
    for r in results:
        lines.append(
            f"{r.name:<38} {r.p50_ms:7.3f} {r.p99_ms:7.3f} {r.rps:10.0f} {r.rps / base.rps:8.2f} {r.cpu_us:10.0f} {r.cpu_us / base.cpu_us:6.2f} "
            f"{r.p50_ms / base.p50_ms:6.2f} {r.p99_ms / base.p99_ms:6.2f} {r.client_cpu_percent:11.0f} {r.errors:6d}"
        )
    for r in results:
        if r.client_bound:
            lines.append(
                f"warning: {r.name}: the {clients} clients used {r.client_cpu_percent:.0f}% of a core (busiest {r.busiest_client_percent:.0f}%) "
                f"on a {os.cpu_count()}-core machine: throughput may be limited by the clients, so its ratio is pulled toward 1"
            )
    by = {r.name[:3]: r for r in results}
    if {"(2)", "(3)"} <= set(by):
        two, three = by["(2)"], by["(3)"]
        line = ""
        for i, label in ((0, "1 client"), (1, f"{clients} clients")):
            pairs = [a[i] / b[i] for a, b in zip(three.rounds, two.rounds)]
            median = statistics.median(pairs)
            line += (
                f"target: (3)/(2) req/s at {label} {median:.2f}x (pairs {min(pairs):.2f}–{max(pairs):.2f}; ≥ 1.0x: "
                f"{'met' if median >= 1.0 else 'NOT met'})\n"
            )
        line += (
            f"(3) admission on (429 above {2 * clients} in flight, never reached here); server CPU per request {three.cpu_us:.0f} vs {two.cpu_us:.0f} us; "
            f"single-client p50 {three.p50_ms:.3f} ms vs (2) {two.p50_ms:.3f} ms"
        )
        if "(4)" in by:
            line += f"; (3)/(4) {three.rps / by['(4)'].rps:.1f}x (≥ 3, server CPU per request {by['(4)'].cpu_us:.0f} us)"
        lines.append(line)
    return "\n".join(lines)
