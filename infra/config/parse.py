"""parse_config: a stack's `amlops:` keys → a StackConfig, or a ConfigError listing every problem."""

from __future__ import annotations

from typing import Any, Iterator

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from infra.errors import PROJECT
from infra.config.models import LEGACY_OPTIONAL, LEGACY_SECTIONS, ModelConfig, legacy_path, normalise_legacy
from infra.errors import ConfigError, Problem
from infra.config.multi_model import MultiModelConfig
from infra.config.rules import GROUPS, SHARED, UNSERVED, cross_problems
from infra.config.stack import StackConfig


def _pydantic_problems(err: ValidationError) -> list[Problem]:
    problems = []
    for e in err.errors():
        loc = tuple(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            msg = "is required"
        elif e["type"] == "extra_forbidden":
            msg = "is not a known setting (check its spelling; keys are camelCase)"
        elif "got " not in msg and e["type"] not in {"model_type", "dict_type"}:
            msg = f"{msg}, got {e['input']!r}"
        problems.append(Problem(loc, msg))
    return problems

def _without(node: Any, path: tuple[Any, ...]) -> Any:
    """A copy of `node` without the key at `path` (so its default applies)."""
    if not path or not isinstance(node, dict) or path[0] not in node:
        return node
    if len(path) == 1:
        return {k: v for k, v in node.items() if k != path[0]}
    return {**node, path[0]: _without(node[path[0]], path[1:])}


def _valid_sections(raw: dict[str, Any], err: ValidationError) -> dict[str, Any]:
    """The sections the cross-field rules read, each validated alone with its faulty keys left out.

    So a bad `online.authMode` does not hide a traffic sum of 90; a section that still fails
    (a required key is missing or wrong) skips its rules.
    """
    faulty = [tuple(e["loc"]) for e in err.errors() if e["loc"]]
    sections: dict[str, Any] = {}
    for name in SHARED:
        if name in ENTRIES:
            alias, entry = ENTRIES[name]
            sections[name] = _valid_entries(raw.get(alias), alias, entry, faulty)
            continue
        field = StackConfig.model_fields[name]
        alias = to_camel(name)
        if alias not in raw:
            if not field.is_required():
                sections[name] = field.get_default(call_default_factory=True)
            continue
        value = raw[alias]
        for loc in faulty:
            if loc[0] == alias:
                value = _without(value, loc[1:])
        try:
            sections[name] = field.annotation.model_validate(value, by_alias=True)  # type: ignore[union-attr]
        except ValidationError:
            continue
    return sections


ENTRIES: dict[str, tuple[str, type]] = {"models": ("models", ModelConfig), "multi_model": (GROUPS, MultiModelConfig)}
"""The sections that hold entries by key: (their key in the file, an entry's schema)."""


def _valid_entries(entries: Any, alias: str, schema: type, faulty: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Each model (or group) validated alone with its faulty keys left out: one entry's mistake hides no other's rules."""
    valid: dict[str, Any] = {}
    for key, value in (entries or {}).items() if isinstance(entries, dict) else ():
        for loc in faulty:
            if loc[:2] == (alias, key):
                value = _without(value, loc[2:])
        try:
            valid[key] = schema.model_validate(value, by_alias=True)
        except ValidationError:
            continue
    return valid


SECURE_MESSAGE = (
    "is an encrypted Pulumi secret (secure: …); the amlops CLI reads stack files without Pulumi and cannot "
    "decrypt it, and no amlops setting is secret: store the value in plain text with "
    "`pulumi config set --path {key} VALUE --plaintext`"
)
"""For `key: {secure: v1:…}`; `--path` and `--plaintext`: https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set/"""


def _secure_paths(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where a stack file holds Pulumi secrets (`key: {secure: v1:…}`)."""
    if isinstance(node, dict):
        if set(node) == {"secure"} and isinstance(node["secure"], str):
            yield path
            return
        for key, value in node.items():
            yield from _secure_paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _secure_paths(value, (*path, i))


def parse_config(raw: dict[str, Any], source: str) -> StackConfig:
    """Validate the `amlops:` keys of a stack (without the prefix) into a StackConfig.

    Raises ConfigError with every problem, each naming `source` and the key path.
    """
    secure = list(_secure_paths(raw))
    problems: list[Problem] = []
    missing = [k for k in LEGACY_SECTIONS if k not in raw]
    raw, legacy = normalise_legacy(raw)
    if legacy:  # the single-model form needs all three of its sections, as it always did
        problems += [Problem((k,), "is required") for k in missing]
    elif "models" in raw and any(k in raw for k in (*LEGACY_SECTIONS, *LEGACY_OPTIONAL)):
        sections = (*LEGACY_SECTIONS, *LEGACY_OPTIONAL)
        given = ", ".join(f"{PROJECT}:{k}" for k in sections if k in raw)
        problems.append(Problem((LEGACY_SECTIONS[0],) if "model" in raw else (next(k for k in sections if k in raw),),
                                f"belongs to the single-model form; with {PROJECT}:models, move {given} into a model entry"))
        raw = {k: v for k, v in raw.items() if k not in sections}
    try:
        cfg = StackConfig.model_validate(raw, by_alias=True)
        sections = {name: getattr(cfg, name) for name in SHARED}
    except ValidationError as err:
        cfg = None
        problems += _pydantic_problems(err)
        sections = _valid_sections(raw, err)
    problems += cross_problems(sections)
    if any(p.path[:1] == (GROUPS,) for p in problems):  # a broken group's members would be reported as unserved too
        problems = [p for p in problems if p.message != UNSERVED]
    if legacy:  # report at the keys the file holds; a missing section once, not once per field
        problems = [q for p in problems if (q := Problem(legacy_path(p.path), p.message)).path[:1] not in [(m,) for m in missing] or len(q.path) == 1]
    # a secret's own type or cross-field error would only repeat its secure: message; one line per problem
    problems = [Problem(p, SECURE_MESSAGE.format(key=Problem(p, "").key())) for p in secure] + list(
        dict.fromkeys(p for p in problems if not any(p.path[: len(s)] == s for s in secure))
    )
    if problems or cfg is None:
        raise ConfigError(source, problems)
    cfg._single_form = legacy
    return cfg
