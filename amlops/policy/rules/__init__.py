"""The baseline rules (security, reliability, cost), grouped by what they judge: each reads a Subject and yields (urn, message).

One module per domain: `online` (each model's online endpoint, deployments, traffic, autoscale),
`batch` (each model's batch endpoint), `schedule` (what invokes a batch endpoint), `workspace`
(storage, key vault, protection, tags), `compute` and `network`. Every rule's docstring says what
it reads: the plan (resource inputs and options) and, where the plan lacks a fact, the validated
stack config. Messages name the resource and the fix; in a stack of several models, also the model
and endpoint (amlops/policy/owners.py).
"""

from __future__ import annotations

from amlops.policy.rules.registry import ADVISORY, MANDATORY, RULES, SEVERITIES, Finding, Rule, by_id, rule
from amlops.policy.rules import online, batch, schedule, workspace, compute, network  # noqa: E402,F401  (registers the rules, in this order)

__all__ = ["ADVISORY", "MANDATORY", "RULES", "SEVERITIES", "Finding", "Rule", "by_id", "rule"]
