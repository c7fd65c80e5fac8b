"""What a GitHub job's step sees: its environment derived from the workflow file, a stand-in OIDC endpoint, a fresh process.

GitHub gives a step the workflow's `env`, then the job's, then the step's (later wins), plus the
runner's own variables; a job whose `permissions` grant `id-token: write` also gets
ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN:
  https://docs.github.com/en/actions/writing-workflows/choosing-what-your-workflow-does/store-information-in-variables#default-environment-variables
  https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#updating-your-actions-for-oidc
`${{ secrets.X }}`, `${{ vars.X }}` and `${{ inputs.X }}` are replaced by the values a test gives (a
secret the test does not give is a non-empty placeholder, as a configured one would be); any other
expression fails the derivation, so a workflow change the test does not understand cannot pass unseen.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Mapping

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
_EXPR = re.compile(r"\$\{\{\s*(secrets|vars|inputs)\.([A-Za-z0-9_-]+)\s*\}\}")
RUNNER_TOKEN = "runner-request-token-42"
"""What the runner puts in ACTIONS_ID_TOKEN_REQUEST_TOKEN (a bearer for the token endpoint)."""
RUNNER_BASE = {"HOME": str(Path.home()), "PATH": "/usr/bin:/bin", "CI": "true", "GITHUB_ACTIONS": "true"}
"""The runner variables a process needs besides the workflow's (no proxy, no Azure variable)."""


def workflow(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def _substitute(value: object, where: str, secrets: Mapping[str, str], inputs: Mapping[str, str], variables: Mapping[str, str]) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)

    def one(m: re.Match) -> str:
        kind, key = m.group(1), m.group(2)
        if kind == "secrets":
            return secrets.get(key, f"secret-{key}")
        if kind == "vars":
            return variables.get(key, f"var-{key}")
        if key not in inputs:
            raise AssertionError(f"{where}: input {key!r} has no value in the test")
        return inputs[key]

    text = _EXPR.sub(one, text)
    if "${{" in text:
        raise AssertionError(f"{where}: an expression the derivation does not know: {text!r}")
    return text


def find_step(job: dict, name: str) -> dict:
    for step in job["steps"]:
        if step.get("name") == name:
            return step
    raise AssertionError(f"no step named {name!r}; steps: {[s.get('name') or s.get('uses') for s in job['steps']]}")


def step_env(
    workflow_name: str, job_name: str, step_name: str, *, oidc_url: str | None,
    secrets: Mapping[str, str] = {}, inputs: Mapping[str, str] = {}, variables: Mapping[str, str] = {},
) -> dict[str, str]:
    """The environment the step gets: workflow env + job env + step env, and the runner's OIDC variables
    when the job may request a token (`oidc_url` is where the stand-in token endpoint listens)."""
    doc = workflow(workflow_name)
    job = doc["jobs"][job_name]
    step = find_step(job, step_name)
    env = dict(RUNNER_BASE)
    for where, block in (("env", doc.get("env")), (f"jobs.{job_name}.env", job.get("env")), (f"step {step_name!r} env", step.get("env"))):
        for key, value in (block or {}).items():
            env[key] = _substitute(value, f"{workflow_name}: {where}.{key}", secrets, inputs, variables)
    permissions = job.get("permissions", doc.get("permissions")) or {}
    if isinstance(permissions, dict) and permissions.get("id-token") == "write" and oidc_url is not None:
        env["ACTIONS_ID_TOKEN_REQUEST_URL"] = oidc_url
        env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = RUNNER_TOKEN
    return env


def run_commands(step: dict, env: Mapping[str, str]) -> list[list[str]]:
    """The commands of a `run` step that call `.venv/bin/...`, as argument lists with the step's variables expanded.

    Line continuations are joined, a pipeline keeps its first command (`… | tee x`), and `$VAR` /
    `"$VAR"` are expanded from `env` the way bash would for these simple words.
    """
    script = step["run"].replace("\\\n", " ")
    commands = []
    for line in script.splitlines():
        line = line.strip()
        if not line.startswith(".venv/bin/"):
            continue
        words = shlex.split(line.split(" | ")[0])
        expanded = []
        for word in words:
            for name in re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", word):
                if name not in env:
                    raise AssertionError(f"{line!r} uses ${name}, which the step's environment does not set")
                word = re.sub(r"\$\{?" + name + r"\}?", env[name], word)
            expanded.append(word)
        commands.append(expanded)
    return commands


class OidcStandIn:
    """GitHub's OIDC token endpoint on loopback: answers a JWT-shaped value and records each request.

    GitHub's endpoint takes the runner's request token as a bearer and the audience as a query parameter:
      https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#updating-your-actions-for-oidc
    """

    TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vcjplbnZpcm9ubWVudDpkZXYifQ.c2ln"

    def __init__(self):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                outer.requests.append({"path": urllib.parse.urlparse(self.path).path, "query": query, "authorization": self.headers.get("Authorization")})
                ok = self.headers.get("Authorization") == f"Bearer {RUNNER_TOKEN}"
                body = json.dumps({"value": outer.TOKEN} if ok else {"message": "bad bearer"}).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # GitHub's URL already carries a query (api-version); the client must append the audience to it.
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/_apis/distributedtask/token?api-version=2.0"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "OidcStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


_OFFLINE = '''
import ipaddress, json, sys, time
time.sleep = lambda seconds: None  # the SDKs' retry back-off would only wait for refusals
_asked = []
def _guard(event, args):
    # Below the network boundary: every name lookup and connection is checked; only loopback passes.
    if event == "socket.getaddrinfo":
        host = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    elif event == "socket.connect" and isinstance(args[1], tuple):
        host = str(args[1][0])
    else:
        return
    try:
        if host == "localhost" or ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    _asked.append(host)
    raise OSError(f"offline test: {host} is not loopback")
sys.addaudithook(_guard)
def _report(result):
    print("@@" + json.dumps({"asked": _asked, "result": result}))
'''


def run_offline(body: str, env: Mapping[str, str], args: list[str] = ()) -> tuple[dict, subprocess.CompletedProcess]:
    """Run `body` in a fresh interpreter with exactly `env`, every non-loopback lookup refused and recorded.

    `body` calls `_report(result)` once; returns ({"asked": [hosts refused, in order], "result": …}, the process).
    """
    done = subprocess.run(
        [sys.executable, "-c", _OFFLINE + body, *args], env=dict(env), cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    lines = [line[2:] for line in done.stdout.splitlines() if line.startswith("@@")]
    if not lines:
        raise AssertionError(f"the process reported nothing (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1]), done
