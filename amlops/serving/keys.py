"""An endpoint's primary and secondary keys, as a managed endpoint with `auth_mode: key` has them.

Generated once, stored as JSON with 0600 permissions under the state folder, regenerated
one at a time so that clients can roll from one key to the other.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from amlops.errors import AmlopsError, UsageError
from amlops.paths import state_dir

KEY_NAMES = ("primary", "secondary")
KEY_BYTES = 32
"""secrets.token_urlsafe(32): 43 characters, 256 bits."""


class KeyFileError(AmlopsError):
    """The key file exists but is not a valid key file."""


@dataclass(frozen=True)
class EndpointKeys:
    """The two keys of one endpoint."""

    primary: str
    secondary: str

    def accepts(self, presented: str) -> bool:
        """Constant-time check of a presented key against both keys."""
        given = presented.encode()
        # Both comparisons always run, so timing says nothing about which key matched.
        first = hmac.compare_digest(given, self.primary.encode())
        second = hmac.compare_digest(given, self.secondary.encode())
        return first | second


def keys_path(endpoint_name: str) -> Path:
    """`<state>/endpoints/<endpoint>/keys.json`."""
    return state_dir() / "endpoints" / endpoint_name / "keys.json"


def _write(path: Path, keys: EndpointKeys) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"primary": keys.primary, "secondary": keys.secondary}, f)
    os.chmod(tmp, 0o600)  # in case the file existed with wider permissions
    os.replace(tmp, path)


def read_keys(path: Path) -> EndpointKeys:
    """Read a key file; raises KeyFileError naming the file and what is wrong."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no key file; run `amlops endpoint keys` to create one") from None
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{path}: not a key file ({exc.__class__.__name__}); delete it to generate new keys") from None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) and doc.get(k) for k in KEY_NAMES):
        raise KeyFileError(f"{path}: expected a JSON object with string fields primary and secondary")
    return EndpointKeys(doc["primary"], doc["secondary"])


def load_or_create(endpoint_name: str) -> tuple[EndpointKeys, Path]:
    """The endpoint's keys, generated on first use."""
    path = keys_path(endpoint_name)
    if not path.exists():
        _write(path, EndpointKeys(secrets.token_urlsafe(KEY_BYTES), secrets.token_urlsafe(KEY_BYTES)))
    return read_keys(path), path


def regenerate(endpoint_name: str, which: str) -> EndpointKeys:
    """Replace one key (primary or secondary) with a new one; the other keeps working."""
    if which not in KEY_NAMES:
        raise UsageError(f"--regenerate takes primary or secondary, got {which!r}")
    keys, path = load_or_create(endpoint_name)
    fresh = secrets.token_urlsafe(KEY_BYTES)
    new = EndpointKeys(fresh, keys.secondary) if which == "primary" else EndpointKeys(keys.primary, fresh)
    _write(path, new)
    return new
