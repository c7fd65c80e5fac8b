"""Content addressing for uploaded folders: which files count, and their short sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

HASH_LENGTH = 12
"""Hex digits kept from the sha256: short enough for asset versions, long enough not to collide."""


def is_excluded(relative: Path) -> bool:
    """Local runs leave `__pycache__/`, `*.pyc` and dotfiles behind; Azure never needs them."""
    return any(part == "__pycache__" or part.startswith(".") for part in relative.parts) or (
        relative.suffix == ".pyc"
    )


def folder_files(folder: Path) -> list[str]:
    """The folder's files as sorted POSIX paths relative to it, without the excluded ones."""
    files = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if path.is_file() and not is_excluded(rel):
            files.append(rel.as_posix())
    return sorted(files)


def content_hash(folder: Path) -> str:
    """A short sha256 over the folder's sorted (relative path, bytes); raises FileNotFoundError."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    h = hashlib.sha256()
    for rel in folder_files(folder):
        name = rel.encode()
        data = (folder / rel).read_bytes()
        # Length prefixes keep ("a", "bc") and ("ab", "c") apart.
        h.update(len(name).to_bytes(4, "big") + name + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()[:HASH_LENGTH]


def text_hash(*parts: str) -> str:
    """The same short sha256 over strings (environment specs: image + conda file)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode()
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()[:HASH_LENGTH]
