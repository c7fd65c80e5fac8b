"""Pulumi CrossGuard pack: every `amlops check` rule as a stack validation policy.

    pulumi preview --policy-pack policy/

The rules live in amlops/policy (standard library only); this file puts the repository on
sys.path, so the pack's own virtualenv needs nothing but pulumi-policy.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, PolicyPack, StackValidationPolicy  # noqa: E402

from amlops.policy.crossguard import PACK_NAME, policies  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=policies(StackValidationPolicy, EnforcementLevel, PolicyConfigSchema),
)
