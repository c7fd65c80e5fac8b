"""Admission benchmark: `amlops serve`'s 429 imitation against Azure's rule, on loopback.

    python -m benchmarks.serving.admission [--requests 100000] [--clients 8] [--refusals 200]

(1) Refusal time: 2 × max_concurrent_requests_per_instance slow requests are held in flight (both
workers busy), then requests are sent one at a time; reported: the time from connecting to the whole
429 read, p50/p99/max, beside the target (≤ 10 ms), and whether every held request got its 200.
(2) Stray 429s: N client processes, each sending one request after another (a new one once the last
is answered), against a server allowing exactly N in flight (max_concurrent_requests_per_instance =
N/2), for a bounded total of requests; reported: 429s (target 0) and requests without an answer
(target 0). The server is `amlops serve` with the shipped score.py, key auth and telemetry on.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

REFUSAL_TARGET_MS = 10.0
HOLD_S = 60.0
"""A held request is released by the benchmark, or after this long at the latest."""
SLOW_SCRIPT = '''

# benchmark override: a body "slow" is held until the benchmark releases it
import os as _os, time as _time
from azureml_inference_server_http.api.aml_request import rawhttp as _rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse as _AMLResponse


@_rawhttp
def run(request):
    if request.get_data() == b"slow":
        deadline = _time.monotonic() + {hold}
        while not _os.path.exists(_os.environ["RELEASE_FILE"]) and _time.monotonic() < deadline:
            _time.sleep(0.005)
    return _AMLResponse({{"ok": True}}, 200, json_str=True)
'''.format(hold=HOLD_S)


def _post(port: int, body: bytes, key: str | None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=HOLD_S + 30)
    auth = f"Authorization: Bearer {key}\r\n".encode() if key else b""
    sock.sendall(b"POST /score HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s" % (auth, len(body), body))
    return sock


def _status(sock: socket.socket) -> int:
    resp = http.client.HTTPResponse(sock)
    try:
        resp.begin()
        resp.read()
        return resp.status
    finally:
        sock.close()


def refusal_times(work: Path, model_dir: Path, refusals: int) -> tuple[list[float], Counter, Counter]:
    """(1): ms to each 429, the statuses of the extra requests, the statuses of the held ones."""
    from amlops.paths import SCORING_DIR
    from amlops.serving.endpoint import LocalEndpoint
    from amlops.stackfile import load_stack

    scoring = work / "slow-scoring"
    scoring.mkdir()
    (scoring / "score.py").write_text((SCORING_DIR / "score.py").read_text() + SLOW_SCRIPT)
    release = work / "release"
    os.environ["RELEASE_FILE"] = str(release)  # the workers inherit it
    mcrpi = 2
    times, extra = [], Counter()
    with LocalEndpoint(load_stack("dev"), model_dir, scoring_dir=scoring, workers=2, max_concurrent_requests_per_instance=mcrpi, telemetry=False) as ep:
        held = [_post(ep.port, b"slow", ep.key) for _ in range(2 * mcrpi)]
        time.sleep(0.5)  # both workers are in run()
        try:
            for _ in range(refusals):
                t0 = time.perf_counter()
                status = _status(_post(ep.port, b"{}", ep.key))
                times.append((time.perf_counter() - t0) * 1000)
                extra[status] += 1
        finally:
            release.touch()
        held_statuses = Counter(_status(s) for s in held)
    return times, extra, held_statuses


def _client(port: int, key: str, count: int, body: bytes, ready, out) -> None:
    from amlops.profiling.loadgen import Client, Target

    client = Client(Target(f"http://127.0.0.1:{port}/score", key, timeout_s=60))
    statuses: Counter = Counter()
    ready.wait()
    for _ in range(count):
        statuses[client.send(body).status] += 1
    client.close()
    out.put(statuses)


def at_the_limit(model_dir: Path, clients: int, requests: int) -> tuple[Counter, float]:
    """(2): statuses of `requests` sent by `clients` closed-loop clients with exactly `clients` allowed in flight; seconds taken."""
    from amlops.serving.endpoint import LocalEndpoint
    from amlops.stackfile import load_stack

    body = json.dumps({"data": [[2000, 2, 45]]}).encode()
    ctx = multiprocessing.get_context("fork")
    with LocalEndpoint(load_stack("dev"), model_dir, workers=2, max_concurrent_requests_per_instance=clients // 2) as ep:
        out, ready = ctx.Queue(), ctx.Barrier(clients + 1)
        share = [requests // clients + (i < requests % clients) for i in range(clients)]
        procs = [ctx.Process(target=_client, args=(ep.port, ep.key, n, body, ready, out)) for n in share]
        for p in procs:
            p.start()
        ready.wait()
        t0 = time.perf_counter()
        total: Counter = Counter()
        for _ in procs:
            total.update(out.get(timeout=3600))
        seconds = time.perf_counter() - t0
        for p in procs:
            p.join(timeout=10)
    return total, seconds


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving.admission", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="requests sent at exactly the limit (2)")
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients in (2), and the in-flight limit (even)")
    parser.add_argument("--refusals", type=int, default=200, help="requests sent over the limit in (1)")
    args = parser.parse_args()
    if args.clients < 2 or args.clients % 2:
        parser.error("--clients must be an even number ≥ 2 (the limit is 2 × max_concurrent_requests_per_instance)")
    from amlops.paths import STATE_ENV
    from benchmarks.serving.bench import _model_dir

    with tempfile.TemporaryDirectory(prefix="bench-admission-") as tmp:
        work = Path(tmp)
        os.environ[STATE_ENV] = str(work / "state")
        model_dir = _model_dir(work)
        times, extra, held = refusal_times(work, model_dir, args.refusals)
        q = statistics.quantiles(times, n=100, method="inclusive")
        print(
            f"(1) 429 with 4 slow requests in flight (limit 4): p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, max {max(times):.2f} ms "
            f"(target ≤ {REFUSAL_TARGET_MS:.0f} ms: p99 ratio {q[98] / REFUSAL_TARGET_MS:.2f}); statuses {dict(extra)}; "
            f"held requests {dict(held)} (target all 200)"
        )
        statuses, seconds = at_the_limit(model_dir, args.clients, args.requests)
        sent = sum(statuses.values())
        print(
            f"(2) {sent} requests from {args.clients} clients, {args.clients} allowed in flight, in {seconds:.1f} s "
            f"({sent / seconds:.0f} req/s): 429s {statuses.get(429, 0)} (target 0); without an answer {statuses.get(None, 0)} (target 0); "
            f"statuses {dict(statuses)}"
        )


if __name__ == "__main__":
    main()
