"""The quickstart's many-models stage: the two-model stack the train stage wrote (the loans classifier and a Ridge
regressor) served and called the way a user does it, through the CLI: `amlops serve` starts every online endpoint at
once, each on its own port with its own key, and `amlops invoke --endpoint <key>` calls each (each also refuses the
other endpoint's key)."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

from amlops.paths import STACKS_ENV

LOANS_ROWS = [[2000, 2, 45], [9000, 1, 60]]
CLI = [sys.executable, "-c", "from amlops.cli import main; main()"]
"""`amlops` as this interpreter runs it (the venv's console script does the same)."""
START_SECONDS = 240.0
"""How long `amlops serve` may take to start both endpoints (it packages scoring/ per model on first use)."""
STOP_SECONDS = 60.0
SERVING = re.compile(r"serving (?P<what>\S+) as (?P<endpoint>[^/\s]+)/\S+ at (?P<url>http://\S+/score) ")


def quickstart_stage(ctx) -> None:
    """`amlops serve --stack <stack>` over the two-model stack (AMLOPS_STACKS_DIR), then `amlops invoke` per endpoint."""
    from amlops.serving.keys import load_or_create

    whole = ctx.whole
    path = ctx.stacks_dir / f"Pulumi.{ctx.stack}.yaml"
    env = {**os.environ, STACKS_ENV: str(ctx.stacks_dir), "COLUMNS": "250"}
    folder = ctx.models["diabetes"].folder
    bodies = {"loans": {"data": LOANS_ROWS}, "diabetes": {"data": json.loads((folder / "input_example.json").read_text())["data"][:2]}}
    serve = ["serve", "--stack", ctx.stack, "--port", "0", "--no-logs"]
    ctx.console.print(f"$ {STACKS_ENV}={ctx.stacks_dir} amlops {shlex.join(serve)}", highlight=False, markup=False, soft_wrap=True)
    t0 = time.perf_counter()
    server = subprocess.Popen([*CLI, *serve], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(server, lines), daemon=True).start()
    try:
        printed = _until_started(server, lines)
        urls = {m["endpoint"]: (m["what"], m["url"]) for m in map(SERVING.match, printed) if m}
        ctx.console.print(f"both endpoints serving at once in {time.perf_counter() - t0:.1f} s (pid {server.pid}):", highlight=False)
        answers = {}
        for key, m in whole.models.items():
            name = m.online.endpoint_name
            what, url = urls[name]
            other = next(o.online.endpoint_name for k, o in whole.models.items() if k != key)
            body = ctx.stacks_dir.parent / "requests" / f"{key}.json"  # the rows as a file: a readable command line
            body.parent.mkdir(parents=True, exist_ok=True)
            body.write_text(json.dumps(bodies[key]) + "\n")
            call = ["invoke", "--stack", ctx.stack, "--endpoint", key, "--file", str(body)]
            ctx.console.print(f"$ amlops {shlex.join(call)}", highlight=False, markup=False, soft_wrap=True)
            done = subprocess.run([*CLI, *call], capture_output=True, text=True, env=env, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"amlops invoke --endpoint {key} failed ({done.returncode}): {done.stderr.strip()}")
            answers[key] = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
            refused = subprocess.run([*CLI, *call, "--key", load_or_create(other)[0].primary], capture_output=True, text=True, env=env, timeout=120)
            status = re.search(r"answered (\d{3})", " ".join(refused.stderr.split()))
            ctx.console.print(
                f"  {key:<9} {what:<22} {url}  → 200 {json.dumps(answers[key])[:80]}"
                f"  (the other endpoint's key: {status.group(1) if status else refused.returncode})",
                highlight=False, markup=False,
            )
    finally:
        stopped = _stop(server, lines)
    for line in stopped:
        ctx.console.print(f"  {line}", highlight=False, markup=False)
    ctx.facts["many_models"] = {"answers": answers, "stack": str(path), "choices": whole.choices()}
    ctx.console.print(
        f"  each endpoint has its own keys and telemetry under .amlops/endpoints/<endpoint>/ "
        f"(amlops endpoint keys|logs --stack {ctx.stack} --endpoint <key>)",
        highlight=False, markup=False,
    )


def _pump(server: subprocess.Popen, lines: "queue.Queue[str | None]") -> None:
    """Every line `amlops serve` prints, into `lines`; None when it closes its output."""
    assert server.stdout is not None
    for line in server.stdout:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _until_started(server: subprocess.Popen, lines: "queue.Queue[str | None]") -> list[str]:
    """The lines `amlops serve` printed up to `Ctrl-C stops …` (every endpoint started); RuntimeError with them if it
    exits or takes longer than START_SECONDS."""
    printed: list[str] = []
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError(f"amlops serve (pid {server.pid}) started no endpoint within {START_SECONDS:.0f} s:\n" + "\n".join(printed)) from None
        if line is None:
            raise RuntimeError(f"amlops serve exited ({server.wait()}) before serving:\n" + "\n".join(printed))
        printed.append(line)
        if line.startswith("Ctrl-C stops"):
            return printed


def _stop(server: subprocess.Popen, lines: "queue.Queue[str | None]") -> list[str]:
    """SIGTERM to the server we started (by its PID), bounded; its `stopped …` lines."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()  # the process we started, by its PID
        server.wait(timeout=STOP_SECONDS)
    out: list[str] = []
    while True:
        try:
            line = lines.get(timeout=5)
        except queue.Empty:
            break
        if line is None:
            break
        if line.startswith("stopped "):
            out.append(line)
    return out
