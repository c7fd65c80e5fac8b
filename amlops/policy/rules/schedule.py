"""Rules on a model's batch schedule (a pipeline job scoring as its batch deployment); a finding names the model and its keys."""

from __future__ import annotations

import re
from typing import Iterator, Mapping

from amlops.plan.document import Resource
from amlops.policy.owners import owner_of
from amlops.policy.rules.registry import MANDATORY, Finding, rule
from amlops.policy.subject import Subject


def _scheduled_steps(schedule: Resource) -> dict[str, Mapping]:
    """The parallel steps of a CreateJob schedule's pipeline job, by name."""
    jobs = schedule.get("properties.action.jobDefinition.jobs")
    if not isinstance(jobs, Mapping):
        return {}
    return {name: node for name, node in jobs.items() if isinstance(node, Mapping) and node.get("type") == "parallel"}


def _bare(asset: object) -> str:
    """An asset reference without azure-ai-ml's `azureml:` prefix (ARM ids are compared as ids); an Azure ML
    registry's `azureml://registries/...` URI is the reference itself and stays whole."""
    text = str(asset or "")
    return text[len("azureml:"):] if text.startswith("azureml:/") and not text.startswith("azureml://") else text


_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def _duration_seconds(value: object) -> float | None:
    """An ARM duration as a deployment carries it (PT1M, PT30S) in seconds, as a parallel step carries it; None if not one."""
    m = _DURATION.match(str(value or ""))
    if not m or not any(m.groups()):
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    return hours * 3600 + minutes * 60 + seconds


def _step_differences(schedule: Resource, step: Mapping, deployment: Resource) -> list[str]:
    """What a scheduled parallel step does differently from the batch deployment (empty when it scores the same way)."""
    task = step.get("task") or {}
    job = schedule.get("properties.action.jobDefinition") or {}
    retry = step.get("retry_settings") or {}
    model_input = ((job.get("inputs") or {}).get("model") or {}).get("uri")
    pairs = {
        "entry script": (task.get("entry_script"), deployment.get("properties.codeConfiguration.scoringScript")),
        "code": (_bare(task.get("code")), deployment.get("properties.codeConfiguration.codeId")),
        "environment": (_bare(task.get("environment")), deployment.get("properties.environmentId")),
        "model": (_bare(model_input), deployment.get("properties.model.assetId")),
        "cluster": (_bare((job.get("settings") or {}).get("default_compute")), deployment.get("properties.compute")),
        "miniBatchSize": (step.get("mini_batch_size"), deployment.get("properties.miniBatchSize")),
        "maxConcurrencyPerInstance": (step.get("max_concurrency_per_instance"), deployment.get("properties.maxConcurrencyPerInstance")),
        "instanceCount": ((step.get("resources") or {}).get("instance_count"), deployment.get("properties.resources.instanceCount")),
        "errorThreshold": (step.get("error_threshold"), deployment.get("properties.errorThreshold")),
        "retrySettings.maxRetries": (retry.get("max_retries"), deployment.get("properties.retrySettings.maxRetries")),
        "retrySettings.timeout": (retry.get("timeout"), _duration_seconds(deployment.get("properties.retrySettings.timeout"))),
        "loggingLevel": (str(step.get("logging_level") or "").upper(), str(deployment.get("properties.loggingLevel") or "").upper()),
        "environmentVariables": (step.get("environment_variables") or None, deployment.get("properties.environmentVariables") or None),
    }
    # recorded ints arrive as floats: 2 == 2.0, so they compare as the same setting
    return [f"{what} {mine!r} ≠ {theirs!r}" for what, (mine, theirs) in pairs.items() if mine != theirs]


@rule("batch-schedule-same-as-deployment", MANDATORY)
def batch_schedule_same_as_deployment(s: Subject) -> Iterator[Finding]:
    """A scheduled batch run scores exactly as its model's batch deployment does: same script, code, environment,
    model, cluster and batch settings (infra/schedule.py maps each to the parallel field that reads it).

    Reads the plan: the Schedule's CreateJob pipeline job (its parallel step, inputs and default compute) and the
    BatchDeployment of the same model (by owner) with its properties.
    """
    for res in s.of_type("machinelearningservices:Schedule"):
        if res.get("properties.action.actionType") != "CreateJob":
            continue
        steps = _scheduled_steps(res)
        if not steps:
            continue
        owner = owner_of(s, res)
        deployments = [d for d in s.of_type("machinelearningservices:BatchDeployment") if owner_of(s, d).key == owner.key]
        if len(deployments) != 1:
            yield res.urn, (
                f"{owner.names()}{res.label}: runs a batch step, but its model has {len(deployments)} batch deployments; "
                f"declare {owner.setting('batch')} in {s.stack_file} (infra/batch_endpoint.py) so the schedule scores as it does"
            )
            continue
        for name, step in steps.items():
            diff = _step_differences(res, step, deployments[0])
            if diff:
                yield res.urn, (
                    f"{owner.names()}{res.label}: step {name!r} does not score as batch deployment {deployments[0].label} does: "
                    f"{'; '.join(diff)}; build both from {owner.setting('batch')} in {s.stack_file} (infra/schedule.py)"
                )


@rule("prod-schedule-needs-alerts", MANDATORY)
def prod_schedule_needs_alerts(s: Subject) -> Iterator[Finding]:
    """In prod an enabled schedule runs only with alerts on (someone hears when it fails).

    Reads the plan: the Schedule's properties.isEnabled; and the validated stack config's
    monitoring.alertsEnabled, or where the config is unknown whether the plan declares an action group.
    """
    if not s.is_prod:
        return
    alerts = s.config_get("monitoring.alertsEnabled")
    if alerts is None:
        alerts = bool(s.of_type("monitor:ActionGroup"))
    if alerts:
        return
    for res in s.of_type("machinelearningservices:Schedule"):
        if res.get("properties.isEnabled") is not False:
            owner = owner_of(s, res)
            yield res.urn, (
                f"{owner.names()}{res.label}: an enabled schedule in prod without alerts; set amlops:monitoring.alertsEnabled: true "
                f"(with actionGroupEmail) or {owner.setting('batch.schedule.enabled')}: false in {s.stack_file}"
            )
