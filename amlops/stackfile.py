"""Read a stack file (`stacks/Pulumi.<stack>.yaml`) into the validated StackConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from amlops.errors import StackNotFound, UsageError
from amlops import paths
from amlops.paths import ROOT
from infra.config import PROJECT, ConfigError, Problem, StackConfig, parse_config


def stack_path(stack: str, stacks_dir: Path | None = None) -> Path:
    """The stack file for `stack` (in `stacks_dir`, default amlops.paths.stacks_dir()); raises StackNotFound listing the stacks there are."""
    stacks_dir = stacks_dir or paths.stacks_dir()
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in stacks_dir.glob("Pulumi.*.yaml"))
        raise StackNotFound(
            f"no stack file {_display(path)} for stack {stack!r}; known stacks: {', '.join(known) or 'none'}"
        )
    return path


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def raw_config(path: Path) -> dict[str, Any]:
    """The `amlops:` keys of a stack file, without the prefix (as pulumi.Config sees them)."""
    source = _display(path)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(source, [Problem((), f"is not valid YAML{where}: {getattr(exc, 'problem', exc)}")]) from None
    config = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(config, dict):
        raise ConfigError(source, [Problem((), "has no `config:` mapping (see stacks/Pulumi.dev.yaml)")])
    return project_keys(config)


def project_keys(config: dict[str, Any]) -> dict[str, Any]:
    """A stack file's `config:` mapping → its `amlops:` keys without the prefix."""
    prefix = f"{PROJECT}:"
    return {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}


def load_stack(stack: str, stacks_dir: Path | None = None) -> StackConfig:
    """Validate a stack's config; raises ConfigError naming the file and every bad key."""
    path = stack_path(stack, stacks_dir)
    return parse_config(raw_config(path), source=_display(path))


def load_endpoint(stack: str, endpoint: str | None, stacks_dir: Path | None = None) -> StackConfig:
    """The stack narrowed to the model behind `--endpoint` (a base name from the stack file or a model key;
    None: the stack's only model). A choice the stack cannot make is a UsageError listing its endpoints."""
    from infra.config import EndpointChoiceError

    cfg = load_stack(stack) if stacks_dir is None else load_stack(stack, stacks_dir)
    try:
        return cfg.narrow(endpoint)
    except EndpointChoiceError as exc:
        raise UsageError(f"stack {stack}: {exc}") from None


def endpoint_flag(cfg: StackConfig) -> str:
    """` --endpoint <key>` when the stack file serves several models (for the commands a message suggests), else ""."""
    return "" if cfg.single_form else f" --endpoint {cfg.key}"


def find_group(cfg: StackConfig, endpoint: str | None):
    """(key, group) of the amlops:multiModel group `endpoint` names (its key or its online endpoint's name), else None."""
    return cfg.group(endpoint)


def online_endpoint(stack: str, endpoint: str | None) -> tuple[str, str]:
    """(online endpoint name, `--stack S[ --endpoint E]` for messages) of a model's or a multiModel group's endpoint."""
    found = find_group(load_stack(stack), endpoint) if endpoint is not None else None
    if found is not None:
        return found[1].online.endpoint_name, f"--stack {stack} --endpoint {found[0]}"
    cfg = load_endpoint(stack, endpoint)
    return cfg.online.endpoint_name, f"--stack {stack}{endpoint_flag(cfg)}"
