"""The typed errors the library raises; only the CLI turns them into messages and exit codes."""

from __future__ import annotations


class AmlopsError(Exception):
    """Base class: a failure the user can act on; the message says what and what next."""

    exit_code = 1


class UsageError(AmlopsError):
    """The command was called wrongly (bad option value, missing file)."""

    exit_code = 2


class StackNotFound(UsageError):
    """No stack file for the requested stack."""


class RegistryError(AmlopsError):
    """The model registry refused or does not hold what was asked for."""


class ModelNotFound(RegistryError):
    """No such registered model or version."""


class DataError(AmlopsError):
    """An input file is malformed; the message names the file and, where known, the row."""
