"""Hand-written amlops-plan documents, shaped like the harness's output (for diff and policy tests)."""

from __future__ import annotations

import copy
from typing import Any

AML = "azure-native:machinelearningservices"


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::amlops::{type_}::{name}"


def resource(stack: str, type_: str, name: str, inputs: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {
        "urn": urn(stack, type_, name),
        "type": type_,
        "name": name,
        "parent": options.get("parent"),
        "dependencies": options.get("dependencies", []),
        "protect": options.get("protect", False),
        "ignoreChanges": options.get("ignoreChanges", []),
        "custom": True,
        "inputs": inputs,
    }


MOCK = "/subscriptions/0/resourceGroups/mock/providers"
PROD_NETWORK_INPUTS = {
    "storageAccount": f"{MOCK}/azure-native.storage/storageAccounts/stloans",
    "keyVault": f"{MOCK}/azure-native.keyvault/vaults/kv-loans",
    "containerRegistry": f"{MOCK}/azure-native.containerregistry/registrys/crloans",
    "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound", "outboundRules": {
        "pypi": {"category": "UserDefined", "destination": "pypi.org", "type": "FQDN"}}},
}
"""A private prod workspace: its dependencies' ids and a managed network with one named outbound rule."""
PRIVATE_ENDPOINTS = [  # (key, target id, group id, zones)
    ("workspace", f"{MOCK}/azure-native.machinelearningservices/workspaces/mlw-loans", "amlworkspace",
     ["privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"]),
    ("blob", PROD_NETWORK_INPUTS["storageAccount"], "blob", ["privatelink.blob.core.windows.net"]),
    ("file", PROD_NETWORK_INPUTS["storageAccount"], "file", ["privatelink.file.core.windows.net"]),
    ("vault", PROD_NETWORK_INPUTS["keyVault"], "vault", ["privatelink.vaultcore.azure.net"]),
    ("registry", PROD_NETWORK_INPUTS["containerRegistry"], "registry", ["privatelink.azurecr.io"]),
]


def private_network(stack: str, common: Any) -> list[dict[str, Any]]:
    """Private endpoints for the workspace and its dependencies, each with a zone group naming its zones."""
    out = []
    for key, target, group, zones in PRIVATE_ENDPOINTS:
        pe = resource(stack, "azure-native:network:PrivateEndpoint", f"loans-pe-{key}",
                      {**common(), "privateEndpointName": f"pe-loans-{key}", "privateLinkServiceConnections": [
                          {"name": f"pe-loans-{key}", "privateLinkServiceId": target, "groupIds": [group]}]})
        out.append(pe)
        out.append(resource(stack, "azure-native:network:PrivateDnsZoneGroup", f"loans-dns-{key}",
                            {"privateDnsZoneGroupName": "default", "privateEndpointName": f"pe-loans-{key}",
                             "privateDnsZoneConfigs": [{"name": z, "privateDnsZoneId": f"{MOCK}/azure-native.privatedns/privateZones/{z}"} for z in zones]},
                            dependencies=[pe["urn"]]))
    return out


def sample_plan(stack: str = "dev") -> dict[str, Any]:
    """A plan that passes every rule for `stack` (prod: protected, private, two instances)."""
    prod = stack == "prod"
    tags = {"environment": stack, "owner": "ml-platform", "costCenter": f"ml-{stack}"}
    def common() -> dict[str, Any]:
        return {"location": "westeurope", "tags": dict(tags)}

    stateful = {"protect": prod}
    deployment = resource(
        stack, f"{AML}:OnlineDeployment", "loans-online-blue",
        {**common(), "deploymentName": "blue", "endpointName": "loans-online", "workspaceName": "mlw-loans",
         "resourceGroupName": "rg-loans", "sku": {"name": "Default", "capacity": 2 if prod else 1},
         "properties": {"appInsightsEnabled": True, "endpointComputeType": "Managed", "instanceType": "Standard_DS2_v2",
                        "model": "azureml:chapter12-loans:1"}},
    )
    resources = [
        resource(stack, "azure-native:resources:ResourceGroup", "loans-rg", {**common(), "resourceGroupName": "rg-loans"}, **stateful),
        resource(stack, "azure-native:storage:StorageAccount", "loans-storage",
                 {**common(), "accountName": "stloans", "resourceGroupName": "rg-loans", "kind": "StorageV2",
                  "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False}, **stateful),
        resource(stack, "azure-native:keyvault:Vault", "loans-keyvault",
                 {**common(), "vaultName": "kv-loans", "resourceGroupName": "rg-loans",
                  "properties": {"enableRbacAuthorization": True, "enableSoftDelete": True,
                                 **({"enablePurgeProtection": True} if prod else {})}}, **stateful),
        resource(stack, f"{AML}:Workspace", "loans-workspace",
                 {**common(), "workspaceName": "mlw-loans", "resourceGroupName": "rg-loans",
                  "publicNetworkAccess": "Disabled" if prod else "Enabled",
                  **(PROD_NETWORK_INPUTS if prod else {}),
                  "connectionString": "InstrumentationKey=abc"}, **stateful),
        resource(stack, f"{AML}:Compute", "loans-cluster",
                 {**common(), "computeName": "cpu-sm-cluster", "workspaceName": "mlw-loans",
                  "properties": {"computeType": "AmlCompute", "properties": {
                      "vmPriority": "Dedicated" if prod else "LowPriority", "vmSize": "Standard_DS3_v2",
                      "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4}}}}),
        resource(stack, f"{AML}:OnlineEndpoint", "loans-online",
                 {**common(), "endpointName": "loans-online", "workspaceName": "mlw-loans",
                  "properties": {"authMode": "AMLToken" if prod else "Key"}},
                 ignoreChanges=["properties.mirrorTraffic", "properties.traffic"]),
        deployment,
        resource(stack, f"{AML}:CodeVersion", "loans-scoring-code",
                 {"name": "loans-scoring", "version": "1a2b3c4d", "workspaceName": "mlw-loans",
                  "properties": {"codeUri": "https://stloans.blob.core.windows.net/assets/scoring/1a2b3c4d"}}),
        resource(stack, f"{AML}:ModelVersion", "loans-model",
                 {"name": "chapter12-loans", "version": "1", "workspaceName": "mlw-loans",
                  "properties": {"modelType": "mlflow_model", "tags": {"accuracy": "0.865"}}}),
        resource(stack, "pulumi-python:dynamic:Resource", "loans-online-traffic",
                 {"endpoint_name": "loans-online", "traffic": {"blue": 100}, "mirror_traffic": {}}),
    ]
    if prod:
        resources += private_network(stack, common)
    if stack != "dev":
        resources.append(
            resource(stack, "azure-native:monitor:AutoscaleSetting", "loans-online-blue-autoscale",
                     {**common(), "autoscaleSettingName": "loans-online-blue", "enabled": True,
                      "targetResourceUri": "/subscriptions/0/resourceGroups/mock/providers/azure-native.machinelearningservices/onlineDeployments/blue",
                      "profiles": [{"name": "cpu", "capacity": {"minimum": "2" if prod else "1", "maximum": "6", "default": "2" if prod else "1"}}]},
                     dependencies=[deployment["urn"]]))
    resources.sort(key=lambda r: r["urn"])
    return {"kind": "amlops-plan", "version": 1, "stack": stack, "note": "desired state, not a cloud preview",
            "resources": resources, "outputs": {"scoringUri": "https://loans-online.westeurope.inference.ml.azure.com/score"},
            "warnings": []}


def find(plan: dict[str, Any], type_suffix: str) -> dict[str, Any]:
    """The (first) resource of a type in a plan document, for a test to change."""
    for res in plan["resources"]:
        if res["type"].endswith(type_suffix):
            return res
    raise KeyError(type_suffix)


def changed(plan: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(plan)
