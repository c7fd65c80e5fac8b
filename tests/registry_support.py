"""A state folder whose embedded registry holds registered versions, for plan tests that resolve models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def registered_state(folder: Path, model_dir: Path, versions: int = 1, name: str = "chapter12-loans") -> Iterator[Path]:
    """`folder` as AMLOPS_STATE_DIR (no MLFLOW_TRACKING_URI) with `model_dir` registered as `name` versions 1..`versions`."""
    from amlops.registry import Registry

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AMLOPS_STATE_DIR", str(folder))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        got = [Registry().register(name, model_dir).registered for _ in range(versions)]
        assert [v.version if v else None for v in got] == list(range(1, versions + 1))
        yield folder
