"""Which online deployment of a stack is live: one rule for serve, profile and promote."""

from __future__ import annotations

from typing import Collection

from amlops.errors import UsageError
from infra.config import OnlineConfig, StackConfig


def live_deployment(cfg: StackConfig | OnlineConfig, exclude: Collection[str] = ()) -> str | None:
    """The deployment with the most live traffic, or None if none takes any (of the one model's endpoint, or of
    the online endpoint given, e.g. a multiModel group's); OnlineConfig.live_deployment's rule: a tie goes to the
    deployment declared first (the incumbent: `amlops promote` appends new deployments), never to the first by name."""
    online = cfg if isinstance(cfg, OnlineConfig) else cfg.online
    return online.live_deployment(frozenset(exclude))


def choose_deployment(cfg: StackConfig | OnlineConfig, deployment: str | None = None) -> str:
    """`deployment` if the stack (or the online endpoint given) declares it, else the live one, else the first declared."""
    deployments = (cfg if isinstance(cfg, OnlineConfig) else cfg.online).deployments
    if not deployments:
        raise UsageError("the stack declares no online deployments (amlops:online.deployments)")
    if deployment is not None:
        if deployment not in deployments:
            raise UsageError(f"no deployment {deployment!r} in amlops:online.deployments; known: {', '.join(deployments)}")
        return deployment
    return live_deployment(cfg) or next(iter(deployments))
