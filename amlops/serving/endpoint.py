"""LocalEndpoint: one deployment of a stack served on this machine, as Azure would serve it.

scoring/score.py runs unchanged under the Azure ML inference server's app (gunicorn sync
workers); the deployment's worker count, request settings (timeout, concurrency, queue wait),
body limit and row limit come from the stack; admission (429, amlops.serving.admission), key
auth and telemetry are added in front (amlops.serving.frontdoor).

    with LocalEndpoint(cfg, model_dir) as ep:
        httpx.post(ep.scoring_url, json=payload, headers={"Authorization": f"Bearer {ep.key}"})
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from amlops.errors import UsageError
from amlops.paths import SCORING_DIR, state_dir
from amlops import modelref
from amlops.deployments import choose_deployment
from amlops.serving import keys as keys_mod
from amlops.serving.server import GunicornServer, GunicornSpec, ServerStartError
from amlops.serving.settings import BUILD_PACKAGE, Admission, FrontDoorSettings
from amlops.serving.telemetry.localfile import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, telemetry_path
from infra import scoring_package
from infra.config import ENDPOINT_ENV, MAX_ROWS_ENV, DeploymentConfig, OnlineConfig, StackConfig
from infra.config.model_monitor import TARGET_COLUMN_ENV, DataCollectorConfig
from amlops.modelmonitor.agent import CollectorAgent

ENTRY_SCRIPT = "score.py"
WSGI_APP = "amlops.serving.wsgi:app"
WORKER_CLASS = "amlops.serving.worker.JsonErrorWorker"
"""gunicorn's sync worker answering its own refusals (unparsable requests) in the JSON error shape."""
ADMITTING_WORKER_CLASS = "amlops.serving.worker.AdmittingWorker"
"""The same, taking its connections from the master's admission (429 at arrival, amlops.serving.admission)."""
PRELOAD = "amlops.serving.preload"
"""gunicorn's config module: the master imports what every worker needs before forking them, and runs the admission."""


def parse_model_ref(ref: str) -> tuple[str, int]:
    """`--model NAME:VERSION` → (name, version), through the one parser."""
    name, version = modelref.parse_model_ref(ref, "--model")
    assert version is not None  # required
    return name, version


def model_for(cfg: StackConfig, deployment: str, override: str | None = None) -> tuple[str, int]:
    """The model a deployment serves: `--model NAME:VERSION` if given, else the stack's pin."""
    if override:
        return parse_model_ref(override)
    return cfg.model.name, cfg.deployment_model_version(deployment)


def worker_timeout_s(request_timeout_ms: int) -> int:
    """gunicorn's worker timeout: a backstop well past the request timeout (which answers 408 first)."""
    return max(30, math.ceil(request_timeout_ms / 1000) * 2)


class LocalEndpoint:
    """A stack's online deployment served locally by the real inference server; a context manager."""

    def __init__(
        self,
        cfg: StackConfig,
        model_dir: Path,
        *,
        deployment: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int | None = None,
        auth: bool = True,
        telemetry: bool = True,
        model_ref: str | None = None,
        scoring_dir: Path = SCORING_DIR,
        max_concurrent_requests_per_instance: int | None = None,
        admission: bool = True,
        telemetry_max_bytes: int = DEFAULT_MAX_BYTES,
        telemetry_backups: int = DEFAULT_BACKUPS,
        data_collector: DataCollectorConfig | None = None,
        target_column: str | None = None,
        online: OnlineConfig | None = None,
        entry_script: str = ENTRY_SCRIPT,
    ):
        """`max_concurrent_requests_per_instance` overrides the stack's (429 above twice it);
        `admission=False` takes every request (no 429), as a plain inference server does.
        `data_collector` turns on the deployment's data collection (its local agent, amlops.modelmonitor.agent);
        `target_column` names the model_outputs column (the monitor's training label).
        `online` serves an endpoint that is not the one model's (an amlops:multiModel group's, with `model_dir` its
        combined folder, `entry_script` score_multi.py and `model_ref` naming it): its deployments and settings.
        `entry_script` is the script in `scoring_dir` the server runs (the deployment's scoring_script)."""
        self.cfg = cfg
        self.model_dir = Path(model_dir)
        endpoint = online if online is not None else cfg.online
        self.deployment = choose_deployment(endpoint, deployment)
        dep: DeploymentConfig = endpoint.deployments[self.deployment]
        self.settings = dep.request_settings
        self.workers = workers or dep.worker_count
        if model_ref is None and online is not None:
            raise UsageError("serving an endpoint given by its settings needs model_ref (what it serves)")
        self.model_ref = model_ref or f"{cfg.model.name}:{cfg.deployment_model_version(self.deployment)}"
        self.scoring_dir = Path(scoring_dir)
        self.entry_script = entry_script
        if not (self.scoring_dir / entry_script).is_file():
            raise UsageError(f"{self.scoring_dir}: no {entry_script} (the scoring entry script)")
        # scoring/ plus the swagger generated from this model's signature (a group's combined folder: its members',
        # routed by "model"; infra/swagger_multi.py): what the server runs. Its place is known from content hashes;
        # when not built yet, gunicorn's master builds it (amlops.serving.preload) and this process never loads the model.
        self.app_root = scoring_package.package_dir(self.model_dir, max_rows=self.settings.max_rows, title=self.model_ref, scoring_dir=self.scoring_dir)
        self.endpoint_name = endpoint.endpoint_name
        self.key: str | None = None
        self.secondary_key: str | None = None
        keys_file = None
        if auth:
            keys, keys_file = keys_mod.load_or_create(self.endpoint_name)
            self.key, self.secondary_key = keys.primary, keys.secondary
        self.telemetry_path = telemetry_path(self.endpoint_name) if telemetry else None
        state = state_dir() / "endpoints" / self.endpoint_name
        self.admission: Admission | None = None
        if admission:
            self.admission = Admission(
                max_concurrent_requests_per_instance=max_concurrent_requests_per_instance or self.settings.max_concurrent_requests_per_instance,
                # Deprecated for managed online endpoints (Azure no longer reads it there):
                # https://learn.microsoft.com/en-us/javascript/api/@azure/arm-machinelearning/onlinerequestsettings
                max_queue_wait_ms=self.settings.max_queue_wait_ms if endpoint.target == "kubernetes" else None,
                workers=self.workers,
            )
        front = FrontDoorSettings(
            keys_file=keys_file,
            max_body_bytes=self.settings.max_body_bytes,
            timeout_ms=self.settings.request_timeout_ms,
            telemetry_file=self.telemetry_path,
            endpoint=self.endpoint_name,
            deployment=self.deployment,
            model=self.model_ref,
            admission=self.admission,
            telemetry_max_bytes=telemetry_max_bytes,
            telemetry_backups=telemetry_backups,
        )
        env = {
            **dep.environment_variables,  # what the deployment sets in Azure; ours win below
            "AML_APP_ROOT": str(self.app_root),
            "AZUREML_ENTRY_SCRIPT": entry_script,
            "AZUREML_MODEL_DIR": str(self.model_dir),
            MAX_ROWS_ENV: str(self.settings.max_rows),
            ENDPOINT_ENV: self.endpoint_name,
            "SCORING_TIMEOUT_MS": str(self.settings.request_timeout_ms),
            "SERVICE_NAME": self.endpoint_name,
            **front.to_env(),
        }
        self._package_error: Path | None = None
        if not scoring_package.is_built(self.app_root):
            self._package_error = state / f"package-error-{os.getpid()}-{id(self):x}.txt"
            env[BUILD_PACKAGE] = json.dumps({
                "model_dir": str(self.model_dir), "max_rows": self.settings.max_rows, "title": self.model_ref,
                "scoring_dir": str(self.scoring_dir), "error_file": str(self._package_error),
            })
        spec = GunicornSpec(
            app=WSGI_APP,
            env=env,
            workers=self.workers,
            worker_timeout_s=worker_timeout_s(self.settings.request_timeout_ms),
            log_dir=state / "logs",
            worker_class=ADMITTING_WORKER_CLASS if self.admission is not None else WORKER_CLASS,
            extra_args=["--config", f"python:{PRELOAD}"],
        )
        if target_column:
            env[TARGET_COLUMN_ENV] = target_column
        self.collector: CollectorAgent | None = None
        if data_collector is not None:
            self.collector = CollectorAgent(
                self.endpoint_name, self.deployment, collections=data_collector.collections,
                sampling_rate=data_collector.sampling_rate, rolling_rate=data_collector.rolling_rate, state=state,
            )
        self._server = GunicornServer(spec, host=host, port=port)

    @property
    def url(self) -> str:
        """`http://HOST:PORT` once started."""
        return self._server.url

    @property
    def scoring_url(self) -> str:
        return self.url + "/score"

    @property
    def swagger_url(self) -> str:
        return self.url + "/swagger.json"

    @property
    def port(self) -> int | None:
        return self._server.port

    @property
    def pid(self) -> int | None:
        """The gunicorn master's PID (its children are the workers)."""
        return self._server.pid

    @property
    def log_path(self) -> Path | None:
        """The server's stdout/stderr: the inference server's and the script's log lines."""
        return self._server.log_path

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header a client sends (empty when auth is off)."""
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def start(self) -> "LocalEndpoint":
        """Start the server; returns when `/` answers. Raises ServerStartError carrying init()'s own error."""
        if self.collector is not None:  # score.py's collectors post to it from the workers
            self._server.spec.env.update(self.collector.start().env)
        try:
            self._server.start()
        except BaseException as exc:
            self._stop_collector()
            if isinstance(exc, ServerStartError) and self._package_error is not None and self._package_error.is_file():
                message = self._package_error.read_text()
                self._package_error.unlink()
                raise UsageError(message) from None  # a model score.py cannot load, as amlops.serving.package says
            raise
        return self

    def _stop_collector(self) -> None:
        if self.collector is not None:
            self.collector.stop()

    def stop(self) -> int | None:
        """Stop gunicorn (SIGTERM to the master, then wait); returns its exit code."""
        code = self._server.stop()
        self._stop_collector()
        return code

    def poll(self) -> int | None:
        """The server's exit code if it has exited, else None."""
        proc = self._server.process
        return proc.poll() if proc is not None else None

    def wait(self) -> int:
        """Block until the server exits on its own; returns its exit code."""
        assert self._server.process is not None
        return self._server.process.wait()

    def __enter__(self) -> "LocalEndpoint":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
