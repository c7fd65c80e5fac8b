"""Rules on online endpoints, held per endpoint: each model's endpoint, deployments, traffic and autoscale.

A finding in a stack of several models starts with the model and endpoint it is about, and names
that model's key in the stack file (`amlops:models.fraud.online.traffic`); see amlops/policy/owners.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from amlops.plan.document import Resource
from amlops.policy.owners import Owner, endpoint_name, owner_of, same_endpoint
from amlops.policy.rules.registry import MANDATORY, Finding, number, rule
from amlops.policy.subject import Subject

ONLINE_AUTH_MODES = ("Key", "AMLToken", "AADToken")


@dataclass(frozen=True)
class Endpoint:
    """One online endpoint of the plan with its deployments (the endpoint resource may be absent from a partial plan)."""

    resource: Resource | None
    deployments: tuple[Resource, ...]
    owner: Owner
    name: str


def online_endpoints(s: Subject) -> list[Endpoint]:
    """Every online endpoint and the deployments that belong to it; deployments of no declared endpoint grouped by endpointName."""
    deployments = s.of_type("machinelearningservices:OnlineDeployment")
    found, claimed = [], set()
    for ep in s.of_type("machinelearningservices:OnlineEndpoint"):
        own = tuple(d for d in deployments if same_endpoint(s, d, ep))
        claimed.update(d.urn for d in own)
        found.append(Endpoint(ep, own, owner_of(s, ep), endpoint_name(ep)))
    orphans: dict[str, list[Resource]] = {}
    for d in deployments:
        if d.urn not in claimed:
            orphans.setdefault(endpoint_name(d), []).append(d)
    found += [Endpoint(None, tuple(ds), owner_of(s, ds[0]), name) for name, ds in orphans.items()]
    return found


@rule("endpoint-auth", MANDATORY)
def online_auth(s: Subject) -> Iterator[Finding]:
    """Online and batch endpoints require authentication. Reads the plan: the endpoints' authMode."""
    for res in s.of_type("machinelearningservices:OnlineEndpoint"):
        mode = res.get("properties.authMode")
        if mode not in ONLINE_AUTH_MODES:
            owner = owner_of(s, res)
            yield res.urn, (
                f"{owner.names(endpoint_name(res))}{res.label}: properties.authMode is {mode!r}, must be one of "
                f"{', '.join(ONLINE_AUTH_MODES)}; set {owner.setting('online.authMode')} (key, aml_token or aad_token) in {s.stack_file}"
            )


def _deployment_setting(s: Subject, res: Resource) -> tuple[Owner, str]:
    owner = owner_of(s, res)
    return owner, owner.setting(f"online.deployments.{res.get('deploymentName') or res.name}")


@rule("deployment-app-insights", MANDATORY)
def deployment_app_insights(s: Subject) -> Iterator[Finding]:
    """Every online deployment sends logs and requests to Application Insights. Reads the plan: appInsightsEnabled."""
    for res in s.of_type("machinelearningservices:OnlineDeployment"):
        if res.get("properties.appInsightsEnabled") is not True:
            owner, setting = _deployment_setting(s, res)
            yield res.urn, (
                f"{owner.names(endpoint_name(res))}{res.label}: properties.appInsightsEnabled is not true; set "
                f"appInsightsEnabled: true on {setting} in {s.stack_file}"
            )


def _targets(s: Subject, autoscale: Resource, deployment: Resource) -> bool:
    """Whether an autoscale setting scales `deployment`: it depends on it, or its target is that deployment of that endpoint.

    Deployments of different endpoints share names (every model's `blue`): a target that ends in
    `/deployments/blue` counts only with the endpoint in it, or within the deployment's own endpoint component.
    """
    if deployment.urn in autoscale.dependencies:
        return True
    target = str(autoscale.get("targetResourceUri") or "").rstrip("/")
    dep = str(deployment.get("deploymentName") or deployment.name)
    if not target.endswith(f"/deployments/{dep}"):
        return False
    endpoint = deployment.get("endpointName")
    if endpoint and "/onlineEndpoints/" in target:
        return f"/onlineEndpoints/{endpoint}/deployments/" in target
    mine = owner_of(s, autoscale).component
    return mine is None or mine == owner_of(s, deployment).component


def _autoscale_minimum(s: Subject, deployment: Resource) -> float | None:
    """The lowest profile minimum of the autoscale setting that targets `deployment`, if any."""
    for res in s.of_type("monitor:AutoscaleSetting"):
        if _targets(s, res, deployment):
            if res.get("enabled") is False:
                continue
            minima = [number((p or {}).get("capacity", {}).get("minimum")) for p in res.get("profiles") or []]
            known = [m for m in minima if m is not None]
            if known:
                return min(known)
    return None


@rule("prod-online-capacity", MANDATORY)
def prod_online_capacity(s: Subject) -> Iterator[Finding]:
    """In prod every online deployment keeps at least 2 instances: sku.capacity, or autoscale's minimum when one applies.

    Reads the plan: the deployment's sku.capacity and the profiles of the AutoscaleSetting that
    targets it (by dependency, or targetResourceUri within its endpoint); autoscale may go down to its
    minimum, so that minimum decides when it exists.
    """
    if not s.is_prod:
        return
    for res in s.of_type("machinelearningservices:OnlineDeployment"):
        capacity = number(res.get("sku.capacity"))
        minimum = _autoscale_minimum(s, res)
        floor = minimum if minimum is not None else capacity
        if floor is not None and floor >= 2:
            continue
        owner, setting = _deployment_setting(s, res)
        shown = "unset" if capacity is None else f"{capacity:g}"
        auto = "no autoscale" if minimum is None else f"an autoscale minimum of {minimum:g}"
        yield res.urn, (
            f"{owner.names(endpoint_name(res))}{res.label}: prod may run it on one instance (sku.capacity {shown}, {auto}), "
            f"a single point of failure; set instanceCount: 2 on {setting} "
            f"(and {owner.setting('online.autoscale.minInstances')}: 2) in {s.stack_file}"
        )


def _traffic(s: Subject, ep: Endpoint) -> tuple[Mapping[str, Any], Mapping[str, Any], str, str | None]:
    """(traffic, mirror traffic, where from, its URN) of one endpoint: the plan's traffic step, else the endpoint, else the config."""
    anchor = ep.resource or ep.deployments[0]
    for res in s.plan.resources.values():
        # the traffic step (a dynamic resource: snake_case inputs)
        if isinstance(res.inputs.get("traffic"), Mapping) and res is not ep.resource and same_endpoint(s, res, anchor):
            mirror = res.inputs.get("mirror_traffic", res.inputs.get("mirrorTraffic"))
            return res.inputs["traffic"], mirror or {}, res.label, res.urn
    if ep.resource is not None and isinstance(ep.resource.get("properties.traffic"), Mapping):
        return ep.resource.get("properties.traffic"), ep.resource.get("properties.mirrorTraffic") or {}, ep.resource.label, ep.resource.urn
    return (
        ep.owner.config(s, "online.traffic") or {},
        ep.owner.config(s, "online.mirrorTraffic") or {},
        f"{ep.owner.setting('online.traffic')} in {s.stack_file}",
        None,
    )


@rule("traffic-sums-to-100", MANDATORY)
def traffic_sums_to_100(s: Subject) -> Iterator[Finding]:
    """On every online endpoint with a deployment, live traffic over its deployments sums to 100.

    Reads the plan: each endpoint's traffic step's `traffic` input (or the endpoint's); where the plan
    records neither, that model's online.traffic in the validated stack config.
    """
    for ep in online_endpoints(s):
        if not ep.deployments:
            continue
        traffic, _, source, urn = _traffic(s, ep)
        total = sum(number(v) or 0 for v in traffic.values())
        if total != 100:
            names = ", ".join(sorted(str(d.get("deploymentName") or d.name) for d in ep.deployments))
            yield urn, (
                f"{ep.owner.names(ep.name)}{source}: live traffic sums to {total:g}, must be 100 while deployments exist ({names}); "
                f"set {ep.owner.setting('online.traffic')} in {s.stack_file}, e.g. with `amlops promote ... --traffic NAME=PCT`"
            )


@rule("mirror-at-most-50", MANDATORY)
def mirror_at_most_50(s: Subject) -> Iterator[Finding]:
    """On every online endpoint, mirrored (shadow) traffic totals at most 50 percent.

    Reads the plan: each endpoint's traffic step's `mirrorTraffic` input (or the endpoint's); where the
    plan records neither, that model's online.mirrorTraffic in the validated stack config.
    """
    for ep in online_endpoints(s):
        if ep.resource is None and not ep.deployments:
            continue
        _, mirror, source, urn = _traffic(s, ep)
        total = sum(number(v) or 0 for v in mirror.values())
        if total > 50:
            yield urn, (
                f"{ep.owner.names(ep.name)}{source}: mirror traffic totals {total:g}%, must be at most 50; "
                f"lower {ep.owner.setting('online.mirrorTraffic')} in {s.stack_file}"
            )
