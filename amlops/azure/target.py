"""Which Azure workspace and endpoints a stack deployed: the names `pulumi up` derived, and an MLClient for them.

The names come from the same rule the Pulumi program uses (infra.naming.derive_names with the
subscription id as scope, infra.naming.endpoint_name for both endpoints), so a stack file and a
subscription id are all a remote command needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from amlops.azure.errors import RemoteUsageError
from infra.config import PROJECT, StackConfig
from infra.naming import derive_names, endpoint_name

SUBSCRIPTION_ENV = "AZURE_SUBSCRIPTION_ID"


@dataclass(frozen=True)
class Target:
    """One stack's deployed workspace and endpoints in Azure."""

    stack: str
    subscription_id: str
    resource_group: str
    workspace: str
    online_endpoint: str | None
    """The model's online endpoint's Azure name (None: the model has none)."""
    batch_endpoint: str | None
    """The model's batch endpoint's Azure name (None: the model has none)."""
    batch_deployment: str | None


def target_for(stack: str, cfg: StackConfig, subscription_id: str | None = None, env: Mapping[str, str] | None = None) -> Target:
    """The Azure names of `stack`'s workspace and of its one model's endpoints (`cfg` narrowed to one model:
    StackConfig.narrow); the subscription from the argument or AZURE_SUBSCRIPTION_ID."""
    subscription_id = _subscription(stack, subscription_id, env)
    names = derive_names(PROJECT, stack, cfg.prefix, scope=subscription_id)
    online, batch = cfg.model.online, cfg.model.batch
    return Target(
        stack=stack,
        subscription_id=subscription_id,
        resource_group=names.resource_group,
        workspace=names.workspace,
        online_endpoint=endpoint_name(online.endpoint_name, names.suffix) if online else None,
        batch_endpoint=endpoint_name(batch.endpoint_name, names.suffix) if batch else None,
        batch_deployment=batch.deployment_name if batch else None,
    )


def group_target(stack: str, cfg: StackConfig, key: str, subscription_id: str | None = None, env: Mapping[str, str] | None = None) -> Target:
    """The Azure names of `stack`'s workspace and of amlops:multiModel group `key`'s online endpoint (named by the
    rule every endpoint's name follows; a group has no batch endpoint)."""
    subscription_id = _subscription(stack, subscription_id, env)
    names = derive_names(PROJECT, stack, cfg.prefix, scope=subscription_id)
    return Target(
        stack=stack,
        subscription_id=subscription_id,
        resource_group=names.resource_group,
        workspace=names.workspace,
        online_endpoint=endpoint_name(cfg.multi_model[key].online.endpoint_name, names.suffix),
        batch_endpoint=None,
        batch_deployment=None,
    )


def _subscription(stack: str, subscription_id: str | None, env: Mapping[str, str] | None) -> str:
    """The subscription the argument or AZURE_SUBSCRIPTION_ID names; else a RemoteUsageError saying how to give one."""
    env = os.environ if env is None else env
    subscription_id = subscription_id or env.get(SUBSCRIPTION_ENV)
    if not subscription_id:
        raise RemoteUsageError(
            f"the remote commands need the subscription stack {stack} is deployed to: "
            f"pass --subscription ID or set {SUBSCRIPTION_ENV} (see `az account show --query id`)"
        )
    return subscription_id


def ml_client(target: Target, credential: Any = None, factory: Callable[..., Any] | None = None):
    """azure-ai-ml's MLClient scoped to the target's workspace (`factory` replaces MLClient in tests).

    https://learn.microsoft.com/en-us/python/api/azure-ai-ml/azure.ai.ml.mlclient
    """
    if factory is None:
        from azure.ai.ml import MLClient as factory  # noqa: N813  # the import costs ≈ 1 s: only when used
    if credential is None:
        from infra.credential import credential as default_credential

        credential = default_credential()
    return factory(
        credential=credential,
        subscription_id=target.subscription_id,
        resource_group_name=target.resource_group,
        workspace_name=target.workspace,
    )


def connect(stack: str, subscription_id: str | None = None, endpoint: str | None = None, need: str | None = None) -> tuple[Any, Target]:
    """(MLClient, Target) for a stack's deployed workspace and the model (or, except for batch, the multiModel group)
    behind `endpoint` (`--endpoint`; None: the stack's only model), from its stack file and the subscription. `need` ("online" or "batch"): the
    endpoint kind the command uses, refused up front when the model declares none."""
    from amlops.stackfile import load_endpoint, load_stack

    if endpoint is not None and need != "batch":
        whole = load_stack(stack)
        found = whole.group(endpoint)
        if found is not None:  # an amlops:multiModel group: its one online endpoint
            target = group_target(stack, whole, found[0], subscription_id)
            return ml_client(target), target
    cfg = load_endpoint(stack, endpoint)
    if need is not None and getattr(cfg.model, need) is None:
        raise RemoteUsageError(f"stack {stack}: model {cfg.key!r} declares no {need} endpoint (its endpoints: {', '.join(cfg.model.endpoint_names())})")
    target = target_for(stack, cfg, subscription_id)
    return ml_client(target), target
