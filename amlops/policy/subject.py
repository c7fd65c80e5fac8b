"""What a rule reads: the plan, the environment it is for and, where known, the validated stack config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from amlops.plan.document import Plan, Resource, lookup

PROD = "prod"
REQUIRED_TAGS: tuple[str, ...] = ("environment", "owner", "costCenter")
"""Tags every taggable resource carries (cost allocation and ownership)."""


@dataclass(frozen=True)
class Violation:
    """One broken rule: which rule, how serious, what to fix and on which resource (URN)."""

    rule: str
    severity: str
    message: str
    urn: str | None = None


@dataclass(frozen=True)
class Subject:
    """The plan under check plus the facts the plan does not record."""

    plan: Plan
    environment: str
    config: Mapping[str, Any] | None = None
    """The stack's validated config with camelCase keys (`amlops config show --format json`), if known."""
    required_tags: tuple[str, ...] = REQUIRED_TAGS
    stack_file: str = "the stack file"

    @property
    def is_prod(self) -> bool:
        return self.environment == PROD

    def of_type(self, suffix: str) -> list[Resource]:
        return self.plan.of_type(suffix)

    def config_get(self, path: str, default: Any = None) -> Any:
        """The stack config value at a dotted path (`online.authMode`), or `default`."""
        return lookup(self.config, path, default)


def environment_of(plan: Plan) -> str:
    """The `environment` tag the plan's resources carry (the resource group's first), else the stack name."""
    ordered = sorted(plan.resources.values(), key=lambda r: not r.type.endswith(":ResourceGroup"))
    for res in ordered:
        tags = res.inputs.get("tags")
        if isinstance(tags, Mapping) and isinstance(tags.get("environment"), str):
            return tags["environment"]
    return plan.stack
