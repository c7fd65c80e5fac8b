"""Adapt the amlops rules to Pulumi CrossGuard: one StackValidationPolicy per rule (used by policy/__main__.py).

The pulumi_policy classes are passed in rather than imported, so this module needs only the
standard library and its logic is tested without pulumi_policy or the pulumi CLI.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from amlops.policy.rules import MANDATORY, RULES, Rule
from amlops.policy.subject import REQUIRED_TAGS, Subject, environment_of
from amlops.plan.document import Plan, Resource

PACK_NAME = "amlops-baseline"

CONFIG_SCHEMA = {
    "environment": {"type": "string", "description": "The environment (prod turns on the prod-only rules); default: the `environment` tag, else the stack name."},
    "requiredTags": {"type": "array", "items": {"type": "string"}, "description": f"Tags every taggable resource needs; default {list(REQUIRED_TAGS)}."},
}
"""Per-policy configuration a pack user may set (`pulumi preview --policy-pack-config`)."""


def stack_of(urn: str) -> str:
    """`urn:pulumi:prod::amlops::type::name` → `prod`."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def plan_from_resources(resources: Iterable[Any]) -> Plan:
    """A Plan from CrossGuard's PolicyResource objects (resource_type, urn, name, props, opts, parent, dependencies)."""
    converted: dict[str, Resource] = {}
    for r in resources:
        opts = getattr(r, "opts", None)
        parent = getattr(r, "parent", None)
        converted[r.urn] = Resource(
            urn=r.urn,
            type=r.resource_type,
            name=r.name,
            inputs=dict(r.props or {}),
            parent=parent.urn if parent is not None else None,
            dependencies=tuple(d.urn for d in getattr(r, "dependencies", None) or ()),
            protect=bool(getattr(opts, "protect", False)),
            ignore_changes=tuple(getattr(opts, "ignore_changes", None) or ()),
        )
    stack = stack_of(next(iter(converted))) if converted else "unknown"
    return Plan(stack=stack, resources=dict(sorted(converted.items())))


def validator(rule: Rule) -> Callable[[Any, Callable[..., None]], None]:
    """The `validate(args, report_violation)` callback of one rule's StackValidationPolicy."""

    def validate(args: Any, report_violation: Callable[..., None]) -> None:
        config = dict(args.get_config() or {}) if hasattr(args, "get_config") else {}
        plan = plan_from_resources(args.resources)
        subject = Subject(
            plan,
            environment=config.get("environment") or environment_of(plan),
            required_tags=tuple(config.get("requiredTags") or REQUIRED_TAGS),
            stack_file=f"stacks/Pulumi.{plan.stack}.yaml",
        )
        for violation in rule.run(subject):
            report_violation(violation.message, violation.urn)

    validate.__name__ = f"validate_{rule.id.replace('-', '_')}"
    return validate


def policies(stack_policy_cls: Any, enforcement: Any, config_schema_cls: Any = None) -> list[Any]:
    """One `StackValidationPolicy` per rule; mandatory rules block (MANDATORY), the others warn (ADVISORY)."""
    made = []
    for rule in RULES:
        kwargs: dict[str, Any] = {}
        if config_schema_cls is not None:
            kwargs["config_schema"] = config_schema_cls(properties=CONFIG_SCHEMA)
        made.append(
            stack_policy_cls(
                name=rule.id,
                description=rule.description,
                validate=validator(rule),
                enforcement_level=enforcement.MANDATORY if rule.severity == MANDATORY else enforcement.ADVISORY,
                **kwargs,
            )
        )
    return made
