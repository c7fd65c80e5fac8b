"""Rules on schedules that invoke a model's batch endpoint; a finding names the model and its stack-file keys."""

from __future__ import annotations

from typing import Iterator, Mapping

from amlops.plan.document import Resource
from amlops.policy.owners import endpoint_name, owner_of
from amlops.policy.rules.registry import MANDATORY, Finding, rule
from amlops.policy.subject import Subject


def _invoked_endpoint(s: Subject, schedule: Resource) -> Resource | None:
    """The batch endpoint a schedule invokes: named by its invocation's endpointId, or among its dependencies."""
    definition = schedule.get("properties.action.endpointInvocationDefinition")
    target = str((definition or {}).get("endpointId") or "") if isinstance(definition, Mapping) else ""
    for res in s.of_type("machinelearningservices:BatchEndpoint"):
        name = endpoint_name(res)
        if (target and target.rstrip("/").endswith(f"/batchEndpoints/{name}")) or res.urn in schedule.dependencies:
            return res
    return None


def _default_deployment(s: Subject, endpoint: Resource) -> str | None:
    """The endpoint's default deployment: its properties.defaults, or the step that sets it (a dynamic resource)."""
    name = endpoint_name(endpoint)
    default = endpoint.get("properties.defaults.deploymentName")
    for res in s.plan.resources.values():
        if res.type.endswith("dynamic:Resource") and res.inputs.get("endpoint_name") == name and "deployment_name" in res.inputs:
            default = res.inputs["deployment_name"]
    return str(default) if default else None


@rule("batch-schedule-default-deployment", MANDATORY)
def batch_schedule_default_deployment(s: Subject) -> Iterator[Finding]:
    """A schedule that invokes a batch endpoint targets one in the stack that has a default deployment.

    Reads the plan: the Schedule's action (InvokeBatchEndpoint, its endpointId) and dependencies, the
    BatchEndpoint's properties.defaults or the step that sets its default, and the BatchDeployments.
    """
    for res in s.of_type("machinelearningservices:Schedule"):
        if res.get("properties.action.actionType") != "InvokeBatchEndpoint":
            continue
        owner = owner_of(s, res)
        endpoint = _invoked_endpoint(s, res)
        if endpoint is None:
            yield res.urn, (
                f"{owner.names()}{res.label}: invokes no batch endpoint declared in this stack; declare {owner.setting('batch')} "
                f"in {s.stack_file} and wire the schedule to its endpoint (infra/schedule.py)"
            )
            continue
        name = endpoint_name(endpoint)
        default = _default_deployment(s, endpoint)
        deployments = sorted(
            str(d.get("deploymentName") or d.name)
            for d in s.of_type("machinelearningservices:BatchDeployment")
            if d.get("endpointName") == name or endpoint.urn in d.dependencies
        )
        if default is None or default not in deployments:
            found = "none is set" if default is None else f"{default!r} is not one of its deployments ({', '.join(deployments) or 'none'})"
            yield res.urn, (
                f"{owner.names(name)}{res.label}: invokes batch endpoint {name!r} without naming a deployment, so it runs the "
                f"endpoint's default deployment, and {found}; set the endpoint's default to {owner.setting('batch.deploymentName')} "
                "(infra/batch_endpoint.py)"
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
