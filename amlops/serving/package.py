"""Package the scoring code for one model: scoring/ as it is, plus the swagger files generated from the
model's signature (amlops.serving.swagger). The result is the app root the inference server runs
(AML_APP_ROOT): what `amlops serve` serves and what a deployment's code asset should hold.

Packages are content-addressed under `<state>/packages/<key>/`, the key covering scoring/'s files,
the model folder, the row limit, the title and the generator's own source, so a package is built
once and never changes in place.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from amlops.paths import SCORING_DIR, state_dir
from amlops.serving import swagger
from infra.content import content_hash

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", *swagger.FILES)
"""Not copied from scoring/: caches, and stale spec files (the package's are generated)."""


def package_key(model_dir: Path, *, max_rows: int, title: str, scoring_dir: Path = SCORING_DIR) -> str:
    """The package's content address (16 hex digits)."""
    parts = (
        content_hash(scoring_dir), content_hash(model_dir), str(max_rows), title,
        hashlib.sha256(Path(swagger.__file__).read_bytes()).hexdigest(),
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def package_scoring(model_dir: Path, *, max_rows: int, title: str, scoring_dir: Path = SCORING_DIR) -> Path:
    """The app root for `model_dir`: a copy of `scoring_dir` with swagger.json, swagger3.json and swagger3.1.json."""
    dest = state_dir() / "packages" / package_key(model_dir, max_rows=max_rows, title=title, scoring_dir=scoring_dir)
    if all((dest / name).is_file() for name in swagger.FILES):
        return dest
    specs = swagger.generate(model_dir, max_rows=max_rows, title=title, scoring_dir=scoring_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".package-", dir=dest.parent))
    try:
        shutil.copytree(scoring_dir, staging / "app", ignore=IGNORED)
        swagger.write(staging / "app", specs)
        try:
            (staging / "app").rename(dest)
        except OSError:  # built meanwhile by another process: same key, same content
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest
