"""amlops:network: what the schema refuses (each with its key), and a stack restricted to IP ranges as planned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from amlops.plan import run_plan
from infra.config import ConfigError, parse_config
from infra.network import zone_key
from infra.private_links import PRIVATE_LINKS
from tree_support import copy_tree

ROOT = Path(__file__).resolve().parent.parent


def _raw(stack: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    return {k.removeprefix("amlops:"): v for k, v in doc["config"].items()}


def _problems(stack: str, mutate) -> list[str]:
    raw = _raw(stack)
    mutate(raw)
    with pytest.raises(ConfigError) as err:
        parse_config(raw, source=f"stacks/Pulumi.{stack}.yaml")
    return str(err.value).splitlines()


def test_network_private_without_a_virtual_network_names_the_key():
    lines = _problems("prod", lambda c: c["network"].pop("virtualNetwork"))
    assert lines == [
        "stacks/Pulumi.prod.yaml: amlops:network.virtualNetwork: is required when access is private (the network of the private endpoints)"
    ]


def test_network_disabled_workspace_with_public_access_says_nothing_would_reach_it():
    lines = _problems("prod", lambda c: c["network"].update(access="public", isolationMode="Disabled", outboundRules={}, virtualNetwork=None))
    assert lines == [
        "stacks/Pulumi.prod.yaml: amlops:network.access: must be private when workspace.publicNetworkAccess is Disabled "
        "(else nothing reaches the workspace), got 'public'"
    ]


def test_network_private_needs_a_managed_network_and_a_premium_registry():
    def mutate(c):
        c["network"].update(isolationMode="Disabled", outboundRules={})
        c["workspace"]["registrySku"] = "Standard"

    assert _problems("prod", mutate) == [
        "stacks/Pulumi.prod.yaml: amlops:network.isolationMode: must be AllowInternetOutbound or AllowOnlyApprovedOutbound "
        "when access is private (computes and deployments reach the locked-down storage, key vault and registry through "
        "the managed network)",
        "stacks/Pulumi.prod.yaml: amlops:workspace.registrySku: must be Premium when network.access is private "
        "(private endpoints and IP rules need a Premium registry), got 'Standard'",
    ]


def test_network_outbound_rules_without_approved_outbound_mode_are_refused():
    lines = _problems("prod", lambda c: c["network"].update(isolationMode="AllowInternetOutbound"))
    assert lines == [
        "stacks/Pulumi.prod.yaml: amlops:network.outboundRules: are only read with isolationMode AllowOnlyApprovedOutbound, "
        "got 'AllowInternetOutbound'; remove them or change the mode"
    ]


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        (["10.0.0.0/8"], "must list public ranges (storage IP rules refuse RFC 1918, loopback and link-local ones), got '10.0.0.0/8'"),
        (["203.0.113.0/31"], "cannot hold a /31 (storage IP rules refuse it; list the two addresses), got '203.0.113.0/31'"),
        (["office"], "must list IPv4 addresses or CIDR ranges such as 203.0.113.0/24, got 'office'"),
    ],
)
def test_network_ip_ranges_refuse_what_storage_firewalls_refuse(ranges, message):
    lines = _problems("staging", lambda c: c["network"].update(access="ipRanges", allowedIpRanges=ranges))
    assert lines[0] == f"stacks/Pulumi.staging.yaml: amlops:network.allowedIpRanges: {message}"


def test_network_subnet_outside_the_address_space_names_the_subnet():
    lines = _problems("prod", lambda c: c["network"]["virtualNetwork"].update(runnerSubnet="10.41.2.0/24"))
    assert lines == [
        "stacks/Pulumi.prod.yaml: amlops:network.virtualNetwork.runnerSubnet: must lie inside addressSpace 10.40.0.0/16, got '10.41.2.0/24'"
    ]


def test_network_bad_outbound_destination_names_the_rule():
    lines = _problems("prod", lambda c: c["network"]["outboundRules"].update(bad={"destination": "https://pypi.org/simple"}))
    assert lines == [
        "stacks/Pulumi.prod.yaml: amlops:network.outboundRules.bad.destination: must be a host name such as pypi.org or "
        "*.pythonhosted.org, got 'https://pypi.org/simple'"
    ]


def test_private_links_cover_the_workspace_and_every_dependency():
    assert [(p.key, p.target, p.group_id) for p in PRIVATE_LINKS] == [
        ("workspace", "workspace", "amlworkspace"),
        ("blob", "storage", "blob"),
        ("file", "storage", "file"),
        ("vault", "key_vault", "vault"),
        ("registry", "registry", "registry"),
    ]
    assert zone_key("privatelink.blob.core.windows.net") == "blob-core-windows-net"


@pytest.fixture(scope="module")
def ip_ranges_plan(tmp_path_factory) -> dict[str, Any]:
    """staging restricted to two ranges, with a managed network and a Premium registry."""
    tree = copy_tree(ROOT, tmp_path_factory.mktemp("tree"))
    path = tree / "stacks" / "Pulumi.staging.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["amlops:network"] = {
        "access": "ipRanges",
        "allowedIpRanges": ["203.0.113.0/24", "198.51.100.7/32"],
        "isolationMode": "AllowInternetOutbound",
    }
    doc["config"]["amlops:workspace"]["registrySku"] = "Premium"
    path.write_text(yaml.safe_dump(doc))
    env = {"AMLOPS_STATE_DIR": str(tmp_path_factory.mktemp("state")), "MLFLOW_TRACKING_URI": ""}
    return run_plan("staging", tree, env=env)


def _inputs(plan: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in plan["resources"] if r["name"] == name]
    return found["inputs"]


def test_plan_ip_ranges_firewall_storage_vault_and_registry_and_declare_no_endpoints(ip_ranges_plan):
    plan = ip_ranges_plan
    st = _inputs(plan, "workspace-storage")
    # Storage takes a /32 as a bare address.
    assert (st["publicNetworkAccess"], st["networkRuleSet"]) == ("Enabled", {
        "bypass": "AzureServices", "defaultAction": "Deny",
        "ipRules": [{"action": "Allow", "iPAddressOrRange": "203.0.113.0/24"}, {"action": "Allow", "iPAddressOrRange": "198.51.100.7"}],
    })
    kv = _inputs(plan, "workspace-keyvault")["properties"]
    assert (kv["publicNetworkAccess"], kv["networkAcls"]) == ("enabled", {
        "bypass": "AzureServices", "defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}, {"value": "198.51.100.7/32"}],
    })
    acr = _inputs(plan, "workspace-registry")
    assert (acr["publicNetworkAccess"], acr["networkRuleSet"]) == ("Enabled", {
        "defaultAction": "Deny",
        "ipRules": [{"action": "Allow", "iPAddressOrRange": "203.0.113.0/24"}, {"action": "Allow", "iPAddressOrRange": "198.51.100.7/32"}],
    })
    ws = _inputs(plan, "workspace-workspace")
    assert (ws["publicNetworkAccess"], ws["managedNetwork"], ws["imageBuildCompute"]) == (
        "Enabled", {"enableNetworkMonitor": False, "isolationMode": "AllowInternetOutbound"}, "cpu-sm-cluster"
    )
    assert _inputs(plan, "compute-cluster")["properties"]["properties"]["enableNodePublicIp"] is False
    assert [r["urn"] for r in plan["resources"] if r["type"].startswith("azure-native:network:")] == []
