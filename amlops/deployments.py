"""Which online deployment of a stack is live: one rule for serve, profile and promote."""

from __future__ import annotations

from typing import Collection

from amlops.errors import UsageError
from infra.config import StackConfig


def live_deployment(cfg: StackConfig, exclude: Collection[str] = ()) -> str | None:
    """The deployment with the most live traffic, or None if none takes any.

    A tie goes to the deployment declared first in `amlops:online.deployments` (the incumbent:
    `amlops promote` appends new deployments), never to the first by name.
    """
    declared = [n for n in cfg.online.deployments if n not in exclude and cfg.online.traffic.get(n, 0) > 0]
    if not declared:
        return None
    return max(declared, key=lambda n: (cfg.online.traffic[n], -declared.index(n)))


def choose_deployment(cfg: StackConfig, deployment: str | None = None) -> str:
    """`deployment` if the stack declares it, else the live one, else the first declared."""
    deployments = cfg.online.deployments
    if not deployments:
        raise UsageError("the stack declares no online deployments (amlops:online.deployments)")
    if deployment is not None:
        if deployment not in deployments:
            raise UsageError(f"no deployment {deployment!r} in amlops:online.deployments; known: {', '.join(deployments)}")
        return deployment
    return live_deployment(cfg) or next(iter(deployments))
