"""The Pulumi program under mocks, once per stack (one harness process each), on a copy of the tree.

The copy isolates the plans from edits made to the working tree while the tests run;
the state folder is empty, so the model version is planned as unresolved (with warnings: no model files, no swagger).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from amlops.plan import PlanError, run_plan
from infra.content import content_hash, folder_files
from infra.monitoring import rejected_loans_query
from infra.naming import stack_suffix
from tree_support import copy_tree, with_local_models

SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")
ML = "azure-native:machinelearningservices"


@pytest.fixture(scope="session")
def offline_env(tmp_path_factory) -> dict[str, str]:
    """An empty state folder and no tracking URI: the registry holds no model."""
    return {"AMLOPS_STATE_DIR": str(tmp_path_factory.mktemp("empty-state")), "MLFLOW_TRACKING_URI": ""}


@pytest.fixture(scope="session")
def tree(tmp_path_factory) -> Path:
    return with_local_models(copy_tree(ROOT, tmp_path_factory.mktemp("tree")))


@pytest.fixture(scope="session")
def plans(tree, offline_env) -> dict[str, dict[str, Any]]:
    return {stack: run_plan(stack, tree, env=offline_env) for stack in STACKS}


def by_name(plan: dict[str, Any], name: str) -> dict[str, Any]:
    found = [r for r in plan["resources"] if r["name"] == name]
    assert len(found) == 1, f"stack {plan['stack']}: expected one resource named {name!r}, found {len(found)}"
    return found[0]


def of_type(plan: dict[str, Any], typ: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == typ]


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(added, removed, changed) resource names between two plans."""
    a = {r["urn"]: r for r in before["resources"]}
    b = {r["urn"]: r for r in after["resources"]}
    name = lambda urn: urn.rsplit("::", 1)[-1]  # noqa: E731
    return (
        {name(u) for u in b.keys() - a.keys()},
        {name(u) for u in a.keys() - b.keys()},
        {name(u) for u in a.keys() & b.keys() if a[u] != b[u]},
    )


# --- the document ----------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_plan_document_is_sorted_and_says_it_is_not_a_cloud_preview(plans, stack):
    plan = plans[stack]
    assert plan["kind"] == "amlops-plan" and plan["version"] == 1 and plan["stack"] == stack
    assert "not a cloud preview" in plan["note"]
    urns = [r["urn"] for r in plan["resources"]]
    assert urns == sorted(urns), f"{stack}: resources are not sorted by urn"
    for r in plan["resources"]:
        assert set(r) == {"urn", "type", "name", "parent", "dependencies", "protect", "ignoreChanges", "custom", "inputs"}, r["urn"]
        assert r["dependencies"] == sorted(r["dependencies"]), f"{r['urn']}: dependencies not sorted"
        assert list(r["inputs"]) == sorted(r["inputs"]), f"{r['urn']}: inputs not sorted"


@pytest.mark.parametrize("stack", STACKS)
def test_plan_components_are_parents_of_every_azure_resource(plans, stack):
    plan = plans[stack]
    components = {r["urn"]: r["type"] for r in plan["resources"] if not r["custom"]}
    assert sorted(set(components.values())) == sorted(
        {
            "amlops:workspace:Workspace",
            "amlops:compute:Compute",
            "amlops:code_asset:CodeAsset",
            "amlops:environment:Environment",
            "amlops:model_asset:ModelAsset",
            "amlops:online_endpoint:OnlineEndpoint",
            "amlops:batch_endpoint:BatchEndpoint",
            "amlops:roles:RoleAssignments",
            "amlops:model_monitor:ModelMonitor",
        }
        | ({"amlops:network:PrivateNetwork"} if stack == "prod" else set())
        | ({"amlops:autoscale:Autoscale", "amlops:monitoring:Monitoring"} if stack != "dev" else set())
        | ({"amlops:schedule:BatchSchedule"} if stack == "prod" else set())
    ), f"{stack}: component types"
    for r in plan["resources"]:
        if r["custom"]:
            assert r["parent"] in components, f"{r['urn']}: parent {r['parent']} is not a component"
            assert r["name"].startswith(plan_name(plan, r["parent"]) + "-"), f"{r['urn']}: not named after its component"


def plan_name(plan: dict[str, Any], urn: str) -> str:
    return next(r["name"] for r in plan["resources"] if r["urn"] == urn)


@pytest.mark.parametrize("stack", STACKS)
def test_plan_outputs_hide_the_app_insights_connection_string(plans, stack):
    out = plans[stack]["outputs"]
    assert out["appInsightsConnectionString"] == "[secret]", f"{stack}: connection string shown"
    cfg = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    suffix = stack_suffix("amlops", stack, cfg["amlops:prefix"], SUBSCRIPTION_ID)
    endpoint = f"{cfg['amlops:online']['endpointName']}-{suffix}"
    assert out["onlineEndpointName"] == endpoint
    assert out["scoringUri"] == f"https://{endpoint}.westeurope.inference.ml.azure.com/score"
    assert out["swaggerUri"] == f"https://{endpoint}.westeurope.inference.ml.azure.com/swagger.json"
    assert out["onlineDeploymentNames"] == ["blue"]
    assert out["batchEndpointName"] == f"{cfg['amlops:batch']['endpointName']}-{suffix}"
    assert out["batchDeploymentName"] == "loans-batch"
    assert out["workspaceName"] == by_name(plans[stack], "workspace-workspace")["inputs"]["workspaceName"]


# --- names -----------------------------------------------------------------------

_AZURE_NAME = r"^[^<>*%&:\\?+/#|]{1,260}$"
NAME_RULES: dict[str, tuple[str, str]] = {
    "azure-native:resources:ResourceGroup": ("resourceGroupName", r"^[-\w.()]{0,89}[-\w()]$"),
    "azure-native:storage:StorageAccount": ("accountName", r"^[a-z0-9]{3,24}$"),
    "azure-native:storage:BlobContainer": ("containerName", r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"),
    "azure-native:storage:Blob": ("blobName", r"^[^\\]{1,1024}(?<![./])$"),
    "azure-native:keyvault:Vault": ("vaultName", r"^(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$"),
    "azure-native:containerregistry:Registry": ("registryName", r"^[a-zA-Z0-9]{5,50}$"),
    "azure-native:operationalinsights:Workspace": ("workspaceName", r"^[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]$"),
    "azure-native:applicationinsights:Component": ("resourceName", r"^[^%&\\?/]{0,254}[^%&\\?/. ]$"),
    f"{ML}:Workspace": ("workspaceName", r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"),
    f"{ML}:Compute": ("computeName", r"^[a-zA-Z][a-zA-Z0-9-]{0,14}[a-zA-Z0-9]$"),
    f"{ML}:CodeContainer": ("name", r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$"),
    f"{ML}:CodeVersion": ("version", r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,29}$"),
    # azure-ai-ml's ComponentNameStr (_schema/core/fields.py): lower letters, digits, underscores, a letter first
    f"{ML}:ComponentVersion": ("name", r"^[a-z][a-z0-9_]{0,254}$"),
    f"{ML}:EnvironmentContainer": ("name", r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$"),
    f"{ML}:EnvironmentVersion": ("version", r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,29}$"),
    f"{ML}:ModelContainer": ("name", r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$"),
    f"{ML}:ModelVersion": ("version", r"^[0-9]{1,9}$"),
    f"{ML}:OnlineEndpoint": ("endpointName", r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$"),
    f"{ML}:OnlineDeployment": ("deploymentName", r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$"),
    f"{ML}:BatchEndpoint": ("endpointName", r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$"),
    f"{ML}:BatchDeployment": ("deploymentName", r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$"),
    "azure-native:monitor:AutoscaleSetting": ("autoscaleSettingName", _AZURE_NAME),
    "azure-native:monitor:ActionGroup": ("actionGroupName", _AZURE_NAME),
    "azure-native:monitor:MetricAlert": ("ruleName", _AZURE_NAME),
    "azure-native:monitor:ScheduledQueryRule": ("ruleName", _AZURE_NAME),
    "pulumi-python:dynamic:Resource": ("endpoint_name", r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$"),
    f"{ML}:Schedule": ("name", r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$"),
    f"{ML}:Datastore": ("name", r"^[a-z0-9_]{1,255}$"),
    # Microsoft.Network: 2-64 (networks, endpoints), 1-80 (zone groups, zone links); zones are domain names.
    "azure-native:network:VirtualNetwork": ("virtualNetworkName", r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9_]$"),
    "azure-native:network:PrivateEndpoint": ("privateEndpointName", r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9_]$"),
    "azure-native:network:PrivateDnsZoneGroup": ("privateDnsZoneGroupName", r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,78}[a-zA-Z0-9_]$"),
    "azure-native:privatedns:PrivateZone": ("privateZoneName", r"^privatelink(\.[a-z0-9-]+)+$"),
    "azure-native:privatedns:VirtualNetworkLink": ("virtualNetworkLinkName", r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,78}[a-zA-Z0-9_]$"),
    # A role assignment's name is a GUID (Microsoft.Authorization/roleAssignments).
    "azure-native:authorization:RoleAssignment": ("roleAssignmentName", r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
}


@pytest.mark.parametrize("stack", STACKS)
def test_plan_every_azure_name_is_valid_for_its_type(plans, stack):
    for r in plans[stack]["resources"]:
        if not r["custom"]:
            continue
        assert r["type"] in NAME_RULES, f"{r['urn']}: no naming rule for {r['type']} in this test"
        key, rule = NAME_RULES[r["type"]]
        if r["type"] == "pulumi-python:dynamic:Resource" and key not in r["inputs"]:
            key, rule = "workspace_name", NAME_RULES[f"{ML}:Workspace"][1]  # a workspace step (the managed network) names only the workspace
        value = r["inputs"].get(key)
        assert isinstance(value, str) and re.match(rule, value), f"{r['urn']}: {key}={value!r} breaks {rule}"
    group = by_name(plans[stack], "monitoring-action-group")["inputs"] if stack != "dev" else None
    if group:
        assert 1 <= len(group["groupShortName"]) <= 12, f"{stack}: monitoring-action-group groupShortName"


@pytest.mark.parametrize("stack", STACKS)
def test_plan_endpoint_and_deployment_names_pass_azure_ai_mls_own_validation(plans, stack):
    """azure-ai-ml refuses these names client-side with the same rule Azure applies (3-32, letter first)."""
    from azure.ai.ml.entities._endpoint._endpoint_helpers import validate_endpoint_or_deployment_name

    kinds = {f"{ML}:OnlineEndpoint": ("endpointName", False), f"{ML}:BatchEndpoint": ("endpointName", False),
             f"{ML}:OnlineDeployment": ("deploymentName", True), f"{ML}:BatchDeployment": ("deploymentName", True)}
    checked = 0
    for r in plans[stack]["resources"]:
        if r["type"] in kinds:
            key, is_deployment = kinds[r["type"]]
            validate_endpoint_or_deployment_name(r["inputs"][key], is_deployment=is_deployment)
            checked += 1
    assert checked == 4, f"{stack}: expected two endpoints and two deployments, checked {checked}"


def test_plan_online_endpoint_name_carries_the_stack_suffix_so_regions_never_collide(plans):
    names = {s: by_name(plans[s], "online-endpoint")["inputs"]["endpointName"] for s in STACKS}
    assert names == {
        "dev": "loans-dev-online-" + stack_suffix("amlops", "dev", "loans", SUBSCRIPTION_ID),
        "staging": "loans-stg-online-" + stack_suffix("amlops", "staging", "loansstg", SUBSCRIPTION_ID),
        "prod": "loans-prod-online-" + stack_suffix("amlops", "prod", "loansprd", SUBSCRIPTION_ID),
    }


def test_plan_global_names_differ_between_stacks(plans):
    for name, key in (("workspace-storage", "accountName"), ("workspace-keyvault", "vaultName"), ("workspace-registry", "registryName"), ("workspace-workspace", "workspaceName")):
        values = {by_name(plans[s], name)["inputs"][key] for s in STACKS}
        assert len(values) == 3, f"{name}: {key} repeats across stacks: {values}"


# --- workspace ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "public", "purge", "storage_sku", "acr_sku", "retention"),
    [
        ("dev", "Enabled", None, "Standard_LRS", "Basic", 30),
        ("staging", "Enabled", None, "Standard_ZRS", "Standard", 30),
        ("prod", "Disabled", True, "Standard_GRS", "Premium", 90),
    ],
)
def test_plan_workspace_links_its_dependencies_with_stack_settings(plans, stack, public, purge, storage_sku, acr_sku, retention):
    plan = plans[stack]
    st = by_name(plan, "workspace-storage")
    assert st["inputs"]["minimumTlsVersion"] == "TLS1_2", st["urn"]
    assert st["inputs"]["allowBlobPublicAccess"] is False, st["urn"]
    assert st["inputs"]["sku"] == {"name": storage_sku}, st["urn"]
    assert (st["inputs"]["kind"], st["inputs"]["enableHttpsTrafficOnly"]) == ("StorageV2", True), st["urn"]
    kv = by_name(plan, "workspace-keyvault")
    assert kv["inputs"]["properties"]["enableRbacAuthorization"] is True, kv["urn"]
    assert kv["inputs"]["properties"]["enableSoftDelete"] is True, kv["urn"]
    # Azure rejects enablePurgeProtection=false: off means the field is absent.
    assert kv["inputs"]["properties"].get("enablePurgeProtection", "absent") == (True if purge else "absent"), kv["urn"]
    assert kv["inputs"]["properties"]["sku"] == {"family": "A", "name": "standard"}, kv["urn"]
    acr = by_name(plan, "workspace-registry")
    assert acr["inputs"]["adminUserEnabled"] is False, acr["urn"]
    assert by_name(plan, "workspace-logs")["inputs"]["sku"] == {"name": "PerGB2018"}
    assert kv["inputs"]["properties"]["tenantId"] == "11111111-1111-1111-1111-111111111111", kv["urn"]
    assert by_name(plan, "workspace-registry")["inputs"]["sku"] == {"name": acr_sku}
    assert by_name(plan, "workspace-logs")["inputs"]["retentionInDays"] == retention
    appi = by_name(plan, "workspace-appinsights")
    assert (appi["inputs"]["kind"], appi["inputs"]["applicationType"]) == ("web", "web"), appi["urn"]
    assert appi["inputs"]["ingestionMode"] == "LogAnalytics", appi["urn"]
    assert appi["inputs"]["workspaceResourceId"].endswith("/workspaces/" + by_name(plan, "workspace-logs")["inputs"]["workspaceName"]), appi["urn"]
    ws = by_name(plan, "workspace-workspace")
    i = ws["inputs"]
    assert i["identity"] == {"type": "SystemAssigned"}, ws["urn"]
    assert i["sku"] == {"name": "Basic", "tier": "Basic"}, ws["urn"]
    assert i["publicNetworkAccess"] == public, ws["urn"]
    assert i["hbiWorkspace"] is (stack == "prod"), ws["urn"]
    assert i["storageAccount"].endswith("/storageAccounts/" + st["inputs"]["accountName"]), ws["urn"]
    assert i["keyVault"].endswith("/vaults/" + kv["inputs"]["vaultName"]), ws["urn"]
    assert i["containerRegistry"].endswith("/registrys/" + by_name(plan, "workspace-registry")["inputs"]["registryName"]), ws["urn"]
    assert i["applicationInsights"].endswith("/components/" + appi["inputs"]["resourceName"]), ws["urn"]


@pytest.mark.parametrize("stack", STACKS)
def test_plan_protects_stateful_resources_only_in_prod(plans, stack):
    protected = sorted(r["name"] for r in plans[stack]["resources"] if r["protect"])
    expected = [
        "workspace-appinsights", "workspace-assets", "workspace-keyvault", "workspace-logs", "workspace-registry", "workspace-rg",
        "workspace-storage", "workspace-workspace",
    ]
    assert protected == (expected if stack == "prod" else []), f"{stack}: protected resources"


# --- identities and roles ------------------------------------------------------------

ROLE_IDS = {  # https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}
# role assignment → (role, the identity's resource or None for the deploy principal, the one resource it is scoped to)
EXPECTED_GRANTS = {
    "compute-roles-acr-pull": ("AcrPull", "compute-cluster", "workspace-registry"),
    "compute-roles-secrets-user": ("Key Vault Secrets User", "compute-cluster", "workspace-keyvault"),
    "compute-roles-assets-read": ("Storage Blob Data Reader", "compute-cluster", "workspace-assets"),
    "online-roles-assets-read": ("Storage Blob Data Reader", "online-endpoint", "workspace-assets"),
    "workspace-roles-workspace-assets-read": ("Storage Blob Data Reader", "workspace-workspace", "workspace-assets"),
    "workspace-roles-deployer-assets-write": ("Storage Blob Data Contributor", None, "workspace-assets"),
}


def resource_id(plan: dict[str, Any], name: str) -> str:
    """The id the mocks give a resource (the harness's scheme), to compare scopes with."""
    r = by_name(plan, name)
    package, module, kind = r["type"].split(":")
    key = {"Registry": "registryName", "Vault": "vaultName", "BlobContainer": "containerName"}[kind]
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/mock/providers/{package}.{module}/{kind[:1].lower()}{kind[1:]}s/{r['inputs'][key]}"


@pytest.mark.parametrize("stack", STACKS)
def test_plan_identities_get_built_in_roles_each_on_one_resource(plans, stack):
    plan = plans[stack]
    assignments = {r["name"]: r for r in of_type(plan, "azure-native:authorization:RoleAssignment")}
    assert sorted(assignments) == sorted(EXPECTED_GRANTS), f"{stack}: role assignments"
    for name, (role, holder, scope) in EXPECTED_GRANTS.items():
        a = assignments[name]
        i = a["inputs"]
        assert i["roleDefinitionId"] == f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_IDS[role]}", a["urn"]
        assert i["scope"] == resource_id(plan, scope), a["urn"]
        assert i["principalType"] == "ServicePrincipal", a["urn"]
        assert by_name(plan, scope)["urn"] in a["dependencies"], f"{a['urn']}: waits for its scope"
        if holder is not None:
            assert by_name(plan, holder)["urn"] in a["dependencies"], f"{a['urn']}: waits for {holder}'s identity"
    assert assignments["workspace-roles-deployer-assets-write"]["inputs"]["principalId"] == "mock-object", "the client config's object id"
    assert assignments["workspace-roles-workspace-assets-read"]["inputs"]["principalId"] == "mock-principal", "the workspace identity"
    names = [a["inputs"]["roleAssignmentName"] for a in assignments.values()]
    assert len(set(names)) == len(names), f"{stack}: assignment names repeat"


def test_plan_role_assignment_names_differ_between_stacks(plans):
    names = {s: by_name(plans[s], "compute-roles-acr-pull")["inputs"]["roleAssignmentName"] for s in STACKS}
    assert len(set(names.values())) == 3, names


@pytest.mark.parametrize("stack", STACKS)
def test_plan_compute_identity_users_wait_for_its_roles(plans, stack):
    plan = plans[stack]
    cluster = by_name(plan, "compute-cluster")
    assert cluster["inputs"]["identity"] == {"type": "SystemAssigned"}, cluster["urn"]
    # Whatever runs on the cluster waits for its roles: the batch deployment names the cluster only once they exist.
    batch = by_name(plan, "batch-deployment")
    for grant in ("compute-roles-acr-pull", "compute-roles-secrets-user", "compute-roles-assets-read"):
        assert by_name(plan, grant)["urn"] in batch["dependencies"], f"{batch['urn']}: must wait for {grant}"
    online = by_name(plan, "online-blue")
    assert by_name(plan, "online-roles-assets-read")["urn"] in online["dependencies"], f"{online['urn']}: must wait for its read role"


# --- network ----------------------------------------------------------------------------

# (endpoint key, target resource, group id, DNS zones): https://learn.microsoft.com/azure/private-link/private-endpoint-dns
PRIVATE_LINKS = [
    ("workspace", "workspace-workspace", "amlworkspace", ["privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"]),
    ("blob", "workspace-storage", "blob", ["privatelink.blob.core.windows.net"]),
    ("file", "workspace-storage", "file", ["privatelink.file.core.windows.net"]),
    ("vault", "workspace-keyvault", "vault", ["privatelink.vaultcore.azure.net"]),
    ("registry", "workspace-registry", "registry", ["privatelink.azurecr.io"]),
]


def mock_id(plan: dict[str, Any], name: str) -> str:
    """The id the harness's mocks give a resource: its type and Azure name (the plan's own naming)."""
    r = by_name(plan, name)
    package, module, kind = r["type"].split(":")
    azure_name = r["inputs"].get(NAME_RULES[r["type"]][0]) if r["type"] in NAME_RULES else None
    known = {"Workspace", "StorageAccount", "Vault", "Registry"}
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/mock/providers/{package}.{module}/{kind[:1].lower()}{kind[1:]}s/" + (
        azure_name if kind in known else name
    )


def test_plan_prod_reaches_workspace_storage_vault_and_registry_only_through_private_endpoints(plans):
    plan = plans["prod"]
    vnet = by_name(plan, "network-vnet")
    assert vnet["inputs"]["addressSpace"] == {"addressPrefixes": ["10.40.0.0/16"]}, vnet["urn"]
    assert [(x["name"], x["addressPrefix"]) for x in vnet["inputs"]["subnets"]] == [("private-endpoints", "10.40.1.0/24"), ("runner", "10.40.2.0/24")], vnet["urn"]
    assert vnet["inputs"]["subnets"][0]["privateEndpointNetworkPolicies"] == "Disabled", vnet["urn"]
    zones = {r["inputs"]["privateZoneName"]: r for r in of_type(plan, "azure-native:privatedns:PrivateZone")}
    assert sorted(zones) == sorted(z for *_, zs in PRIVATE_LINKS for z in zs), "prod: private DNS zones"
    links = {r["inputs"]["privateZoneName"]: r for r in of_type(plan, "azure-native:privatedns:VirtualNetworkLink")}
    assert sorted(links) == sorted(zones), "prod: every zone is linked to the network"
    for zone, link in links.items():
        assert link["inputs"]["virtualNetwork"] == {"id": mock_id(plan, "network-vnet")}, link["urn"]
        assert (link["inputs"]["registrationEnabled"], link["inputs"]["location"]) == (False, "global"), link["urn"]
    subnet = mock_id(plan, "network-vnet") + "/subnets/private-endpoints"
    for key, target, group, zone_names in PRIVATE_LINKS:
        pe = by_name(plan, f"network-pe-{key}")
        (connection,) = pe["inputs"]["privateLinkServiceConnections"]
        assert (connection["privateLinkServiceId"], connection["groupIds"]) == (mock_id(plan, target), [group]), pe["urn"]
        assert pe["inputs"]["subnet"]["id"] == subnet, pe["urn"]
        dns = by_name(plan, f"network-dns-{key}")
        assert dns["inputs"]["privateEndpointName"] == pe["inputs"]["privateEndpointName"] and pe["urn"] in dns["dependencies"], dns["urn"]
        assert [c["privateDnsZoneId"] for c in dns["inputs"]["privateDnsZoneConfigs"]] == [
            mock_id(plan, zones[z]["name"]) for z in zone_names
        ], dns["urn"]
    st, kv, acr = (by_name(plan, n)["inputs"] for n in ("workspace-storage", "workspace-keyvault", "workspace-registry"))
    assert (st["publicNetworkAccess"], st["networkRuleSet"]) == ("Disabled", {"bypass": "AzureServices", "defaultAction": "Deny"})
    assert (kv["properties"]["publicNetworkAccess"], kv["properties"]["networkAcls"]) == ("disabled", {"bypass": "AzureServices", "defaultAction": "Deny"})
    assert (acr["publicNetworkAccess"], acr["networkRuleBypassOptions"], acr["sku"]) == ("Disabled", "AzureServices", {"name": "Premium"})
    cluster = by_name(plan, "compute-cluster")["inputs"]["properties"]["properties"]
    assert cluster["enableNodePublicIp"] is False, "prod: compute nodes live in the managed network without public IPs"


def test_plan_prod_uploads_wait_for_the_private_dns_records(plans):
    plan = plans["prod"]
    blob = by_name(plan, "scoring-code-score.py")
    groups = {r["urn"] for r in of_type(plan, "azure-native:network:PrivateDnsZoneGroup")}
    assert groups and groups <= set(blob["dependencies"]), f"{blob['urn']}: a runner in the network needs the endpoint's DNS first"


def test_plan_prod_managed_network_is_what_azure_ai_mls_workspace_sends(plans):
    """The workspace's managedNetwork, imageBuildCompute and publicNetworkAccess equal azure-ai-ml's REST body."""
    import warnings

    from azure.ai.ml.constants._workspace import IsolationMode
    from azure.ai.ml.entities import FqdnDestination, ManagedNetwork, Workspace

    ws = by_name(plans["prod"], "workspace-workspace")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        entity = Workspace(
            name=ws["inputs"]["workspaceName"], public_network_access="Disabled", image_build_compute="cpu-sm-cluster",
            managed_network=ManagedNetwork(
                isolation_mode=IsolationMode.ALLOW_ONLY_APPROVED_OUTBOUND,
                outbound_rules=[
                    FqdnDestination(name="condaforge", destination="conda.anaconda.org"),
                    FqdnDestination(name="pypi", destination="pypi.org"),
                    FqdnDestination(name="pythonhosted", destination="files.pythonhosted.org"),
                ],
            ),
        )
        expected = entity._to_rest_object().as_dict()["properties"]
    managed = dict(ws["inputs"]["managedNetwork"])
    assert managed.pop("enableNetworkMonitor") is False, f"{ws['urn']}: the provider's default"
    assert managed == expected["managedNetwork"], ws["urn"]
    assert (ws["inputs"]["imageBuildCompute"], ws["inputs"]["publicNetworkAccess"]) == (expected["imageBuildCompute"], expected["publicNetworkAccess"]), ws["urn"]


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_plan_public_stacks_declare_no_network_and_no_firewall(plans, stack):
    plan = plans[stack]
    network = [r["urn"] for r in plan["resources"] if r["type"].startswith(("azure-native:network:", "azure-native:privatedns:"))]
    assert network == [], network
    ws = by_name(plan, "workspace-workspace")["inputs"]
    assert "managedNetwork" not in ws and "imageBuildCompute" not in ws, f"{stack}: workspace network settings"
    for name, key in (("workspace-storage", "networkRuleSet"), ("workspace-registry", "networkRuleSet")):
        assert key not in by_name(plan, name)["inputs"], f"{stack}: {name} {key}"
    assert "networkAcls" not in by_name(plan, "workspace-keyvault")["inputs"]["properties"], f"{stack}: key vault networkAcls"


# --- the asset datastore ----------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_plan_asset_container_is_an_identity_based_datastore_as_azure_ai_ml_builds_it(plans, stack):
    """The datastore body equals azure-ai-ml's own REST body for an AzureBlobDatastore without credentials."""
    import warnings

    from azure.ai.ml._restclient.arm_ml_service.models import AzureBlobDatastore as RestAzureBlobDatastore
    from azure.ai.ml.entities import AzureBlobDatastore

    plan = plans[stack]
    ds = by_name(plan, "workspace-datastore")
    account = by_name(plan, "workspace-storage")["inputs"]["accountName"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        entity = AzureBlobDatastore(
            name="amlops_assets", account_name=account, container_name="amlops-assets",
            description="code and model files uploaded by amlops, one content-addressed folder per version",
        )
        rest = entity._to_rest_object().properties
        # azure-ai-ml's entity never sets which identity the service uses; its REST model has the field.
        assert "service_data_access_auth_identity" in RestAzureBlobDatastore._attr_to_rest_field
        rest.service_data_access_auth_identity = "WorkspaceSystemAssignedIdentity"
        expected = rest.as_dict()
    expected.pop("tags")  # empty in the entity; the plan sets none
    assert ds["inputs"]["name"] == "amlops_assets", ds["urn"]
    assert ds["inputs"]["properties"] == expected, ds["urn"]
    assert ds["inputs"]["properties"]["credentials"] == {"credentialsType": "None"}, f"{ds['urn']}: identity-based (no key stored)"
    assert ds["inputs"]["workspaceName"] == by_name(plan, "workspace-workspace")["inputs"]["workspaceName"], ds["urn"]
    for grant in ("workspace-roles-workspace-assets-read", "workspace-roles-deployer-assets-write"):
        assert by_name(plan, grant)["urn"] in ds["dependencies"], f"{ds['urn']}: waits for {grant}"


# --- compute -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "priority", "max_nodes", "idle"),
    [("dev", "LowPriority", 2, "PT2M"), ("staging", "LowPriority", 4, "PT5M"), ("prod", "Dedicated", 8, "PT10M")],
)
def test_plan_cluster_scales_to_zero_with_stack_priority(plans, stack, priority, max_nodes, idle):
    c = by_name(plans[stack], "compute-cluster")
    assert c["inputs"]["computeName"] == "cpu-sm-cluster", c["urn"]
    props = c["inputs"]["properties"]
    assert props["computeType"] == "AmlCompute", c["urn"]
    assert props["properties"]["vmSize"] == "Standard_DS3_v2", c["urn"]
    assert props["properties"]["vmPriority"] == priority, c["urn"]
    assert props["properties"]["scaleSettings"] == {"minNodeCount": 0, "maxNodeCount": max_nodes, "nodeIdleTimeBeforeScaleDown": idle}, c["urn"]
    assert of_type(plans[stack], f"{ML}:Compute") == [c], f"{stack}: only the cluster (no Kubernetes attach)"


# --- assets ------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(("asset", "folder"), [("scoring-code", "scoring"), ("batch-code", "batch")])
def test_plan_code_asset_is_content_addressed_one_blob_per_file(plans, tree, stack, asset, folder):
    plan = plans[stack]
    digest = content_hash(tree / folder)
    prefix = {"dev": "loans", "staging": "loansstg", "prod": "loansprd"}[stack]
    version = by_name(plan, f"{asset}-version")
    assert version["inputs"]["version"] == digest, version["urn"]
    assert version["inputs"]["name"] == f"{prefix}-{folder}", version["urn"]
    uri = version["inputs"]["properties"]["codeUri"]
    assert uri == f"azureml://datastores/amlops_assets/paths/{prefix}-{folder}/{digest}", version["urn"]
    assert by_name(plan, "workspace-datastore")["urn"] in version["dependencies"], f"{version['urn']}: names the datastore"
    blobs = sorted(r["inputs"]["blobName"] for r in plan["resources"] if r["type"] == "azure-native:storage:Blob" and r["name"].startswith(f"{asset}-"))
    assert blobs == sorted(f"{prefix}-{folder}/{digest}/{rel}" for rel in folder_files(tree / folder)), f"{stack}: {asset} blobs"
    blob_urns = {r["urn"] for r in plan["resources"] if r["type"] == "azure-native:storage:Blob" and r["name"].startswith(f"{asset}-")}
    assert blob_urns <= set(version["dependencies"]), f"{version['urn']}: must depend on its blobs"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("env", ["scoring", "batch"])
def test_plan_environment_is_the_conda_spec_on_an_inference_image(plans, tree, stack, env):
    v = by_name(plans[stack], f"{env}-env-version")
    props = v["inputs"]["properties"]
    assert props["condaFile"] == (tree / env / "environment" / "conda.yaml").read_text(), v["urn"]
    assert props["image"] == "mcr.microsoft.com/azureml/curated/minimal-py311-inference:59", f"{v['urn']}: a pinned curated inference image"
    assert props["osType"] == "Linux", v["urn"]
    assert props["tags"]["contentHash"] == v["inputs"]["version"], v["urn"]


@pytest.mark.parametrize("stack", STACKS)
def test_plan_unregistered_model_is_planned_unresolved_with_a_warning(plans, stack):
    plan = plans[stack]
    v = by_name(plan, "model-v1")
    assert v["inputs"]["version"] == "1" and v["inputs"]["name"] == "chapter12-loans", v["urn"]
    assert v["inputs"]["properties"]["modelType"] == "mlflow_model", v["urn"]
    assert v["inputs"]["properties"]["tags"]["contentHash"] == "unresolved", v["urn"]
    assert v["inputs"]["properties"]["modelUri"] == "azureml://datastores/amlops_assets/paths/models/chapter12-loans/unresolved-v1", v["urn"]
    assert len(plan["warnings"]) == 2, plan["warnings"]
    assert plan["warnings"][0].startswith("model chapter12-loans:1 is not in the registry at sqlite:///"), plan["warnings"]
    assert "amlops model register" in plan["warnings"][0]
    assert plan["warnings"][1] == (
        "online deployment blue: the scoring code is planned without swagger.json, swagger3.json, swagger3.1.json, as model "
        "chapter12-loans:1 is unresolved; Azure would serve the inference server's generic /swagger.json, not the one "
        "`amlops serve` serves"
    )


# --- online --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "auth", "instance_type", "count", "workers", "timeout"),
    [
        ("dev", "Key", "Standard_DS1_v2", 1, "2", "PT5S"),
        ("staging", "Key", "Standard_DS2_v2", 1, "2", "PT3S"),
        ("prod", "AMLToken", "Standard_F4s_v2", 2, "4", "PT2S"),
    ],
)
def test_plan_online_deployment_carries_stack_settings(plans, stack, auth, instance_type, count, workers, timeout):
    plan = plans[stack]
    ep = by_name(plan, "online-endpoint")
    assert ep["inputs"]["properties"]["authMode"] == auth, ep["urn"]
    assert "traffic" not in ep["inputs"]["properties"], f"{ep['urn']}: traffic belongs to online-traffic"
    assert ep["ignoreChanges"] == ["properties.mirrorTraffic", "properties.traffic"], ep["urn"]
    assert ep["inputs"]["identity"] == {"type": "SystemAssigned"}, ep["urn"]
    d = by_name(plan, "online-blue")
    p = d["inputs"]["properties"]
    assert d["inputs"]["sku"] == {"name": "Default", "capacity": count}, d["urn"]
    assert p["endpointComputeType"] == "Managed" and p["instanceType"] == instance_type, d["urn"]
    assert p["codeConfiguration"]["scoringScript"] == "score.py", d["urn"]
    assert p["codeConfiguration"]["codeId"].endswith("/versions/" + by_name(plan, "scoring-code-version")["inputs"]["version"]), d["urn"]
    assert p["environmentId"].endswith("/versions/" + by_name(plan, "scoring-env-version")["inputs"]["version"]), d["urn"]
    assert p["model"].endswith("/modelVersions/chapter12-loans/versions/1"), d["urn"]
    # AMLOPS_TARGET_COLUMN: the monitor's target column, where blue collects data for it
    assert p["environmentVariables"] == {
        "AMLOPS_ENDPOINT": ep["inputs"]["endpointName"], "AMLOPS_MAX_ROWS": "1000", "WORKER_COUNT": workers, "AMLOPS_TARGET_COLUMN": "approved_loan"}, d["urn"]
    assert p["requestSettings"]["requestTimeout"] == timeout, d["urn"]
    assert p["appInsightsEnabled"] is True, d["urn"]
    assert set(p["livenessProbe"]) == {"failureThreshold", "initialDelay", "period", "successThreshold", "timeout"}, d["urn"]
    assert p["livenessProbe"]["successThreshold"] == 1, f"{d['urn']}: Kubernetes takes only 1 for a liveness probe"
    # Autoscale owns sku.capacity where it runs (staging, prod): a refresh must not undo its count.
    assert d["ignoreChanges"] == (["sku.capacity"] if stack != "dev" else []), d["urn"]


def test_plan_prod_online_deployment_and_endpoint_are_what_azure_ai_ml_sends(plans):
    """Built from the stack's settings, azure-ai-ml's ManagedOnlineDeployment/ManagedOnlineEndpoint REST bodies equal the plan's."""
    import warnings

    from azure.ai.ml.entities import (
        CodeConfiguration, DataCollector, DeploymentCollection, IdentityConfiguration, ManagedOnlineDeployment, ManagedOnlineEndpoint,
        OnlineRequestSettings, ProbeSettings,
    )

    plan = plans["prod"]
    d, ep = by_name(plan, "online-blue"), by_name(plan, "online-endpoint")
    p = d["inputs"]["properties"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        entity = ManagedOnlineDeployment(
            name="blue", endpoint_name=ep["inputs"]["endpointName"], model=p["model"],
            code_configuration=CodeConfiguration(code=p["codeConfiguration"]["codeId"], scoring_script="score.py"),
            environment=p["environmentId"], instance_type="Standard_F4s_v2", instance_count=2,
            environment_variables={"AMLOPS_ENDPOINT": ep["inputs"]["endpointName"], "AMLOPS_MAX_ROWS": "1000", "WORKER_COUNT": "4",
                                   "AMLOPS_TARGET_COLUMN": "approved_loan"}, app_insights_enabled=True,
            request_settings=OnlineRequestSettings(request_timeout_ms=2000, max_concurrent_requests_per_instance=8, max_queue_wait_ms=200),
            liveness_probe=ProbeSettings(initial_delay=10, period=10, timeout=2, failure_threshold=3, success_threshold=1),
            readiness_probe=ProbeSettings(initial_delay=10, period=5, timeout=2, failure_threshold=3, success_threshold=1),
            data_collector=DataCollector(
                collections={"model_inputs": DeploymentCollection(enabled="true"), "model_outputs": DeploymentCollection(enabled="true")},
                sampling_rate=0.2, rolling_rate="Hour",
            ),
        )
        rest = entity._to_rest_object(location="westeurope").as_dict()
        endpoint = ManagedOnlineEndpoint(
            name=ep["inputs"]["endpointName"], auth_mode="aml_token", identity=IdentityConfiguration(type="system_assigned"),
            description="model chapter12-loans, managed online endpoint",
        )._to_rest_online_endpoint(location="westeurope").as_dict()
    expected = {k: v for k, v in rest["properties"].items() if k != "properties"}
    # The provider sends Azure's documented default, which azure-ai-ml leaves out.
    assert {k: v for k, v in p.items() if k != "egressPublicNetworkAccess"} == expected, d["urn"]
    assert p["egressPublicNetworkAccess"] == "Enabled", d["urn"]
    assert d["inputs"]["sku"] == rest["sku"], d["urn"]
    assert ep["inputs"]["identity"] == endpoint["identity"], ep["urn"]
    assert {k: ep["inputs"]["properties"][k] for k in ("authMode", "description")} == {
        k: endpoint["properties"][k] for k in ("authMode", "description")
    }, ep["urn"]


def test_plan_prod_probes_and_queue_are_iso_durations(plans):
    p = by_name(plans["prod"], "online-blue")["inputs"]["properties"]
    assert p["requestSettings"] == {"maxConcurrentRequestsPerInstance": 8, "maxQueueWait": "PT0.2S", "requestTimeout": "PT2S"}
    assert p["readinessProbe"] == {"failureThreshold": 3, "initialDelay": "PT10S", "period": "PT5S", "successThreshold": 1, "timeout": "PT2S"}


@pytest.mark.parametrize("stack", STACKS)
def test_plan_traffic_is_applied_after_every_deployment(plans, stack):
    plan = plans[stack]
    t = by_name(plan, "online-traffic")
    assert t["inputs"]["traffic"] == {"blue": 100}, t["urn"]
    assert t["inputs"]["mirror_traffic"] == {}, t["urn"]
    assert t["inputs"]["endpoint_name"] == by_name(plan, "online-endpoint")["inputs"]["endpointName"], t["urn"]
    assert t["inputs"]["subscription_id"] == "00000000-0000-0000-0000-000000000000", t["urn"]
    deployments = {r["urn"] for r in of_type(plan, f"{ML}:OnlineDeployment")}
    assert deployments and deployments <= set(t["dependencies"]), f"{t['urn']}: must depend on {deployments}"
    assert re.fullmatch(r"[0-9a-f]{12}", t["inputs"]["endpoint_revision"]), f"{t['urn']}: endpoint_revision"


def test_plan_traffic_is_reapplied_when_the_endpoint_is_updated(plans, tree, offline_env, tmp_path):
    """The endpoint's PUT carries no traffic maps: a change to the endpoint must re-run the traffic step."""
    copy = copy_tree(tree, tmp_path / "tree")
    path = copy / "stacks" / "Pulumi.prod.yaml"
    path.write_text(path.read_text().replace("authMode: aml_token", "authMode: key"))
    after = run_plan("prod", copy, env=offline_env)
    _, _, modified = changed(plans["prod"], after)
    assert modified == {"online-endpoint", "online-traffic"}, sorted(modified)
    before_t, after_t = by_name(plans["prod"], "online-traffic"), by_name(after, "online-traffic")
    assert before_t["inputs"]["endpoint_revision"] != after_t["inputs"]["endpoint_revision"], after_t["urn"]
    assert after_t["inputs"]["traffic"] == before_t["inputs"]["traffic"] == {"blue": 100}, after_t["urn"]


@pytest.mark.parametrize(("stack", "capacity", "latency"), [("dev", None, None), ("staging", ("1", "2", "1"), 200), ("prod", ("2", "6", "2"), 150)])
def test_plan_autoscale_rules_on_each_deployment(plans, stack, capacity, latency):
    plan = plans[stack]
    settings = of_type(plan, "azure-native:monitor:AutoscaleSetting")
    if capacity is None:
        assert settings == [], f"{stack}: autoscale is disabled, got {[s['urn'] for s in settings]}"
        return
    (s,) = settings
    deployment_id = by_name(plan, "online-blue")
    assert s["inputs"]["targetResourceUri"].endswith("/onlineDeployments/blue"), s["urn"]
    assert deployment_id["urn"] in s["dependencies"], s["urn"]
    (profile,) = s["inputs"]["profiles"]
    assert (profile["capacity"]["minimum"], profile["capacity"]["maximum"], profile["capacity"]["default"]) == capacity, s["urn"]
    rules = [(r["metricTrigger"]["metricName"], r["metricTrigger"]["operator"], r["metricTrigger"]["threshold"], r["scaleAction"]["direction"]) for r in profile["rules"]]
    assert rules == [
        ("CpuUtilizationPercentage", "GreaterThan", 70, "Increase"),
        ("CpuUtilizationPercentage", "LessThan", 25, "Decrease"),
        ("RequestLatency", "GreaterThan", latency, "Increase"),
    ], s["urn"]
    cpu_out, cpu_in, latency_rule = (r["metricTrigger"] for r in profile["rules"])
    for cpu in (cpu_out, cpu_in):
        assert cpu["metricNamespace"] == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments", s["urn"]
        assert cpu["metricResourceUri"] == s["inputs"]["targetResourceUri"], f"{s['urn']}: CPU is the deployment's metric"
        assert (cpu["statistic"], cpu["timeAggregation"], cpu["timeGrain"], cpu["timeWindow"]) == ("Average", "Average", "PT1M", "PT5M"), s["urn"]
        assert "dimensions" not in cpu, s["urn"]
    # The average latency is an endpoint metric only; its `deployment` dimension scopes it to this deployment.
    assert latency_rule["metricNamespace"] == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints", s["urn"]
    assert latency_rule["metricResourceUri"].endswith("/onlineEndpoints/" + plan["outputs"]["onlineEndpointName"]), s["urn"]
    assert latency_rule["dimensions"] == [{"dimensionName": "deployment", "operator": "Equals", "values": ["blue"]}], s["urn"]
    assert [r["scaleAction"] for r in profile["rules"]] == [
        {"cooldown": "PT5M", "direction": "Increase", "type": "ChangeCount", "value": "1"},
        {"cooldown": "PT5M", "direction": "Decrease", "type": "ChangeCount", "value": "1"},
        {"cooldown": "PT5M", "direction": "Increase", "type": "ChangeCount", "value": "1"},
    ], s["urn"]


# --- monitoring ------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "email", "latency", "failed"), [("staging", "ml-platform@example.com", 500, 20), ("prod", "ml-oncall@example.com", 300, 10)])
def test_plan_alerts_email_the_action_group(plans, stack, email, latency, failed):
    plan = plans[stack]
    ag = by_name(plan, "monitoring-action-group")
    assert [e["emailAddress"] for e in ag["inputs"]["emailReceivers"]] == [email], ag["urn"]
    lat = by_name(plan, "monitoring-latency")
    (criterion,) = lat["inputs"]["criteria"]["allOf"]
    assert (criterion["metricName"], criterion["threshold"], criterion["timeAggregation"]) == ("RequestLatency", latency, "Average"), lat["urn"]
    fail = by_name(plan, "monitoring-failed-requests")
    (criterion,) = fail["inputs"]["criteria"]["allOf"]
    assert criterion["dimensions"] == [{"name": "statusCodeClass", "operator": "Include", "values": ["5xx"]}], fail["urn"]
    # RequestsPerMinute supports only Average: N failures in 5 minutes = an average above N/5 per minute.
    assert (criterion["metricName"], criterion["metricNamespace"]) == ("RequestsPerMinute", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"), fail["urn"]
    assert (criterion["timeAggregation"], criterion["threshold"], criterion["operator"]) == ("Average", failed / 5, "GreaterThan"), fail["urn"]
    assert (fail["inputs"]["windowSize"], fail["inputs"]["evaluationFrequency"]) == ("PT5M", "PT1M"), fail["urn"]
    assert fail["inputs"]["criteria"]["odataType"] == "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", fail["urn"]
    assert (ag["inputs"]["location"], lat["inputs"]["location"], fail["inputs"]["location"]) == ("Global", "global", "global"), ag["urn"]
    for alert in (lat, fail):
        assert alert["inputs"]["scopes"][0].endswith("/onlineEndpoints/" + plan["outputs"]["onlineEndpointName"]), alert["urn"]
        assert ag["urn"] in alert["dependencies"], alert["urn"]
    q = by_name(plan, "monitoring-rejected-loans")
    (cond,) = q["inputs"]["criteria"]["allOf"]
    assert (q["inputs"]["windowSize"], cond["threshold"], cond["operator"], cond["metricMeasureColumn"]) == ("PT30M", 100, "GreaterThan", "rejected"), q["urn"]
    assert (q["inputs"]["kind"], q["inputs"]["evaluationFrequency"], cond["timeAggregation"]) == ("LogAlert", "PT5M", "Total"), q["urn"]
    assert cond["query"] == rejected_loans_query(plan["outputs"]["onlineEndpointName"]) and cond["query"].startswith("traces\n"), q["urn"]
    assert f'| where tostring(customDimensions.endpoint) == "{plan["outputs"]["onlineEndpointName"]}"' in cond["query"], q["urn"]
    assert list(q["inputs"]["actions"]) == ["actionGroups"] and len(q["inputs"]["actions"]["actionGroups"]) == 1, q["urn"]
    assert q["inputs"]["actions"]["actionGroups"][0].endswith("/actionGroups/" + ag["inputs"]["actionGroupName"]), q["urn"]
    assert q["inputs"]["scopes"][0].endswith("/components/" + by_name(plan, "workspace-appinsights")["inputs"]["resourceName"]), q["urn"]


def test_plan_dev_declares_no_alerts(plans):
    monitors = [r["urn"] for r in plans["dev"]["resources"] if r["type"].startswith("azure-native:monitor:")]
    assert monitors == [], monitors


# --- batch: tests/test_infra_batch.py ------------------------------------------------------


# --- change behaviour ---------------------------------------------------------------------


def test_plan_is_identical_when_nothing_changed(plans, tree, offline_env):
    assert run_plan("dev", tree, env=offline_env) == plans["dev"]


def test_plan_one_byte_in_score_py_changes_only_scoring_code_and_its_deployments(plans, tree, offline_env, tmp_path):
    copy = copy_tree(tree, tmp_path / "tree")
    with (copy / "scoring" / "score.py").open("ab") as f:
        f.write(b"\n")
    after = run_plan("prod", copy, env=offline_env)
    added, removed, modified = changed(plans["prod"], after)
    assert (added, removed) == (set(), set()), f"added {added}, removed {removed}"
    scoring_blobs = {f"scoring-code-{rel}" for rel in folder_files(copy / "scoring")}
    assert modified == {"scoring-code-version", "online-blue"} | scoring_blobs, f"changed: {sorted(modified)}"
    new_version = by_name(after, "scoring-code-version")["inputs"]["version"]
    assert new_version == content_hash(copy / "scoring") != by_name(plans["prod"], "scoring-code-version")["inputs"]["version"]
    assert by_name(after, "online-blue")["inputs"]["properties"]["codeConfiguration"]["codeId"].endswith(f"/versions/{new_version}")


def test_plan_green_deployment_with_new_model_version_takes_no_traffic(plans, tree, offline_env, tmp_path):
    copy = copy_tree(tree, tmp_path / "tree")
    path = copy / "stacks" / "Pulumi.prod.yaml"
    doc = yaml.safe_load(path.read_text())
    online = doc["config"]["amlops:online"]
    online["deployments"]["green"] = {**online["deployments"]["blue"], "modelVersion": 2}
    path.write_text(yaml.safe_dump(doc))
    after = run_plan("prod", copy, env=offline_env)
    added, removed, modified = changed(plans["prod"], after)
    assert removed == set(), removed
    assert added == {"online-green", "model-v2", "online-green-autoscale", "online-green-autoscale-setting"}, sorted(added)
    assert modified == {"online-traffic"}, sorted(modified)
    traffic = by_name(after, "online-traffic")
    assert traffic["inputs"]["traffic"] == {"blue": 100, "green": 0}, traffic["urn"]
    assert by_name(after, "online-green")["urn"] in traffic["dependencies"], traffic["urn"]
    green = by_name(after, "online-green")["inputs"]["properties"]
    assert green["model"].endswith("/modelVersions/chapter12-loans/versions/2"), "online-green serves version 2"
    assert by_name(after, "online-blue")["inputs"]["properties"]["model"].endswith("/versions/1"), "online-blue keeps version 1"
    assert after["outputs"]["onlineDeploymentNames"] == ["blue", "green"]


def test_plan_kubernetes_target_and_registry_model(tree, offline_env, tmp_path):
    copy = copy_tree(tree, tmp_path / "tree")
    path = copy / "stacks" / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    aks = "/subscriptions/s/resourceGroups/aks/providers/Microsoft.ContainerService/managedClusters/loans-aks"
    doc["config"]["amlops:compute"]["kubernetes"] = {"resourceId": aks, "instanceType": "cpu-small"}
    doc["config"]["amlops:online"]["target"] = "kubernetes"
    doc["config"]["amlops:model"]["azuremlRegistry"] = "shared-models"
    path.write_text(yaml.safe_dump(doc))
    plan = run_plan("dev", copy, env=offline_env)
    attach = by_name(plan, "compute-kubernetes")
    assert attach["inputs"]["properties"]["computeType"] == "Kubernetes" and attach["inputs"]["properties"]["resourceId"] == aks, attach["urn"]
    d = by_name(plan, "online-blue")["inputs"]["properties"]
    assert (d["endpointComputeType"], d["instanceType"]) == ("Kubernetes", "cpu-small"), "online-blue on Kubernetes"
    assert d["model"] == "azureml://registries/shared-models/models/chapter12-loans/versions/1", "online-blue model reference"
    assert by_name(plan, "online-endpoint")["inputs"]["properties"]["compute"].endswith("/computes/aks-online"), "online-endpoint compute"
    uploads = [r["urn"] for r in plan["resources"] if r["type"] in (f"{ML}:ModelVersion", f"{ML}:ModelContainer")]
    assert uploads == [], uploads
    assert plan["warnings"] == [
        "online deployment blue: the scoring code is planned without swagger.json, swagger3.json, swagger3.1.json, as model "
        "chapter12-loans:1 is referenced in the Azure ML registry shared-models, not downloaded; Azure would serve the "
        "inference server's generic /swagger.json, not the one `amlops serve` serves"
    ]


# --- failures ---------------------------------------------------------------------------


def test_plan_bad_config_fails_with_the_rendered_config_error(tree, offline_env, tmp_path):
    copy = copy_tree(tree, tmp_path / "tree")
    path = copy / "stacks" / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("blue: 100", "blue: 90"))
    with pytest.raises(PlanError) as err:
        run_plan("dev", copy, env=offline_env)
    assert str(err.value) == "plan of stack 'dev' failed:\nstacks/Pulumi.dev.yaml: amlops:online.traffic: must sum to 0 or 100, got 90"


def test_plan_missing_entry_script_names_the_folder_and_file(tree, offline_env, tmp_path):
    copy = copy_tree(tree, tmp_path / "tree")
    (copy / "scoring" / "score.py").unlink()
    with pytest.raises(PlanError) as err:
        run_plan("dev", copy, env=offline_env)
    message = str(err.value)
    assert f"stacks/Pulumi.dev.yaml: CodeAsset loans-scoring: {copy / 'scoring'} has no score.py" in message, message
