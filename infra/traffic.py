"""Live and mirror traffic of an online endpoint, applied after its deployments exist.

Azure rejects a traffic map that names a deployment that does not exist yet, so the
endpoint itself declares no traffic (and ignores changes to it) and this dynamic
resource sets both maps through azure-ai-ml once every deployment is in place.

The provider runs in Pulumi's dynamic-provider process, which unpickles it by reference:
`infra.traffic` must be importable there (the repo is installed editable into the
virtualenv that Pulumi.yaml names), and azure-ai-ml + azure-identity must be installed. Its
credential is the one rule of infra/credential.py.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

ClientFactory = Callable[[str, str, str], Any]
"""(subscription id, resource group, workspace) → an azure.ai.ml.MLClient (or a fake in tests)."""

_TARGET = ("subscription_id", "resource_group_name", "workspace_name", "endpoint_name")
_MAPS = ("traffic", "mirror_traffic")
_REVISION = "endpoint_revision"


def endpoint_revision(*declared: Any) -> str:
    """A short hash of what the endpoint resource declares: it changes exactly when Pulumi re-PUTs the endpoint.

    The endpoint's PUT body carries no traffic maps (they are ignore_changes there), and a PUT
    may reset them; a new revision makes this step apply the maps again right after.
    """
    return hashlib.sha256(json.dumps(declared, sort_keys=True, default=str).encode()).hexdigest()[:12]


def ml_client(subscription_id: str, resource_group_name: str, workspace_name: str) -> Any:
    """The real client: azure-ai-ml with the one credential rule (infra/credential.py).

    In the deploy workflow this runs in Pulumi's dynamic-provider process, which inherits the
    `pulumi up` step's environment: GitHub's ACTIONS_ID_TOKEN_* and AZURE_CLIENT_ID/AZURE_TENANT_ID.
    """
    from azure.ai.ml import MLClient

    from infra.credential import credential

    return MLClient(credential(), subscription_id, resource_group_name, workspace_name)


def _percentages(mapping: dict[str, Any] | None) -> dict[str, int]:
    # The engine hands numbers back as floats.
    return {str(k): int(v) for k, v in sorted((mapping or {}).items())}


class AzureMLStepProvider(ResourceProvider):
    """A dynamic provider that applies one setting of a workspace resource through azure-ai-ml (`_apply`)."""

    def __init__(self, client_factory: ClientFactory | None = None):
        self.client_factory = client_factory

    def _client(self, props: dict[str, Any]) -> Any:
        factory = self.client_factory or ml_client
        return factory(props["subscription_id"], props["resource_group_name"], props["workspace_name"])

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._apply(news))


class EndpointTrafficProvider(AzureMLStepProvider):
    """Sets an endpoint's traffic and mirror_traffic with MLClient.online_endpoints."""

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        client = self._client(props)
        endpoint = client.online_endpoints.get(props["endpoint_name"])
        endpoint.traffic = _percentages(props.get("traffic"))
        endpoint.mirror_traffic = _percentages(props.get("mirror_traffic"))
        client.online_endpoints.begin_create_or_update(endpoint).result()
        return {
            **{k: props[k] for k in _TARGET},
            **{k: _percentages(props.get(k)) for k in _MAPS},
            _REVISION: props.get(_REVISION),
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props)
        return CreateResult(id_=f"{props['workspace_name']}/{props['endpoint_name']}/traffic", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in _TARGET if olds.get(k) != news.get(k)]
        changed += [k for k in _MAPS if _percentages(olds.get(k)) != _percentages(news.get(k))]
        if olds.get(_REVISION) != news.get(_REVISION):
            changed.append(_REVISION)
        # A different endpoint is a different resource; new percentages (or an endpoint that was
        # just re-PUT) are an update in place.
        replaces = [k for k in changed if k in _TARGET]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: the traffic belongs to the endpoint, which Pulumi deletes on its own."""


class EndpointTraffic(pulumi.dynamic.Resource):
    """The traffic split (percent per deployment) and mirror traffic of one online endpoint."""

    endpoint_name: pulumi.Output[str]
    traffic: pulumi.Output[dict[str, int]]
    mirror_traffic: pulumi.Output[dict[str, int]]

    def __init__(
        self,
        name: str,
        *,
        subscription_id: pulumi.Input[str],
        resource_group_name: pulumi.Input[str],
        workspace_name: pulumi.Input[str],
        endpoint_name: pulumi.Input[str],
        traffic: dict[str, int],
        mirror_traffic: dict[str, int],
        endpoint_revision: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(
            EndpointTrafficProvider(),
            name,
            {
                "subscription_id": subscription_id,
                "resource_group_name": resource_group_name,
                "workspace_name": workspace_name,
                "endpoint_name": endpoint_name,
                "traffic": traffic,
                "mirror_traffic": mirror_traffic,
                _REVISION: endpoint_revision,
            },
            opts,
        )
