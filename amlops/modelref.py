"""`NAME:VERSION`, the way every command names a registered model version: one parser, one message."""

from __future__ import annotations

from amlops.errors import UsageError

EXAMPLE = "chapter12-loans:1"


def parse_model_ref(ref: str, what: str = "--model", *, version_required: bool = True) -> tuple[str, int | None]:
    """`NAME:VERSION` (or `NAME` alone when the version is optional) → (name, version or None).

    The version is whatever follows the last colon and must be a whole number ≥ 1; `what` names
    the option or argument in the UsageError.
    """
    form = "NAME:VERSION" if version_required else "NAME or NAME:VERSION"
    name, sep, version = ref.rpartition(":")
    if not sep:
        name, version = ref, ""
    valid_version = version.isdigit() and int(version) >= 1
    if not name.strip() or (sep and not valid_version) or (version_required and not sep):
        raise UsageError(f"{what} takes {form} with a version ≥ 1, e.g. {EXAMPLE}, got {ref!r}")
    return name, int(version) if sep else None
