"""One wrapper for every azure-ai-ml call: Azure's refusal becomes a RemoteError that names what was asked."""

from __future__ import annotations

from typing import Callable, TypeVar

from amlops.azure.errors import RemoteError

T = TypeVar("T")


def call(what: str, fn: Callable[[], T], hint: str = "") -> T:
    """fn(), with azure-core's errors turned into RemoteError("<what>: <Azure's message>[; hint]")."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    try:
        return fn()
    except ResourceNotFoundError as exc:
        raise RemoteError(f"{what}: not found ({_first_line(exc)}){'; ' + hint if hint else ''}") from None
    except AzureError as exc:
        raise RemoteError(f"{what}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__
