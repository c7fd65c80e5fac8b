"""`amlops`'s view of infra/swagger.py (the one spec generator, also used by the Pulumi program for the deployed
code asset): scoring/ is the default folder, and a model score.py cannot load is a usage error."""

from __future__ import annotations

from pathlib import Path

from amlops.errors import UsageError
from amlops.paths import SCORING_DIR
from infra import swagger as _swagger
from infra.errors import ScoringPackageError
from infra.swagger import FILES, write

__all__ = ["FILES", "generate", "write"]


def generate(model_dir: Path, *, max_rows: int, title: str, scoring_dir: Path = SCORING_DIR) -> dict[str, dict]:
    """The three spec files (name → document) for the model folder and the deployment's maxRows."""
    try:
        return _swagger.generate(model_dir, max_rows=max_rows, title=title, scoring_dir=scoring_dir)
    except ScoringPackageError as exc:
        raise UsageError(str(exc)) from None
