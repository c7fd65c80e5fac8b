"""The model folder of a multi-model online deployment: several models' MLflow folders under one folder,
registered as one model asset, with the list scoring/score_multi.py reads.

Azure: a deployment names one model; "you can still use multiple models in a deployment by registering
a model folder that contains all the models as files or subdirectories", and AZUREML_MODEL_DIR keeps
that folder's structure (https://learn.microsoft.com/azure/machine-learning/concept-online-deployment-model-specification,
"Deployment for several local models"). The folder is content-addressed under `<state>/multimodel/<hash>/`,
so the same members at the same versions give the same folder (and the same asset version), and a
member's new version gives a new one; it is never changed in place.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

from infra.content import HASH_LENGTH, content_hash
from infra.model_source import state_dir

MANIFEST = "multimodel.json"
"""Listed at the folder's top: {"models": [key, ...]}, one subfolder per key (scoring/score_multi.py's MANIFEST)."""


def combine(members: Mapping[str, Path]) -> Path:
    """The combined folder for `members` (key → that model's MLflow folder), built once per content."""
    if len(members) < 2:
        raise ValueError(f"a multi-model folder holds two or more models, got {len(members)}")
    keys = sorted(members)
    digest = hashlib.sha256("\n".join(f"{k}={content_hash(members[k])}" for k in keys).encode()).hexdigest()[:HASH_LENGTH]
    dest = state_dir() / "multimodel" / digest
    if (dest / MANIFEST).is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".combine-", dir=dest.parent))
    try:
        for key in keys:
            shutil.copytree(members[key], staging / key, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        (staging / MANIFEST).write_text(json.dumps({"models": keys}) + "\n")
        try:
            staging.rename(dest)
        except OSError:  # built meanwhile by another process: same content
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest
