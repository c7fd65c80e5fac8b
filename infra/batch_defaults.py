"""A batch endpoint's default deployment, set once that deployment exists.

A batch endpoint runs its default deployment when a job (or a schedule) invokes it
without naming one ("Deploy models for scoring in batch endpoints", https://learn.microsoft.com/azure/machine-learning/how-to-use-batch-model-deployments).
The endpoint is created before its deployments, so, as with an online endpoint's
traffic (infra/traffic.py), the default is applied afterwards through azure-ai-ml and
the endpoint ignores changes to its own `defaults` field.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult

from infra.traffic import AzureMLStepProvider

_TARGET = ("subscription_id", "resource_group_name", "workspace_name", "endpoint_name")
_DEFAULT = "deployment_name"


class BatchDefaultProvider(AzureMLStepProvider):
    """Sets `defaults.deployment_name` of a batch endpoint with MLClient.batch_endpoints."""

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        client = self._client(props)
        endpoint = client.batch_endpoints.get(props["endpoint_name"])
        endpoint.defaults = {"deployment_name": props[_DEFAULT]}  # azure-ai-ml sends it as defaults.deploymentName
        client.batch_endpoints.begin_create_or_update(endpoint).result()
        return {k: props[k] for k in (*_TARGET, _DEFAULT)}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['workspace_name']}/{props['endpoint_name']}/defaults", outs=self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in (*_TARGET, _DEFAULT) if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[k for k in changed if k in _TARGET], delete_before_replace=False)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: the default belongs to the endpoint, which Pulumi deletes on its own."""


class BatchEndpointDefault(pulumi.dynamic.Resource):
    """Which deployment a batch endpoint runs when a job names none."""

    endpoint_name: pulumi.Output[str]
    deployment_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        subscription_id: pulumi.Input[str],
        resource_group_name: pulumi.Input[str],
        workspace_name: pulumi.Input[str],
        endpoint_name: pulumi.Input[str],
        deployment_name: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(
            BatchDefaultProvider(),
            name,
            {
                "subscription_id": subscription_id,
                "resource_group_name": resource_group_name,
                "workspace_name": workspace_name,
                "endpoint_name": endpoint_name,
                _DEFAULT: deployment_name,
            },
            opts,
        )
