"""Start-up and shutdown benchmark: `amlops serve` against the plain inference server, whole processes.

    python -m benchmarks.serving.start [--repeat 5]

Ready = `GET /` answers 200, from the command's start. Three cases, 2 workers each, run in
alternating order round by round: (plain) gunicorn with azureml-inference-server-http and the
plainest script (benchmarks/serving/plain) over the registered model's folder; (served) `amlops
serve --model NAME:1`, a version served before (its scoring package cached); (new) `amlops serve`
of a version registered just before (a model fitted on another seed: new bytes, nothing cached).
Each ratio is the median of the round's pairs with (plain), printed with the pairs' spread and its
target (1.5x). Then SIGTERM: while a client keeps requests in flight, `amlops serve` gets SIGTERM;
reported: seconds until the whole process tree exited (target 2 s) and whether every request sent
was answered.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
NAME = "bench-start"
WORKERS = 2
READY_TARGET = 1.5
STOP_TARGET_S = 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int, path: str = "/", body: bytes | None = None) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST" if body else "GET", path, body=body, headers={"Content-Type": "application/json"} if body else {})
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def until_ready(proc: subprocess.Popen, port: int, t0: float, timeout: float = 300) -> float:
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited with {proc.returncode} before it answered")
        if answers(port) == 200:
            return time.perf_counter() - t0
        time.sleep(0.01)
    raise RuntimeError(f"{proc.args[:4]} did not answer within {timeout} s")


def stop(proc: subprocess.Popen, timeout: float = 60) -> float:
    """SIGTERM and the seconds until the process and its session (gunicorn's, or amlops') have all exited."""
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=timeout)
    while _session_alive(proc.pid) and time.perf_counter() - t0 < timeout:
        time.sleep(0.01)
    return time.perf_counter() - t0


def _session_alive(sid: int) -> bool:
    """Whether a process of session `sid` (started with start_new_session) is still alive (Linux /proc)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                return True
    return False


def start(cmd: list[str], env: dict[str, str], port: int, log: Path) -> tuple[subprocess.Popen, float]:
    t0 = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return proc, until_ready(proc, port, t0)


def plain(model_dir: Path, port: int) -> tuple[list[str], dict[str, str]]:
    cmd = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--worker-class", "sync",
        "--no-control-socket", "azureml_inference_server_http.server.entry:app",
    ]
    return cmd, {"AZUREML_MODEL_DIR": str(model_dir), "AZUREML_ENTRY_SCRIPT": "score.py", "AML_APP_ROOT": str(HERE / "plain")}


def serve(version: int, port: int) -> list[str]:
    return [str(BIN / "amlops"), "serve", "--stack", "dev", "--model", f"{NAME}:{version}", "--port", str(port), "--workers", str(WORKERS), "--no-auth", "--no-logs"]


def register(work: Path, seed: int) -> int:
    """Fit the loans model on `seed`'s data, save it, register it; its version."""
    from amlops import data as data_mod
    from amlops import training
    from amlops.registry import Registry

    ds = data_mod.write_csv(data_mod.generate_loans(seed=seed), work / f"loans-{seed}.csv")
    model, facts = training.train(ds)
    folder = training.save_model(model, facts, work / f"model-{seed}")
    registered = Registry().register(NAME, folder).registered
    assert registered is not None
    return registered.version


def in_flight_stop(port: int, proc: subprocess.Popen) -> tuple[float, int, int]:
    """SIGTERM while a client keeps one request in flight: (seconds to exit, requests answered, requests lost).

    A request is lost when its connection was accepted and sent but no answer came back; a connection
    refused once the server stopped listening is the end of the run, not a loss."""
    body = b'{"data": [[2000, 2, 45]]}'
    answered, lost, running = [0], [0], threading.Event()
    running.set()

    def client() -> None:
        while running.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.connect()
            except OSError:
                return  # no longer listening
            try:
                conn.request("POST", "/score", body=body, headers={"Content-Type": "application/json"})
                conn.getresponse().read()
                answered[0] += 1
            except (OSError, http.client.HTTPException):
                lost[0] += 1
                return
            finally:
                conn.close()

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.5)
    seconds = stop(proc)
    running.clear()
    thread.join()
    return seconds, answered[0], lost[0]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving.start", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from amlops.paths import STATE_ENV
    from amlops.registry import Registry

    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        work = Path(tmp)
        os.environ[STATE_ENV] = str(work / "state")
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        log = work / "servers.log"
        served = register(work, 1)
        model_dir = Registry().download(NAME, served)
        port = free_port()
        proc, _ = start(serve(served, port), {}, port, log)  # served once: its package is cached
        stop(proc)
        times: dict[str, list[float]] = {"plain": [], "served": [], "new": []}
        stops: list[float] = []
        for n in range(args.repeat):
            new = register(work, 100 + n)
            order = ["plain", "served", "new"] if n % 2 == 0 else ["new", "served", "plain"]
            for case in order:
                port = free_port()
                if case == "plain":
                    cmd, env = plain(model_dir, port)
                else:
                    cmd, env = serve(served if case == "served" else new, port), {}
                proc, seconds = start(cmd, env, port, log)
                times[case].append(seconds)
                seconds = stop(proc)
                if case != "plain":
                    stops.append(seconds)
            print(f"round {n + 1}/{args.repeat}: " + ", ".join(f"{c} {times[c][-1]:.2f} s" for c in times), flush=True)
        port = free_port()
        proc, _ = start(serve(served, port), {}, port, log)
        flight = in_flight_stop(port, proc)
    print(f"\nready (GET / answers), {WORKERS} workers each, {args.repeat} alternating rounds; plain median {statistics.median(times['plain']):.2f} s")
    for case, label in (("served", "amlops serve, a version served before"), ("new", "amlops serve, a version just registered")):
        ratios = [a / b for a, b in zip(times[case], times["plain"])]
        median = statistics.median(ratios)
        print(
            f"  {label:<42} median {statistics.median(times[case]):.2f} s  {median:.2f}x plain (pairs {min(ratios):.2f}–{max(ratios):.2f}x)  "
            f"target ≤ {READY_TARGET}x: {'met' if median <= READY_TARGET else 'NOT met'}"
        )
    print(
        f"SIGTERM, idle: amlops serve's process tree gone in median {statistics.median(stops):.2f} s (max {max(stops):.2f} s, {len(stops)} stops); "
        f"target ≤ {STOP_TARGET_S} s: {'met' if statistics.median(stops) <= STOP_TARGET_S else 'NOT met'}"
    )
    seconds, answered, lost = flight
    print(
        f"SIGTERM with a request always in flight: gone in {seconds:.2f} s (target ≤ {STOP_TARGET_S} s: "
        f"{'met' if seconds <= STOP_TARGET_S else 'NOT met'}); {answered} requests answered, {lost} lost (target 0)"
    )


if __name__ == "__main__":
    main()
