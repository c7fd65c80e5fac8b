"""Fakes at the azure-ai-ml boundary: an MLClient whose operations return azure-ai-ml's own entities.

Each fake records its calls; nothing reaches Azure. Scoring goes to a real HTTP server on loopback
that records what it was sent (the remote invoke's key or token, its body).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"


@dataclass
class Azure:
    """What the fake workspace holds and what was asked of it."""

    endpoint: Any = None
    keys: Any = None
    logs: str = ""
    jobs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    raise_on: dict[str, Exception] = field(default_factory=dict)
    calls: list[tuple] = field(default_factory=list)
    clients: list[dict] = field(default_factory=list)
    submitted_job: str = "batchjob-7f3a"
    models: list[Any] = field(default_factory=list)
    model_files: dict[tuple[str, str], Path] = field(default_factory=dict)
    """The folder each created model version was uploaded from (what models.download writes back)."""

    def _do(self, op: str, *args, **kwargs):
        self.calls.append((op, args, kwargs))
        if op in self.raise_on:
            raise self.raise_on[op]


class _OnlineEndpoints:
    def __init__(self, azure: Azure):
        self.azure = azure

    def get(self, name):
        self.azure._do("online_endpoints.get", name)
        return self.azure.endpoint

    def get_keys(self, name):
        self.azure._do("online_endpoints.get_keys", name)
        return self.azure.keys


class _OnlineDeployments:
    def __init__(self, azure: Azure):
        self.azure = azure

    def get_logs(self, name, endpoint_name, lines, *, container_type=None, local=False):
        self.azure._do("online_deployments.get_logs", name=name, endpoint_name=endpoint_name, lines=lines, container_type=container_type)
        return self.azure.logs


class _BatchEndpoints:
    def __init__(self, azure: Azure):
        self.azure = azure

    def invoke(self, endpoint_name, *, deployment_name=None, inputs=None, **kwargs):
        from azure.ai.ml.entities import BatchJob

        self.azure._do("batch_endpoints.invoke", endpoint_name=endpoint_name, deployment_name=deployment_name, input=kwargs.get("input"))
        return BatchJob(name=self.azure.submitted_job)


class _Jobs:
    def __init__(self, azure: Azure):
        self.azure = azure

    def get(self, name):
        self.azure._do("jobs.get", name)
        if name not in self.azure.jobs:
            from azure.core.exceptions import ResourceNotFoundError

            raise ResourceNotFoundError(f"Job {name} not found in the workspace")
        return self.azure.jobs[name]

    def download(self, name, *, download_path=".", output_name=None, all=False):
        self.azure._do("jobs.download", name, download_path=download_path, output_name=output_name)
        for rel, text in self.azure.outputs.get(name, {}).items():
            path = Path(download_path) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


class _Models:
    def __init__(self, azure: Azure):
        self.azure = azure

    def list(self, name=None, stage=None, **kwargs):
        self.azure._do("models.list", name=name)
        return iter([m for m in self.azure.models if m.name == name])

    def create_or_update(self, model):
        from azure.ai.ml.entities import Model

        self.azure._do("models.create_or_update", model)
        created = Model(
            name=model.name, version=model.version, type=model.type, tags=model.tags, description=model.description,
            path=f"azureml://registries/loansreg/models/{model.name}/versions/{model.version}",
        )
        self.azure.models.append(created)
        self.azure.model_files[(model.name, str(model.version))] = Path(model.path)
        return created

    def download(self, name, version, download_path="."):
        """azure-ai-ml's layout: a folder asset lands in <download_path>/<name>/<the asset folder's name>/."""
        import shutil

        from azure.core.exceptions import ResourceNotFoundError

        self.azure._do("models.download", name=name, version=version, download_path=download_path)
        if (name, str(version)) not in self.azure.model_files:
            raise ResourceNotFoundError(f"Model container with name: {name} version: {version} not found.")
        source = self.azure.model_files[(name, str(version))]
        shutil.copytree(source, Path(download_path) / name / source.name)


def registry_model(name: str, version: int, accuracy: float | None):
    """A model version as a registry's models.list returns it."""
    from azure.ai.ml.entities import Model

    tags = {} if accuracy is None else {"accuracy": f"{accuracy:.6f}"}
    return Model(name=name, version=str(version), type="mlflow_model", tags=tags, path=f"azureml://registries/loansreg/models/{name}/versions/{version}")


def fake_mlclient(azure: Azure) -> Callable[..., Any]:
    """A stand-in for azure.ai.ml.MLClient bound to `azure`."""

    class FakeMLClient:
        def __init__(self, credential, subscription_id=None, resource_group_name=None, workspace_name=None, registry_name=None, **kwargs):
            if registry_name is not None:
                azure.clients.append({"registry_name": registry_name})
            else:
                azure.clients.append(
                    {"subscription_id": subscription_id, "resource_group_name": resource_group_name, "workspace_name": workspace_name}
                )
            self.models = _Models(azure)
            self.online_endpoints = _OnlineEndpoints(azure)
            self.online_deployments = _OnlineDeployments(azure)
            self.batch_endpoints = _BatchEndpoints(azure)
            self.jobs = _Jobs(azure)

    return FakeMLClient


def pipeline_job(name: str, status: str):
    """A batch job as jobs.get returns it (batch jobs are pipeline jobs), with its studio link."""
    from azure.ai.ml.entities import PipelineJob
    from azure.ai.ml.entities._job.job_service import JobService

    return PipelineJob(name=name, status=status, services={"Studio": JobService(endpoint=f"https://ml.azure.com/runs/{name}?wsid=ws")})


class ScoringServer:
    """A loopback scoring endpoint: answers `answer` (status `status`) and records each request."""

    def __init__(self, answer: dict, status: int = 200):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({"path": self.path, "authorization": self.headers.get("Authorization"), "body": body.decode()})
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("x-request-id", "req-42")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/score"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "ScoringServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def install(monkeypatch) -> Azure:
    """Replace azure.ai.ml.MLClient (and the credential) with fakes bound to a fresh Azure; set the subscription."""
    fake = Azure()
    monkeypatch.setattr("azure.ai.ml.MLClient", fake_mlclient(fake))
    monkeypatch.setattr("infra.credential.credential", lambda env=None: "test-credential")
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    return fake


def dev_target():
    """The dev stack's Azure names in the fake subscription."""
    from amlops.azure.target import target_for
    from amlops.stackfile import load_stack

    return target_for("dev", load_stack("dev"), SUBSCRIPTION)
