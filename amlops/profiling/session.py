"""One profile end to end: the stack's deployment served locally (or a given URL), stepped load,
recommendation and report."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from amlops.errors import UsageError
from amlops.profiling.loadgen import Target
from amlops.profiling.measurements import StepResult
from amlops.profiling.recommend import DEFAULT_HEADROOM, Recommendation, deployed_cores, recommend
from amlops.profiling.report import ReportFiles, default_out_dir, write_report
from amlops.profiling.stepping import LoadPlan, Profile, run_profile
from amlops.registry import Registry
from infra.config import StackConfig
from infra.skus import BY_NAME


@dataclass(frozen=True)
class ProfileRun:
    """What a profile produced: the measurements, the recommendation and the report files."""

    deployment: str
    profile: Profile
    recommendation: Recommendation
    files: ReportFiles
    context: dict


@contextlib.contextmanager
def local_endpoint(
    cfg: StackConfig, deployment: str, registry: Registry, model_name: str, model_version: int
) -> Iterator[tuple[Target, int]]:
    """Serve `deployment` of the stack on 127.0.0.1 (as `amlops serve` does); yields (target, server pid)."""
    from amlops.serving.endpoint import LocalEndpoint

    model_dir = registry.download(model_name, model_version)
    timeout_s = cfg.online.deployments[deployment].request_settings.request_timeout_ms / 1000.0
    ref = f"{model_name}:{model_version}"
    with LocalEndpoint(cfg, model_dir, deployment=deployment, host="127.0.0.1", port=0, model_ref=ref) as endpoint:
        yield Target(endpoint.scoring_url, endpoint.key, timeout_s), endpoint.pid


def profile_stack(
    stack: str,
    cfg: StackConfig,
    payloads: list[bytes],
    plan: LoadPlan,
    *,
    payload_source: str,
    deployment: str | None = None,
    url: str | None = None,
    key: str | None = None,
    target_rps: float | None = None,
    headroom: float = DEFAULT_HEADROOM,
    registry: Registry | None = None,
    model_name: str | None = None,
    model_version: int | None = None,
    out_dir: Path | None = None,
    on_step: Callable[[StepResult], None] | None = None,
) -> ProfileRun:
    """Profile the stack's deployment, served locally, or the endpoint at `url`; write the report.

    Locally the model is `model_name:model_version` from `registry` (default: what the
    deployment pins, from the stack's registry), and the server's process tree is measured.
    Raises the typed errors of `run_profile`.
    """
    from amlops.deployments import choose_deployment

    name = choose_deployment(cfg, deployment)
    dep = cfg.online.deployments[name]
    if key is not None and url is None:
        raise UsageError("--key goes with --url (a local endpoint's key is read from the state folder)")
    context = {
        "stack": stack,
        "deployment": name,
        "local": url is None,
        "payloads": payload_source,
        "workerCount": dep.worker_count,
        "machineCores": os.cpu_count(),
    }
    if url is None:
        model_name = model_name or cfg.model.name
        model_version = model_version or cfg.deployment_model_version(name)
        context["model"] = f"{model_name}:{model_version}"
        registry = registry or Registry(cfg.registry.tracking_uri)
        with local_endpoint(cfg, name, registry, model_name, model_version) as (target, pid):
            profile = run_profile(target, payloads, plan, server_pid=pid, on_step=on_step)
        serving_cores, notes = None, []
    else:
        target = Target(url, key, dep.request_settings.request_timeout_ms / 1000.0)
        profile = run_profile(target, payloads, plan, on_step=on_step)
        serving_cores = deployed_cores(BY_NAME[dep.instance_type], dep.instance_count, dep.worker_count)
        context["assumedDeployment"] = {"instanceType": dep.instance_type, "instanceCount": dep.instance_count}
        notes = [
            f"the endpoint at --url serves the {stack} stack's deployment {name!r} as configured: "
            f"{dep.instance_count} × {dep.instance_type}, workerCount {dep.worker_count}"
        ]
    rec = recommend(
        profile.steps,
        slo_p99_ms=plan.slo_p99_ms,
        worker_count=dep.worker_count,
        target_rps=target_rps,
        headroom=headroom,
        serving_cores=serving_cores,
        notes=notes,
    )
    where = "local" if url is None else profile.target
    context["title"] = f"amlops profile: {stack}/{name} ({where}), SLO p99 ≤ {plan.slo_p99_ms:g} ms"
    files = write_report(profile, rec, out_dir or default_out_dir(), context)
    return ProfileRun(name, profile, rec, files, context)
