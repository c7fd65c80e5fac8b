"""The errors the Pulumi program raises before it declares anything; __main__ turns them into RunErrors."""

from __future__ import annotations


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
