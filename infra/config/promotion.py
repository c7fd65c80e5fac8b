"""`amlops:promotion`: how `amlops promote` may change a stack."""

from __future__ import annotations

from infra.config.base import ConfigModel


class PromotionConfig(ConfigModel):
    """How `amlops promote` may change this stack (read by amlops only; no Azure resource has it)."""

    require_canary: bool = False
    """Default false; prod sets true: `promote --finish` needs the candidate to have served a live
    traffic share in an earlier committed (deployed) revision of this stack file, or --override-canary."""
