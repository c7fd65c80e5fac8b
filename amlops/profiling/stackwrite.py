"""`--write`: apply a recommendation to the profiled deployment in the stack file (validated first)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amlops.errors import UsageError
from amlops.paths import STACKS_DIR
from amlops.profiling.errors import NoRecommendation
from amlops.profiling.recommend import Recommendation
from amlops.stackedit import StackEditor
from amlops.stackfile import stack_path


@dataclass(frozen=True)
class Change:
    """One key set in the stack file: `amlops:online.deployments.blue.instanceType`."""

    key: str
    old: Any
    new: Any


def write_recommendation(stack: str, deployment: str, rec: Recommendation, stacks_dir: Path = STACKS_DIR, model_key: str | None = None) -> list[Change]:
    """Set instanceType, instanceCount and requestSettings.maxConcurrentRequestsPerInstance.

    The edited config is validated before the file is written (ConfigError otherwise);
    comments and layout are kept. Returns the keys that changed (empty when none did). `model_key`: the
    model whose deployment it is, in a stack file with `amlops:models` (None: the single-model form).
    """
    if not rec.feasible:
        raise NoRecommendation(f"nothing written to the {stack} stack: {rec.verdict}")
    editor = StackEditor(stack_path(stack, stacks_dir)).focus(model_key)
    if editor.get("online", "deployments", deployment) is None:
        known = ", ".join(editor.get("online", "deployments") or {}) or "none"
        raise UsageError(f"{editor.path}: {editor.key('online', 'deployments')} has no {deployment!r} (deployments: {known})")
    wanted = (
        (("instanceType",), rec.instance_type),
        (("instanceCount",), rec.instance_count),
        (("requestSettings", "maxConcurrentRequestsPerInstance"), rec.max_concurrent_requests_per_instance),
    )
    changes = []
    for keys, value in wanted:
        path = ("online", "deployments", deployment, *keys)
        old = editor.get(*path)
        if old != value:
            editor.set(*path, value=value)
            changes.append(Change(editor.key(*path), old, value))
    if changes:
        editor.save()
    return changes
