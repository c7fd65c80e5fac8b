"""Write a file so that readers see its old or its new content, never a partial one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: Path, mode: int | None = None) -> Iterator[Path]:
    """A fresh temporary sibling of `path` to write; renamed over `path` when the block succeeds.

    The sibling is in the same folder (so the rename is atomic), unique per call (so concurrent
    writers never share it), created with `mode` when given (e.g. 0o600 for keys, never wider
    even for an instant), and removed when the block raises.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str, mode: int | None = None) -> None:
    """Replace `path` with `text` atomically (see atomic_path)."""
    with atomic_path(path, mode) as tmp:
        tmp.write_text(text)
