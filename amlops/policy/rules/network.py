"""Rules on the network: the workspace's public access, its private endpoints and DNS zones, its managed network."""

from __future__ import annotations

from typing import Iterator, Mapping

from amlops.plan.document import Resource
from amlops.policy.rules.registry import MANDATORY, Finding, rule
from amlops.policy.subject import Subject
from infra.private_links import PRIVATE_LINKS


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
