"""Typed errors of the remote commands (the CLI turns them into messages and exit codes)."""

from __future__ import annotations

from amlops.errors import AmlopsError, UsageError


class RemoteError(AmlopsError):
    """Azure refused or could not do what was asked; the message carries Azure's reason."""


class RemoteUsageError(UsageError):
    """A remote command lacks what it needs to find the workspace (subscription, sign-in)."""
