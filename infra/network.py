"""Network access of a stack: the public access and firewalls of the workspace's dependencies, the workspace's
managed network, and for `network.access: private` a virtual network with private endpoints for the workspace and
its storage (blob and file), key vault and registry plus the private DNS zones that resolve them
(infra/private_links.py says which, with Microsoft's pages).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import containerregistry, keyvault, machinelearningservices as ml, network, privatedns, storage

from infra.config import NetworkConfig, VirtualNetworkConfig
from infra.errors import InvalidArgs
from infra.private_links import PRIVATE_LINKS, TARGETS

PRIVATE_ENDPOINT_SUBNET = "private-endpoints"
RUNNER_SUBNET = "runner"


def _storage_ip(cidr: str) -> str:
    """Storage IP rules take a /32 as a bare address and refuse the CIDR form for it."""
    net = ipaddress.IPv4Network(cidr)
    return str(net.network_address) if net.prefixlen == 32 else str(net)


def storage_access(n: NetworkConfig) -> dict:
    """The storage account's public access and firewall for the stack's network.access (nothing for public).

    Trusted Azure services keep passing the firewall (bypass AzureServices), as Azure ML's own
    services need; https://learn.microsoft.com/azure/storage/common/storage-network-security."""
    if n.access == "public":
        return {}
    ip_rules = [storage.IPRuleArgs(i_p_address_or_range=_storage_ip(r), action="Allow") for r in n.allowed_ip_ranges]
    return {
        "public_network_access": "Disabled" if n.access == "private" else "Enabled",
        "network_rule_set": storage.NetworkRuleSetArgs(default_action="Deny", bypass="AzureServices", ip_rules=ip_rules or None),
    }


def vault_access(n: NetworkConfig) -> dict:
    """The key vault's public access and firewall (VaultPropertiesArgs fields); nothing for public."""
    if n.access == "public":
        return {}
    return {
        "public_network_access": "disabled" if n.access == "private" else "enabled",
        "network_acls": keyvault.NetworkRuleSetArgs(
            default_action="Deny", bypass="AzureServices", ip_rules=[keyvault.IPRuleArgs(value=r) for r in n.allowed_ip_ranges] or None
        ),
    }


def registry_access(n: NetworkConfig) -> dict:
    """The container registry's public access and firewall (Premium only; the config requires it); nothing for public."""
    if n.access == "public":
        return {}
    if n.access == "private":
        return {"public_network_access": "Disabled", "network_rule_bypass_options": "AzureServices"}
    return {
        "public_network_access": "Enabled",
        "network_rule_bypass_options": "AzureServices",
        "network_rule_set": containerregistry.NetworkRuleSetArgs(
            default_action="Deny", ip_rules=[containerregistry.IPRuleArgs(i_p_address_or_range=r, action="Allow") for r in n.allowed_ip_ranges]
        ),
    }


def managed_network(n: NetworkConfig) -> ml.ManagedNetworkSettingsArgs | None:
    """The workspace's managed network (None when isolationMode is Disabled: the property stays unset).

    Outbound rules are Azure's FqdnOutboundRule, category UserDefined; Azure adds its required rules
    (https://learn.microsoft.com/azure/machine-learning/how-to-managed-network)."""
    if n.isolation_mode == "Disabled":
        return None
    return ml.ManagedNetworkSettingsArgs(
        isolation_mode=n.isolation_mode,
        outbound_rules={
            rule_name: ml.FqdnOutboundRuleArgs(type="FQDN", category="UserDefined", destination=rule.destination)
            for rule_name, rule in sorted(n.outbound_rules.items())
        }
        or None,
    )


def zone_key(zone: str) -> str:
    """`privatelink.blob.core.windows.net` → `blob-core-windows-net`: a resource-name-safe key for a zone."""
    return zone.removeprefix("privatelink.").replace(".", "-")


@dataclass(frozen=True)
class PrivateNetworkArgs:
    """What the PrivateNetwork component needs."""

    settings: VirtualNetworkConfig
    """The stack's amlops:network.virtualNetwork (address space, private-endpoint subnet, runner subnet)."""
    virtual_network_name: str
    """The network's Azure name (infra.naming)."""
    private_endpoint_prefix: str
    """Private endpoint names are `<prefix>-<key>` (2-64 characters)."""
    targets: dict[str, pulumi.Input[str]]
    """The ARM ids of the workspace, storage account, key vault and registry, by TARGETS key."""
    resource_group_name: pulumi.Input[str]
    """Where the network, endpoints and zones live."""
    location: str
    """The Azure region of the network and the endpoints (DNS zones are global)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource (default none)."""

    def validate(self) -> None:
        missing = [t for t in TARGETS if t not in self.targets]
        if missing:
            raise InvalidArgs("PrivateNetwork", "targets", f"needs the ids of {', '.join(missing)}")
        space = ipaddress.IPv4Network(self.settings.address_space)
        for key in ("private_endpoint_subnet", "runner_subnet"):
            value = getattr(self.settings, key)
            if value is not None and not ipaddress.IPv4Network(value).subnet_of(space):
                raise InvalidArgs("PrivateNetwork", f"settings.{key}", f"must lie inside {space}, got {value!r}")
        if not 2 <= len(self.private_endpoint_prefix) + 1 + max(len(p.key) for p in PRIVATE_LINKS) <= 64:
            raise InvalidArgs("PrivateNetwork", "private_endpoint_prefix", f"leaves no room within 64 characters, got {self.private_endpoint_prefix!r}")


class PrivateNetwork(pulumi.ComponentResource):
    """VirtualNetwork → PrivateZone + VirtualNetworkLink per zone → PrivateEndpoint + PrivateDnsZoneGroup per link."""

    virtual_network_id: pulumi.Output[str]
    private_endpoint_ids: dict[str, pulumi.Output[str]]
    dns_zone_group_ids: dict[str, pulumi.Output[str]]
    """By link key: an endpoint is resolvable once its zone group exists (uploads from inside the network wait)."""
    runner_subnet_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: PrivateNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:network:PrivateNetwork", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        rg = args.resource_group_name
        subnets = [
            # Network policies off on the endpoint subnet: private endpoints need it (Azure's default for new subnets).
            network.SubnetArgs(name=PRIVATE_ENDPOINT_SUBNET, address_prefix=s.private_endpoint_subnet, private_endpoint_network_policies="Disabled")
        ]
        if s.runner_subnet is not None:
            subnets.append(network.SubnetArgs(name=RUNNER_SUBNET, address_prefix=s.runner_subnet))
        vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=args.virtual_network_name,
            resource_group_name=rg,
            location=args.location,
            address_space=network.AddressSpaceArgs(address_prefixes=[s.address_space]),
            subnets=subnets,
            tags=args.tags,
            opts=child,
        )
        zones: dict[str, privatedns.PrivateZone] = {}
        for zone in sorted({z for link in PRIVATE_LINKS for z in link.zones}):
            key = zone_key(zone)
            zones[zone] = privatedns.PrivateZone(
                f"{name}-zone-{key}", private_zone_name=zone, resource_group_name=rg, location="global", tags=args.tags, opts=child
            )
            privatedns.VirtualNetworkLink(
                f"{name}-link-{key}",
                virtual_network_link_name=f"{args.virtual_network_name}-link",
                private_zone_name=zone,
                resource_group_name=rg,
                location="global",
                virtual_network=privatedns.SubResourceArgs(id=vnet.id),
                registration_enabled=False,
                tags=args.tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[zones[zone]]),
            )
        subnet_id = vnet.id.apply(lambda i: f"{i}/subnets/{PRIVATE_ENDPOINT_SUBNET}")
        self.private_endpoint_ids = {}
        self.dns_zone_group_ids = {}
        for link in PRIVATE_LINKS:
            pe_name = f"{args.private_endpoint_prefix}-{link.key}"
            endpoint = network.PrivateEndpoint(
                f"{name}-pe-{link.key}",
                private_endpoint_name=pe_name,
                resource_group_name=rg,
                location=args.location,
                subnet=network.SubnetArgs(id=subnet_id),
                private_link_service_connections=[
                    network.PrivateLinkServiceConnectionArgs(
                        name=pe_name, private_link_service_id=args.targets[link.target], group_ids=[link.group_id]
                    )
                ],
                tags=args.tags,
                opts=child,
            )
            group = network.PrivateDnsZoneGroup(
                f"{name}-dns-{link.key}",
                private_dns_zone_group_name="default",
                private_endpoint_name=pe_name,
                resource_group_name=rg,
                private_dns_zone_configs=[
                    network.PrivateDnsZoneConfigArgs(name=zone_key(z), private_dns_zone_id=zones[z].id) for z in link.zones
                ],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[endpoint]),
            )
            self.private_endpoint_ids[link.key] = endpoint.id
            self.dns_zone_group_ids[link.key] = group.id
        self.virtual_network_id = vnet.id
        self.runner_subnet_id = vnet.id.apply(lambda i: f"{i}/subnets/{RUNNER_SUBNET}") if s.runner_subnet else None
        self.register_outputs({"virtualNetworkId": self.virtual_network_id, "privateEndpointIds": self.private_endpoint_ids})
