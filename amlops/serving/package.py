"""`amlops serve`'s view of infra/scoring_package.py (the one packager, also used by the Pulumi program for the
deployed code asset): scoring/ is the default folder, and a model score.py cannot load is a usage error."""

from __future__ import annotations

from pathlib import Path

from amlops.errors import UsageError
from amlops.paths import SCORING_DIR
from amlops.skopsimport import import_skops
from infra import scoring_package
from infra.errors import ScoringPackageError


def package_scoring(model_dir: Path, *, max_rows: int, title: str, scoring_dir: Path = SCORING_DIR) -> Path:
    """The app root for `model_dir`: a copy of `scoring_dir` with swagger.json, swagger3.json and swagger3.1.json."""
    import_skops()  # before score.py's load() imports it the plain way (amlops.skopsimport)
    try:
        return scoring_package.package_scoring(model_dir, max_rows=max_rows, title=title, scoring_dir=scoring_dir)
    except ScoringPackageError as exc:
        raise UsageError(str(exc)) from None
