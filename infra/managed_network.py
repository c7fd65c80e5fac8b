"""Provision a workspace's managed network before anything runs in it.

Microsoft: a workspace's managed virtual network is created when the first compute is created, or
when it is provisioned manually; provision it before deploying to managed compute (managed online
endpoints, serverless), and expect about 30 minutes for the first provisioning (plus about 10 for
FQDN outbound rules):
  https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#manually-provision-a-managed-vnet
The operation is azure-ai-ml's `MLClient.workspaces.begin_provision_network(workspace_name=..., include_spark=...)`
  https://learn.microsoft.com/python/api/azure-ai-ml/azure.ai.ml.operations.workspaceoperations#azure-ai-ml-operations-workspaceoperations-begin-provision-network
which sends the REST operation "Managed Network Provisions - Provision Managed Network"
(POST .../workspaces/{name}/provisionManagedNetwork, body {"includeSpark": bool}):
  https://learn.microsoft.com/rest/api/azureml/managed-network-provisions/provision-managed-network
This dynamic resource runs it once the workspace exists (and again when the isolation mode
changes); the program makes every compute and deployment depend on it. No Spark compute is
declared here, so Spark is not prepared (include_spark false).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult

from infra.traffic import AzureMLStepProvider

_TARGET = ("subscription_id", "resource_group_name", "workspace_name")
_SETTINGS = ("isolation_mode", "include_spark")


class ManagedNetworkProvider(AzureMLStepProvider):
    """Provisions the workspace's managed network with MLClient.workspaces.begin_provision_network and waits for it."""

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        client = self._client(props)
        status = client.workspaces.begin_provision_network(
            workspace_name=props["workspace_name"], include_spark=bool(props["include_spark"])
        ).result()
        return {
            **{k: props[k] for k in (*_TARGET, *_SETTINGS)},
            "status": getattr(status, "status", None),
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['workspace_name']}/managedNetwork", outs=self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in (*_TARGET, *_SETTINGS) if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[k for k in changed if k in _TARGET], delete_before_replace=False)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: the managed network belongs to the workspace and goes with it."""


class ManagedNetworkProvision(pulumi.dynamic.Resource):
    """The provisioned managed network of one workspace (isolation mode AllowInternetOutbound or AllowOnlyApprovedOutbound)."""

    workspace_name: pulumi.Output[str]
    """The workspace, known once its network is provisioned: what computes and deployments name it by."""
    status: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        subscription_id: pulumi.Input[str],
        resource_group_name: pulumi.Input[str],
        workspace_name: pulumi.Input[str],
        isolation_mode: str,
        opts: pulumi.ResourceOptions | None = None,
    ):
        if isolation_mode not in ("AllowInternetOutbound", "AllowOnlyApprovedOutbound"):
            raise ValueError(f"a managed network is provisioned only with isolation mode AllowInternetOutbound or AllowOnlyApprovedOutbound, got {isolation_mode!r}")
        super().__init__(
            ManagedNetworkProvider(),
            name,
            {
                "subscription_id": subscription_id,
                "resource_group_name": resource_group_name,
                "workspace_name": workspace_name,
                "isolation_mode": isolation_mode,
                "include_spark": False,
                "status": None,
            },
            opts,
        )
