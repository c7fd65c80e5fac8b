"""The baseline rules (security, reliability, cost): each reads a Subject and yields (urn, message).

Every rule's docstring says what it reads: the plan (resource inputs and options) and, where
the plan lacks a fact, the validated stack config. Messages name the resource and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from amlops.plan.document import Resource
from infra.private_links import PRIVATE_LINKS
from amlops.policy.subject import Subject, Violation

MANDATORY = "mandatory"
ADVISORY = "advisory"
SEVERITIES = (MANDATORY, ADVISORY)

Finding = tuple["str | None", str]
"""(URN or None for the whole stack, message)."""


@dataclass(frozen=True)
class Rule:
    """A policy rule: id (kebab-case, also the CrossGuard policy name), severity, one-line description."""

    id: str
    severity: str
    description: str
    check: Callable[[Subject], Iterable[Finding]]

    def run(self, subject: Subject) -> list[Violation]:
        return [Violation(self.id, self.severity, message, urn) for urn, message in self.check(subject)]


RULES: list[Rule] = []


def rule(id: str, severity: str) -> Callable[[Callable[[Subject], Iterable[Finding]]], Callable[[Subject], Iterable[Finding]]]:
    """Register a rule function; its docstring's first line is the rule's description."""
    assert severity in SEVERITIES

    def register(fn: Callable[[Subject], Iterable[Finding]]) -> Callable[[Subject], Iterable[Finding]]:
        RULES.append(Rule(id, severity, (fn.__doc__ or "").strip().splitlines()[0], fn))
        return fn

    return register


def _number(value: Any) -> float | None:
    """Ints arrive as floats from the mocks and autoscale capacities are strings in ARM."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _aml_clusters(s: Subject) -> Iterator[Resource]:
    for res in s.of_type("machinelearningservices:Compute"):
        if res.get("properties.computeType") == "AmlCompute":
            yield res


# --- security ------------------------------------------------------------------------------------

ONLINE_AUTH_MODES = ("Key", "AMLToken", "AADToken")
BATCH_AUTH_MODES = ("AADToken",)


@rule("endpoint-auth", MANDATORY)
def endpoint_auth(s: Subject) -> Iterator[Finding]:
    """Online and batch endpoints require authentication. Reads the plan: the endpoints' authMode."""
    for res in s.of_type("machinelearningservices:OnlineEndpoint"):
        mode = res.get("properties.authMode")
        if mode not in ONLINE_AUTH_MODES:
            yield res.urn, (
                f"{res.label}: properties.authMode is {mode!r}, must be one of "
                f"{', '.join(ONLINE_AUTH_MODES)}; set amlops:online.authMode (key, aml_token or aad_token) in {s.stack_file}"
            )
    for res in s.of_type("machinelearningservices:BatchEndpoint"):
        mode = res.get("properties.authMode")
        if mode not in BATCH_AUTH_MODES:
            yield res.urn, (
                f"{res.label}: properties.authMode is {mode!r}, must be AADToken "
                "(batch endpoints accept Microsoft Entra tokens only); fix the batch endpoint in infra/"
            )


@rule("prod-workspace-private", MANDATORY)
def prod_workspace_private(s: Subject) -> Iterator[Finding]:
    """In prod the ML workspace is not reachable from the public internet. Reads the plan: publicNetworkAccess."""
    if not s.is_prod:
        return
    for res in s.of_type("machinelearningservices:Workspace"):
        value = res.get("publicNetworkAccess")
        if value != "Disabled":
            yield res.urn, (
                f"{res.label}: publicNetworkAccess is {value!r} in prod; "
                f"set amlops:workspace.publicNetworkAccess: Disabled in {s.stack_file} (reach it through private endpoints)"
            )


@rule("prod-keyvault-purge-protection", MANDATORY)
def prod_keyvault_purge_protection(s: Subject) -> Iterator[Finding]:
    """In prod key vaults have purge protection. Reads the plan: properties.enablePurgeProtection."""
    if not s.is_prod:
        return
    for res in s.of_type("keyvault:Vault"):
        if res.get("properties.enablePurgeProtection") is not True:
            yield res.urn, (
                f"{res.label}: properties.enablePurgeProtection is not true in prod; "
                f"set amlops:workspace.purgeProtection: true in {s.stack_file}"
            )


TLS_OK = ("TLS1_2", "TLS1_3")


@rule("storage-min-tls", MANDATORY)
def storage_min_tls(s: Subject) -> Iterator[Finding]:
    """Storage accounts refuse TLS older than 1.2. Reads the plan: minimumTlsVersion."""
    for res in s.of_type("storage:StorageAccount"):
        value = res.get("minimumTlsVersion")
        if value not in TLS_OK:
            yield res.urn, (
                f"{res.label}: minimumTlsVersion is {value!r}, must be TLS1_2 or newer; "
                "set minimum_tls_version=storage.MinimumTlsVersion.TLS1_2 on the account in infra/"
            )


@rule("storage-no-public-blob", MANDATORY)
def storage_no_public_blob(s: Subject) -> Iterator[Finding]:
    """Storage accounts allow no anonymous (public) blob access. Reads the plan: allowBlobPublicAccess."""
    for res in s.of_type("storage:StorageAccount"):
        value = res.get("allowBlobPublicAccess")
        if value is not False:
            yield res.urn, (
                f"{res.label}: allowBlobPublicAccess is {value!r}, must be false; "
                "set allow_blob_public_access=False on the account in infra/"
            )


# --- reliability -----------------------------------------------------------------------------------


@rule("deployment-app-insights", MANDATORY)
def deployment_app_insights(s: Subject) -> Iterator[Finding]:
    """Every online deployment sends logs and requests to Application Insights. Reads the plan: appInsightsEnabled."""
    for res in s.of_type("machinelearningservices:OnlineDeployment"):
        if res.get("properties.appInsightsEnabled") is not True:
            yield res.urn, (
                f"{res.label}: properties.appInsightsEnabled is not true; set "
                f"appInsightsEnabled: true on amlops:online.deployments.<name> in {s.stack_file}"
            )


def _autoscale_minimum(s: Subject, deployment: Resource) -> float | None:
    """The lowest profile minimum of the autoscale setting that targets `deployment`, if any."""
    dep_name = deployment.get("deploymentName") or deployment.name
    for res in s.of_type("monitor:AutoscaleSetting"):
        target = str(res.get("targetResourceUri") or "")
        if deployment.urn in res.dependencies or target.rstrip("/").endswith(f"/deployments/{dep_name}"):
            if res.get("enabled") is False:
                continue
            minima = [_number((p or {}).get("capacity", {}).get("minimum")) for p in res.get("profiles") or []]
            known = [m for m in minima if m is not None]
            if known:
                return min(known)
    return None


@rule("prod-online-capacity", MANDATORY)
def prod_online_capacity(s: Subject) -> Iterator[Finding]:
    """In prod every online deployment keeps at least 2 instances: sku.capacity, or autoscale's minimum when one applies.

    Reads the plan: the deployment's sku.capacity and the profiles of the AutoscaleSetting that
    targets it (by dependency or targetResourceUri); autoscale may go down to its minimum, so
    that minimum decides when it exists.
    """
    if not s.is_prod:
        return
    for res in s.of_type("machinelearningservices:OnlineDeployment"):
        capacity = _number(res.get("sku.capacity"))
        minimum = _autoscale_minimum(s, res)
        floor = minimum if minimum is not None else capacity
        if floor is not None and floor >= 2:
            continue
        shown = "unset" if capacity is None else f"{capacity:g}"
        auto = "no autoscale" if minimum is None else f"an autoscale minimum of {minimum:g}"
        yield res.urn, (
            f"{res.label}: prod may run it on one instance (sku.capacity {shown}, {auto}), a single point of failure; "
            f"set instanceCount: 2 on amlops:online.deployments.<name> (and amlops:online.autoscale.minInstances: 2) in {s.stack_file}"
        )


def _traffic(s: Subject) -> tuple[Mapping[str, Any], Mapping[str, Any], str]:
    """(traffic, mirror traffic, where from): the plan's traffic step, else the endpoint, else the config."""
    for res in s.plan.resources.values():
        if isinstance(res.inputs.get("traffic"), Mapping):  # the traffic step (a dynamic resource: snake_case)
            mirror = res.inputs.get("mirror_traffic", res.inputs.get("mirrorTraffic"))
            return res.inputs["traffic"], mirror or {}, res.label
    for res in s.of_type("machinelearningservices:OnlineEndpoint"):
        traffic = res.get("properties.traffic")
        if isinstance(traffic, Mapping):
            return traffic, res.get("properties.mirrorTraffic") or {}, res.label
    return s.config_get("online.traffic") or {}, s.config_get("online.mirrorTraffic") or {}, f"amlops:online.traffic in {s.stack_file}"


@rule("traffic-sums-to-100", MANDATORY)
def traffic_sums_to_100(s: Subject) -> Iterator[Finding]:
    """When any online deployment exists, live traffic over the deployments sums to 100.

    Reads the plan: the traffic step's `traffic` input (or the endpoint's); where the plan records
    neither, the validated stack config's online.traffic.
    """
    deployments = s.of_type("machinelearningservices:OnlineDeployment")
    if not deployments:
        return
    traffic, _, source = _traffic(s)
    total = sum(_number(v) or 0 for v in traffic.values())
    if total != 100:
        names = ", ".join(sorted(str(d.get("deploymentName") or d.name) for d in deployments))
        yield None, (
            f"{source}: live traffic sums to {total:g}, must be 100 while deployments exist ({names}); "
            f"set amlops:online.traffic in {s.stack_file}, e.g. with `amlops promote ... --traffic NAME=PCT`"
        )


@rule("mirror-at-most-50", MANDATORY)
def mirror_at_most_50(s: Subject) -> Iterator[Finding]:
    """Mirrored (shadow) traffic totals at most 50 percent.

    Reads the plan: the traffic step's `mirrorTraffic` input (or the endpoint's); where the plan
    records neither, the validated stack config's online.mirrorTraffic.
    """
    _, mirror, source = _traffic(s)
    total = sum(_number(v) or 0 for v in mirror.values())
    if total > 50:
        yield None, f"{source}: mirror traffic totals {total:g}%, must be at most 50; lower amlops:online.mirrorTraffic in {s.stack_file}"


STATEFUL_TYPES = (
    "storage:StorageAccount",
    "storage:BlobContainer",
    "keyvault:Vault",
    "machinelearningservices:Workspace",
    "containerregistry:Registry",
    "operationalinsights:Workspace",
)
"""Resources that hold data or secrets: deleting one loses it."""


@rule("prod-stateful-protected", MANDATORY)
def prod_stateful_protected(s: Subject) -> Iterator[Finding]:
    """In prod, resources that hold data are protected from deletion. Reads the plan: the protect option."""
    if not s.is_prod:
        return
    for type_ in STATEFUL_TYPES:
        for res in s.of_type(type_):
            if not res.protect:
                yield res.urn, (
                    f"{res.label}: holds state but is not protected in prod; "
                    "create it with ResourceOptions(protect=True) when the stack is prod (infra/)"
                )


TAGGABLE_TYPES = (
    "resources:ResourceGroup",
    "storage:StorageAccount",
    "keyvault:Vault",
    "containerregistry:Registry",
    "operationalinsights:Workspace",
    "applicationinsights:Component",
    "machinelearningservices:Workspace",
    "machinelearningservices:Compute",
    "machinelearningservices:OnlineEndpoint",
    "machinelearningservices:OnlineDeployment",
    "machinelearningservices:BatchEndpoint",
    "machinelearningservices:BatchDeployment",
    "monitor:AutoscaleSetting",
    "monitor:ActionGroup",
    "monitor:MetricAlert",
    "monitor:ScheduledQueryRule",
    "network:VirtualNetwork",
    "network:PrivateEndpoint",
    "privatedns:PrivateZone",
    "privatedns:VirtualNetworkLink",
)
"""Azure resource types that carry tags (tracked resources)."""


@rule("required-tags", MANDATORY)
def required_tags(s: Subject) -> Iterator[Finding]:
    """Every taggable resource carries the required tags (environment, owner, costCenter). Reads the plan: tags."""
    for type_ in TAGGABLE_TYPES:
        for res in s.of_type(type_):
            tags = res.inputs.get("tags")
            tags = tags if isinstance(tags, Mapping) else {}
            missing = [t for t in s.required_tags if not tags.get(t)]
            if missing:
                yield res.urn, (
                    f"{res.label}: missing tag(s) {', '.join(missing)}; add them under amlops:tags in {s.stack_file} "
                    "(and pass the stack's tags to this resource in infra/)"
                )


def _invoked_endpoint(s: Subject, schedule: Resource) -> Resource | None:
    """The batch endpoint a schedule invokes: named by its invocation's endpointId, or among its dependencies."""
    definition = schedule.get("properties.action.endpointInvocationDefinition")
    target = str((definition or {}).get("endpointId") or "") if isinstance(definition, Mapping) else ""
    for res in s.of_type("machinelearningservices:BatchEndpoint"):
        name = str(res.get("endpointName") or res.name)
        if (target and target.rstrip("/").endswith(f"/batchEndpoints/{name}")) or res.urn in schedule.dependencies:
            return res
    return None


def _default_deployment(s: Subject, endpoint: Resource) -> str | None:
    """The endpoint's default deployment: its properties.defaults, or the step that sets it (a dynamic resource)."""
    name = str(endpoint.get("endpointName") or endpoint.name)
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
        endpoint = _invoked_endpoint(s, res)
        if endpoint is None:
            yield res.urn, (
                f"{res.label}: invokes no batch endpoint declared in this stack; declare amlops:batch in {s.stack_file} "
                "and wire the schedule to its endpoint (infra/schedule.py)"
            )
            continue
        name = str(endpoint.get("endpointName") or endpoint.name)
        default = _default_deployment(s, endpoint)
        deployments = sorted(
            str(d.get("deploymentName") or d.name)
            for d in s.of_type("machinelearningservices:BatchDeployment")
            if d.get("endpointName") == name or endpoint.urn in d.dependencies
        )
        if default is None or default not in deployments:
            found = "none is set" if default is None else f"{default!r} is not one of its deployments ({', '.join(deployments) or 'none'})"
            yield res.urn, (
                f"{res.label}: invokes batch endpoint {name!r} without naming a deployment, so it runs the endpoint's "
                f"default deployment, and {found}; set the endpoint's default to amlops:batch.deploymentName (infra/batch_endpoint.py)"
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
            yield res.urn, (
                f"{res.label}: an enabled schedule in prod without alerts; set amlops:monitoring.alertsEnabled: true "
                f"(with actionGroupEmail) or amlops:batch.schedule.enabled: false in {s.stack_file}"
            )


# --- cost ------------------------------------------------------------------------------------------


@rule("nonprod-low-priority-compute", ADVISORY)
def nonprod_low_priority_compute(s: Subject) -> Iterator[Finding]:
    """Outside prod, compute clusters use low-priority VMs. Reads the plan: the cluster's vmPriority."""
    if s.is_prod:
        return
    for res in _aml_clusters(s):
        priority = res.get("properties.properties.vmPriority")
        if priority != "LowPriority":
            yield res.urn, (
                f"{res.label}: vmPriority is {priority!r} in {s.environment}; "
                f"set amlops:compute.priority: LowPriority in {s.stack_file} (cheaper; pre-emption is acceptable outside prod)"
            )


@rule("compute-scales-to-zero", ADVISORY)
def compute_scales_to_zero(s: Subject) -> Iterator[Finding]:
    """Compute clusters scale to zero nodes when idle. Reads the plan: scaleSettings.minNodeCount."""
    for res in _aml_clusters(s):
        minimum = _number(res.get("properties.properties.scaleSettings.minNodeCount"))
        if minimum != 0:
            shown = "unset" if minimum is None else f"{minimum:g}"
            yield res.urn, (
                f"{res.label}: scaleSettings.minNodeCount is {shown}, so idle nodes keep costing; "
                f"set amlops:compute.minNodes: 0 in {s.stack_file}"
            )


# --- network ---------------------------------------------------------------------------------------

_TARGET_INPUTS = {"storage": "storageAccount", "key_vault": "keyVault", "registry": "containerRegistry"}
_TARGET_WORDS = {"workspace": "the workspace itself", "storage": "its storage account", "key_vault": "its key vault", "registry": "its container registry"}


def _connects(endpoint: Resource, target_id: str, group_id: str) -> bool:
    for connection in endpoint.get("privateLinkServiceConnections") or []:
        if not isinstance(connection, Mapping):
            continue
        same = str(connection.get("privateLinkServiceId") or "").lower().rstrip("/") == target_id.lower().rstrip("/")
        if same and group_id in (connection.get("groupIds") or []):
            return True
    return False


def _zone_names(s: Subject, group: Resource) -> set[str]:
    """The DNS zones a zone group names: from the zone ids, or the PrivateZone resources it waits for (mock ids)."""
    zones = {r.urn: str(r.get("privateZoneName") or "") for r in s.of_type("privatedns:PrivateZone")}
    names = {str(c.get("privateDnsZoneId") or "").rstrip("/").rsplit("/", 1)[-1] for c in group.get("privateDnsZoneConfigs") or [] if isinstance(c, Mapping)}
    return {n for n in names if n.startswith("privatelink.")} | {zones[d] for d in group.dependencies if d in zones}


@rule("private-endpoints-declared", MANDATORY)
def private_endpoints_declared(s: Subject) -> Iterator[Finding]:
    """A workspace without public network access has private endpoints, with their DNS zones, for itself and its storage (blob, file), key vault and registry.

    Reads the plan: the workspace's publicNetworkAccess and dependency ids, each PrivateEndpoint's
    privateLinkServiceConnections (target id and groupIds), and the PrivateDnsZoneGroup of each endpoint
    (which privatelink zones it names). Without them nothing reaches the workspace, not even the deployment.
    """
    endpoints = s.of_type("network:PrivateEndpoint")
    groups = s.of_type("network:PrivateDnsZoneGroup")
    for ws in s.of_type("machinelearningservices:Workspace"):
        if ws.get("publicNetworkAccess") != "Disabled":
            continue
        name = str(ws.get("workspaceName") or ws.name)
        for link in PRIVATE_LINKS:
            if link.target == "workspace":
                matches = [e for e in endpoints if any(
                    str(c.get("privateLinkServiceId") or "").lower().rstrip("/").endswith(f"/workspaces/{name.lower()}")
                    and link.group_id in (c.get("groupIds") or [])
                    for c in e.get("privateLinkServiceConnections") or [] if isinstance(c, Mapping))]
            else:
                target = str(ws.get(_TARGET_INPUTS[link.target]) or "")
                matches = [e for e in endpoints if target and _connects(e, target, link.group_id)]
            if not matches:
                yield ws.urn, (
                    f"{ws.label}: publicNetworkAccess is Disabled but no private endpoint reaches {_TARGET_WORDS[link.target]} "
                    f"({link.group_id}); set amlops:network.access: private with amlops:network.virtualNetwork in {s.stack_file}"
                )
                continue
            endpoint = matches[0]
            pe_name = str(endpoint.get("privateEndpointName") or endpoint.name)
            own = [g for g in groups if endpoint.urn in g.dependencies or g.get("privateEndpointName") == pe_name]
            missing = sorted(set(link.zones) - set().union(*(_zone_names(s, g) for g in own)))
            if missing:
                yield endpoint.urn, (
                    f"{endpoint.label}: no private DNS zone group names {', '.join(missing)}, so {link.group_id} host names "
                    "still resolve to the public address; declare a PrivateDnsZoneGroup for it (infra/network.py)"
                )


MANAGED_MODES = ("AllowInternetOutbound", "AllowOnlyApprovedOutbound")


@rule("managed-network-outbound", MANDATORY)
def managed_network_outbound(s: Subject) -> Iterator[Finding]:
    """A workspace without public access, and every prod workspace, has a managed network; each outbound rule it names has a type and a destination.

    Reads the plan: the workspace's publicNetworkAccess and managedNetwork (isolationMode, outboundRules).
    Without a managed network, computes and deployments cannot reach a locked-down storage, key vault
    or registry; under AllowOnlyApprovedOutbound a rule without a destination lets nothing out.
    """
    for ws in s.of_type("machinelearningservices:Workspace"):
        mode = ws.get("managedNetwork.isolationMode")
        if (s.is_prod or ws.get("publicNetworkAccess") == "Disabled") and mode not in MANAGED_MODES:
            where = "in prod" if s.is_prod else "with publicNetworkAccess Disabled"
            yield ws.urn, (
                f"{ws.label}: managedNetwork.isolationMode is {mode!r} {where}; set amlops:network.isolationMode: "
                f"AllowOnlyApprovedOutbound (with named amlops:network.outboundRules) or AllowInternetOutbound in {s.stack_file}"
            )
        rules = ws.get("managedNetwork.outboundRules") or {}
        for rule_name, body in sorted(rules.items()) if isinstance(rules, Mapping) else []:
            body = body if isinstance(body, Mapping) else {}
            missing = [k for k in ("type", "destination") if not body.get(k)]
            if missing:
                yield ws.urn, (
                    f"{ws.label}: outbound rule {rule_name!r} has no {' or '.join(missing)}; give it a destination under "
                    f"amlops:network.outboundRules.{rule_name} in {s.stack_file}"
                )


def by_id() -> dict[str, Rule]:
    return {r.id: r for r in RULES}
