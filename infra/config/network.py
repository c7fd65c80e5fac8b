"""`amlops:network`: who reaches the workspace, and what the workspace reaches."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import field_validator

from infra.config.base import ConfigModel

_FQDN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_RULE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$")
_NOT_PUBLIC = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8"))


class OutboundRuleConfig(ConfigModel):
    """A user-defined outbound rule of the workspace's managed network (Azure ML's FQDN rule)."""

    type: Literal["FQDN"] = "FQDN"
    """FQDN: the only user-defined rule a stack declares (private-endpoint rules to the workspace's
    own storage, key vault and registry are Azure's required rules, added by Azure)."""
    destination: str
    """A host name, optionally with a leading wildcard label (pypi.org, *.pythonhosted.org)."""

    @field_validator("destination")
    @classmethod
    def _host(cls, v: str) -> str:
        if not _FQDN.match(v):
            raise ValueError(f"must be a host name such as pypi.org or *.pythonhosted.org, got {v!r}")
        return v


class VirtualNetworkConfig(ConfigModel):
    """The virtual network the private endpoints live in (access: private)."""

    address_space: str = "10.40.0.0/16"
    """The network's IPv4 range (CIDR)."""
    private_endpoint_subnet: str = "10.40.1.0/24"
    """The subnet of the workspace, storage, key vault and registry private endpoints; inside addressSpace."""
    runner_subnet: str | None = None
    """A subnet for the self-hosted runner that deploys the stack (it must reach the private endpoints); default none."""

    @field_validator("address_space", "private_endpoint_subnet", "runner_subnet")
    @classmethod
    def _cidr(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ipaddress.IPv4Network(v)
            except ValueError:
                raise ValueError(f"must be an IPv4 network in CIDR form such as 10.40.1.0/24, got {v!r}") from None
        return v


class NetworkConfig(ConfigModel):
    """Who reaches the workspace and its storage, key vault and registry, and what the workspace reaches.

    Azure ML's network isolation: https://learn.microsoft.com/azure/machine-learning/how-to-managed-network
    (managed network, isolation modes, outbound rules) and
    https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link (private endpoints).
    """

    access: Literal["public", "ipRanges", "private"] = "public"
    """public (default): reachable from anywhere with Entra auth; ipRanges: storage, key vault and registry
    accept only allowedIpRanges (the workspace API itself has no IP rules in Azure's stable API);
    private: nothing is public, everything is reached through private endpoints in virtualNetwork."""
    allowed_ip_ranges: list[str] = []
    """Public IPv4 addresses or CIDR ranges (not /31) admitted with access ipRanges; required there, refused elsewhere."""
    isolation_mode: Literal["Disabled", "AllowInternetOutbound", "AllowOnlyApprovedOutbound"] = "Disabled"
    """The workspace managed network: Disabled (default), AllowInternetOutbound, or AllowOnlyApprovedOutbound
    (only Azure's required rules and outboundRules); needed by ipRanges and private so computes and
    deployments reach the locked-down storage, key vault and registry through managed private endpoints."""
    outbound_rules: dict[str, OutboundRuleConfig] = {}
    """User-defined FQDN rules by name (only with AllowOnlyApprovedOutbound)."""
    virtual_network: VirtualNetworkConfig | None = None
    """The network of the private endpoints; required with access private, refused elsewhere."""

    @field_validator("allowed_ip_ranges")
    @classmethod
    def _ranges(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                net = ipaddress.IPv4Network(item)
            except ValueError:
                raise ValueError(f"must list IPv4 addresses or CIDR ranges such as 203.0.113.0/24, got {item!r}") from None
            if any(net.overlaps(p) for p in _NOT_PUBLIC):
                raise ValueError(f"must list public ranges (storage IP rules refuse RFC 1918, loopback and link-local ones), got {item!r}")
            if net.prefixlen == 31:
                raise ValueError(f"cannot hold a /31 (storage IP rules refuse it; list the two addresses), got {item!r}")
        return v

    @field_validator("outbound_rules")
    @classmethod
    def _rule_names(cls, v: dict[str, OutboundRuleConfig]) -> dict[str, OutboundRuleConfig]:
        bad = [k for k in v if not _RULE_NAME.match(k)]
        if bad:
            raise ValueError(f"rule names must be 1-64 letters, digits, hyphens or underscores, starting with a letter, got {bad}")
        return v
