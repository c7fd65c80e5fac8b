"""Rules on compute clusters (cost): shared by every model's batch deployment."""

from __future__ import annotations

from typing import Iterator

from amlops.plan.document import Resource
from amlops.policy.rules.registry import ADVISORY, Finding, number, rule
from amlops.policy.subject import Subject


def _aml_clusters(s: Subject) -> Iterator[Resource]:
    for res in s.of_type("machinelearningservices:Compute"):
        if res.get("properties.computeType") == "AmlCompute":
            yield res


@rule("nonprod-low-priority-compute", ADVISORY)
def nonprod_low_priority_compute(s: Subject) -> Iterator[Finding]:
    """Outside prod, compute clusters use low-priority VMs. Reads the plan: the cluster's vmPriority."""
    if s.is_prod:
        return
    for res in _aml_clusters(s):
        priority = res.get("properties.properties.vmPriority")
        if priority != "LowPriority":
            yield res.urn, (
                f"{res.label}: vmPriority is {priority!r} in {s.environment}; "
                f"set amlops:compute.priority: LowPriority in {s.stack_file} (cheaper; pre-emption is acceptable outside prod)"
            )


@rule("compute-scales-to-zero", ADVISORY)
def compute_scales_to_zero(s: Subject) -> Iterator[Finding]:
    """Compute clusters scale to zero nodes when idle. Reads the plan: scaleSettings.minNodeCount."""
    for res in _aml_clusters(s):
        minimum = number(res.get("properties.properties.scaleSettings.minNodeCount"))
        if minimum != 0:
            shown = "unset" if minimum is None else f"{minimum:g}"
            yield res.urn, (
                f"{res.label}: scaleSettings.minNodeCount is {shown}, so idle nodes keep costing; "
                f"set amlops:compute.minNodes: 0 in {s.stack_file}"
            )
