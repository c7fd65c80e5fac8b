"""The data collector's local agent: what receives score.py's collected DataFrames when `amlops serve` runs.

In Azure, `azureml-ai-monitoring`'s Collector (called from score.py) posts each logged DataFrame to the
deployment's collector agent at `http://AZUREML_MDC_HOST:AZUREML_MDC_PORT/modeldata/log`, with CloudEvents
headers (`ce-type`, `ce-time`, `ce-x-request-id`, …); the agent writes it to blob storage. Which
collections are on, and their sampling, the package reads from the JSON file at `AZUREML_MDC_CONFIG_PATH`
(`collections.<name>.enabled`, `.sampleRatePercentage`) — both as the package's own code does (azureml-ai-monitoring
1.0.0: config/config.py, worker/sender.py). This agent takes the same posts on loopback and writes the
records where and as Azure lays them out (amlops.modelmonitor.collected), so the real package runs unchanged.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from amlops.modelmonitor import collected

LOG_PATH = "/modeldata/log"
CONFIG_ENV = "AZUREML_MDC_CONFIG_PATH"
HOST_ENV = "AZUREML_MDC_HOST"
PORT_ENV = "AZUREML_MDC_PORT"
MAX_PAYLOAD = 64 * 1024 * 1024


def mdc_config(collections: tuple[str, ...], sampling_rate: float) -> dict:
    """The collector configuration the package reads: each declared collection enabled, sampled at the deployment's rate."""
    return {"runMode": "cloud", "collections": {c: {"enabled": True, "sampleRatePercentage": sampling_rate * 100} for c in collections}}


class CollectorAgent:
    """A loopback HTTP server that writes posted collections as `{instance_id}.jsonl` files in Azure's layout."""

    def __init__(self, endpoint: str, deployment: str, *, collections: tuple[str, ...], sampling_rate: float, rolling_rate: str, state: Path, source: str = ""):
        self.endpoint, self.deployment, self.rolling_rate = endpoint, deployment, rolling_rate
        self.collections = collections
        self.instance_id = str(uuid.uuid4())
        """Azure's `{instance_id}`: one grouping of logged data (here: one agent's run)."""
        self.source = source or f"/local/onlineEndpoints/{endpoint}/deployments/{deployment}"
        self.config_path = state / f"mdc-{self.instance_id}.json"
        self.config = mdc_config(collections, sampling_rate)
        self.received: dict[str, int] = {c: 0 for c in collections}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def env(self) -> dict[str, str]:
        """What the scoring process needs to reach this agent."""
        assert self._server is not None, "start() first"
        return {CONFIG_ENV: str(self.config_path), HOST_ENV: "127.0.0.1", PORT_ENV: str(self._server.server_address[1])}

    def start(self) -> "CollectorAgent":
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="mdc-agent", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.config_path.unlink(missing_ok=True)

    def wait_for(self, counts: dict[str, int], timeout: float) -> bool:
        """Wait until each collection has received at least `counts[name]` records; False on timeout."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(self.received.get(c, 0) >= n for c, n in counts.items()):
                    return True
            time.sleep(0.05)
        return False

    def write(self, headers, body: bytes) -> tuple[int, str]:
        """Write one posted payload as a record; returns the HTTP status and a message."""
        event_type = headers.get("ce-type", "")
        collection = event_type.removeprefix("azureml.inference.")
        if collection not in self.collections:
            return 400, f"collection {collection!r} is not enabled"
        try:
            data = json.loads(body)
        except ValueError:
            return 400, "the payload is not JSON"
        when = datetime.fromtimestamp(int(headers.get("ce-time") or 0) or datetime.now(timezone.utc).timestamp(), timezone.utc)
        request_id = headers.get("ce-x-request-id")
        record = {
            "specversion": "1.0",
            "id": headers.get("trace-id") or str(uuid.uuid4()),
            "source": self.source,
            "type": event_type,
            "datacontenttype": headers.get("Content-Type", "application/json"),
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": data,
            "correlationid": request_id,
            "xrequestid": request_id,
            "modelversion": headers.get("ce-model-version", "default"),
            "collectdatatype": headers.get("ce-collect-data-type", ""),
            "agent": headers.get("ce-agent", ""),
            "contentrange": f"bytes 0-{len(body) - 1}/{len(body)}",
        }
        line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
        folder = collected.collection_dir(self.endpoint, self.deployment, collection) / collected.rolled(when, self.rolling_rate)
        with self._lock:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / f"{self.instance_id}.jsonl", "a", encoding="utf-8") as f:
                f.write(line)
            self.received[collection] += 1
        return 200, "ok"

    def __enter__(self) -> "CollectorAgent":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(agent: CollectorAgent) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # else each answer waits ≈ 40 ms for the client's delayed ACK

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            if self.path != LOG_PATH:
                status, message = 404, f"post to {LOG_PATH}"
            elif not 0 < length <= MAX_PAYLOAD:
                status, message = 413 if length else 400, "a payload of 1 byte to 64 MB"
            else:
                status, message = agent.write(self.headers, self.rfile.read(length))
            body = message.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # the server's stderr is not the place
            pass

    return Handler
