"""A deployed online endpoint: score with its key or token, read a deployment's container logs.

The scoring URI and the credential come from azure-ai-ml, as `az ml online-endpoint invoke` does:
`online_endpoints.get` (scoring_uri, auth_mode) and `online_endpoints.get_keys` — keys for `key`
endpoints, a short-lived token for `aml_token` ones; either goes in `Authorization: Bearer`.
  https://learn.microsoft.com/en-us/azure/machine-learning/how-to-authenticate-online-endpoint
Logs: `online_deployments.get_logs`, the inference server's console, or the storage initializer's
(which downloads the model and code) with container_type="storage-initializer".
  https://learn.microsoft.com/en-us/azure/machine-learning/how-to-troubleshoot-online-endpoints#get-container-logs
"""

from __future__ import annotations

from typing import Any

from amlops.azure.calls import call
from amlops.azure.errors import RemoteError
from amlops.azure.target import Target
from amlops.serving.client import Answer, invoke

CONTAINERS = ("inference-server", "storage-initializer")
"""The containers whose logs Azure serves (get_logs' container_type)."""


def _missing_hint(target: Target) -> str:
    return (
        f"is stack {target.stack} deployed (`pulumi up`) to subscription {target.subscription_id}, "
        f"workspace {target.workspace} in resource group {target.resource_group}?"
    )


def bearer(client: Any, target: Target) -> tuple[str, str]:
    """(scoring URI, key or token) of the target's online endpoint, fetched through azure-ai-ml."""
    from azure.ai.ml.entities import EndpointAadToken, EndpointAuthKeys, EndpointAuthToken

    name = target.online_endpoint
    endpoint = call(f"online endpoint {name}", lambda: client.online_endpoints.get(name), _missing_hint(target))
    if not endpoint.scoring_uri:
        state = getattr(endpoint, "provisioning_state", None) or "unknown"
        raise RemoteError(f"online endpoint {name} has no scoring URI yet (provisioning state {state}); wait for `pulumi up` to finish")
    keys = call(f"keys of online endpoint {name}", lambda: client.online_endpoints.get_keys(name))
    if isinstance(keys, EndpointAuthKeys) and keys.primary_key:
        return endpoint.scoring_uri, keys.primary_key
    if isinstance(keys, (EndpointAuthToken, EndpointAadToken)) and keys.access_token:
        return endpoint.scoring_uri, keys.access_token
    raise RemoteError(f"online endpoint {name} (auth mode {endpoint.auth_mode}) returned no key or token")


def remote_invoke(client: Any, target: Target, body: bytes, timeout_s: float = 60.0) -> Answer:
    """POST `body` to the deployed endpoint with its key or token; the endpoint's traffic rules pick the deployment."""
    uri, secret = bearer(client, target)
    return invoke(uri, body, secret, timeout_s=timeout_s)


def remote_logs(client: Any, target: Target, deployment: str, lines: int = 100, container: str = "inference-server") -> str:
    """The last `lines` lines of one deployment container's console log."""
    if container not in CONTAINERS:
        raise RemoteError(f"container must be one of {', '.join(CONTAINERS)}, got {container!r}")
    return call(
        f"logs of deployment {deployment} of online endpoint {target.online_endpoint}",
        lambda: client.online_deployments.get_logs(
            name=deployment, endpoint_name=target.online_endpoint, lines=lines,
            container_type=None if container == "inference-server" else container,
        ),
        _missing_hint(target),
    )
