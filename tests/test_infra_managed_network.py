"""The managed network is provisioned once the workspace exists, before every compute and deployment.

Microsoft: provision a managed network before deploying to managed compute (first provisioning
≈ 30 minutes), https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#manually-provision-a-managed-vnet.
The provider is driven with a real azure-ai-ml MLClient whose HTTP transport answers below the
network boundary, so the request compared is the one azure-ai-ml itself sends.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import requests

from amlops.plan import run_plan
from infra.managed_network import ManagedNetworkProvider
from tree_support import copy_tree

from workflow_env import ROOT

RUNS_IN_THE_NETWORK = (
    "azure-native:machinelearningservices:Compute",
    "azure-native:machinelearningservices:OnlineEndpoint",
    "azure-native:machinelearningservices:OnlineDeployment",
    "azure-native:machinelearningservices:BatchEndpoint",
    "azure-native:machinelearningservices:BatchDeployment",
    "azure-native:machinelearningservices:Schedule",
)
PROVISION_PATH = "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{w}/provisionManagedNetwork"
"""REST "Managed Network Provisions - Provision Managed Network":
https://learn.microsoft.com/rest/api/azureml/managed-network-provisions/provision-managed-network"""


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict[str, Any]]:
    tree = copy_tree(ROOT, tmp_path_factory.mktemp("tree"))
    return {stack: run_plan(stack, tree) for stack in ("dev", "prod")}


def _provisions(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["name"] == "workspace-managed-network"]


def test_managed_network_prod_provisions_after_the_workspace_and_everything_runs_after_it(plans):
    plan = plans["prod"]
    [provision] = _provisions(plan)
    assert provision["type"] == "pulumi-python:dynamic:Resource"
    inputs = {k: v for k, v in provision["inputs"].items() if k != "__provider"}
    workspace = next(r for r in plan["resources"] if r["type"] == "azure-native:machinelearningservices:Workspace")
    assert inputs == {
        "subscription_id": "00000000-0000-0000-0000-000000000000",
        "resource_group_name": workspace["inputs"]["resourceGroupName"],
        "workspace_name": workspace["inputs"]["workspaceName"],
        "isolation_mode": workspace["inputs"]["managedNetwork"]["isolationMode"],
        "include_spark": False,
    }
    assert workspace["urn"] in provision["dependencies"], f"{provision['urn']}: waits for {workspace['urn']}"
    running = [r for r in plan["resources"] if r["type"] in RUNS_IN_THE_NETWORK]
    assert {r["type"] for r in running} == set(RUNS_IN_THE_NETWORK)
    late = [r["urn"] for r in running if provision["urn"] not in r["dependencies"]]
    assert late == [], f"these do not wait for {provision['urn']}"


def test_managed_network_is_not_provisioned_where_isolation_is_disabled(plans):
    workspace = next(r for r in plans["dev"]["resources"] if r["type"] == "azure-native:machinelearningservices:Workspace")
    assert "managedNetwork" not in workspace["inputs"]
    assert _provisions(plans["dev"]) == []


class _Azure(requests.adapters.HTTPAdapter):
    """Answers every HTTPS request the way the provisioning operation completes, and records it."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, str, Any]] = []

    def send(self, request, **kwargs):
        from urllib3.response import HTTPResponse

        self.sent.append((request.method, request.path_url, json.loads(request.body) if request.body else None))
        body = json.dumps({"status": "Active", "sparkReady": False}).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        return self.build_response(request, HTTPResponse(body=io.BytesIO(body), headers=headers, status=200, preload_content=False))


def _real_client(adapter: _Azure):
    from azure.ai.ml import MLClient
    from azure.core.credentials import AccessToken
    from azure.core.pipeline.transport import RequestsTransport

    class Credential:
        def get_token(self, *scopes, **kwargs):
            return AccessToken("token", 4_102_444_800)

    session = requests.Session()
    session.mount("https://", adapter)
    return lambda s, g, w: MLClient(Credential(), s, g, w, transport=RequestsTransport(session=session, session_owner=False))


def test_managed_network_provider_sends_azure_ai_mls_provision_request_for_the_planned_workspace(plans):
    [provision] = _provisions(plans["prod"])
    props = {k: v for k, v in provision["inputs"].items() if k != "__provider"}
    adapter = _Azure()
    result = ManagedNetworkProvider(_real_client(adapter)).create(props)
    path = PROVISION_PATH.format(s=props["subscription_id"], g=props["resource_group_name"], w=props["workspace_name"])
    assert [(m, p.split("?")[0], b) for m, p, b in adapter.sent] == [("POST", path, {"includeSpark": False})]
    assert "api-version=" in adapter.sent[0][1]
    assert result.id == f"{props['workspace_name']}/managedNetwork"
    assert result.outs["status"] == "Active"


def test_managed_network_provider_reprovisions_on_a_new_mode_and_replaces_for_another_workspace():
    old = {"subscription_id": "s", "resource_group_name": "g", "workspace_name": "w", "isolation_mode": "AllowInternetOutbound", "include_spark": False}
    provider = ManagedNetworkProvider()
    same = provider.diff("id", old, dict(old))
    assert (same.changes, same.replaces) == (False, [])
    mode = provider.diff("id", old, {**old, "isolation_mode": "AllowOnlyApprovedOutbound"})
    assert (mode.changes, mode.replaces) == (True, [])
    moved = provider.diff("id", old, {**old, "workspace_name": "w2"})
    assert (moved.changes, moved.replaces) == (True, ["workspace_name"])
