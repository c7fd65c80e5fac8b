"""The errors the Pulumi program raises before it declares anything (__main__ turns them into RunErrors),
and a stack config's ConfigError: plain classes, so that the CLI catches them without importing pydantic."""

from __future__ import annotations

from dataclasses import dataclass

PROJECT = "amlops"
"""The Pulumi project name: the namespace of every stack config key (`amlops:<key>`)."""


class InfraError(Exception):
    """Base class: the program cannot declare the stack; the message names what and what next."""


class InvalidArgs(InfraError):
    """A component got arguments it cannot use; the message names the component and the field."""

    def __init__(self, component: str, field: str, problem: str):
        self.component = component
        self.field = field
        super().__init__(f"{component}: {field} {problem}")


class ArtifactMissing(InfraError):
    """An artifact folder or file (scoring/, batch/, an environment spec) does not exist."""


class ScoringPackageError(InfraError):
    """scoring/ cannot be packaged for a model (no score.py, or score.py cannot load the model); the message says why."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stack's config, at a dotted key path."""

    path: tuple[str | int, ...]
    message: str

    def key(self) -> str:
        """The key as a user writes it: `amlops:online.traffic`."""
        parts = [str(p) for p in self.path]
        if not parts:
            return f"{PROJECT}:"
        return f"{PROJECT}:" + ".".join(parts)


class ConfigError(Exception):
    """A stack's config is invalid; carries every problem found."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(f"{self.source}: {p.key()}: {p.message}" for p in self.problems)


class EndpointChoiceError(ValueError):
    """A command needs one model of the stack and the stack (or --endpoint) does not name exactly one."""


class AmbiguousModel(EndpointChoiceError):
    """The stack serves several models and the command was not told which."""

    def __init__(self, choices: list[str], models: int | None = None):
        count = len(choices) if models is None else models
        super().__init__(f"the stack serves {count} models; choose one with --endpoint: {'; '.join(choices)}")


class UnknownEndpoint(EndpointChoiceError):
    """--endpoint names no endpoint, model key or multiModel group of the stack."""

    def __init__(self, endpoint: str, choices: list[str]):
        super().__init__(f"--endpoint {endpoint!r} names no endpoint of the stack (models: {'; '.join(choices)})")


class GroupEndpoint(EndpointChoiceError):
    """--endpoint names an amlops:multiModel group where the command works on one model."""

    def __init__(self, endpoint: str, key: str, members: list[str], choices: list[str]):
        super().__init__(
            f"--endpoint {endpoint!r} is multiModel group {key} (one online endpoint serving {', '.join(members)}); "
            f"this command works on one model's endpoint: choose one with --endpoint: {'; '.join(choices)}"
        )


class MissingEndpoint(EndpointChoiceError):
    """The chosen model has no endpoint of the kind the command needs."""

    def __init__(self, key: str, kind: str):
        super().__init__(f"model {key!r} declares no {kind} endpoint (amlops:models.{key}.{kind})")
