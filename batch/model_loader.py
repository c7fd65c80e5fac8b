"""Load the loans model for the batch entry scripts: find the MLflow model folder, load skops with trusted types.

Part of the batch/ code asset (Azure puts the scripts' folder on the import path);
it imports only skops, never this repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import skops.io

MODEL_DIR_ENV = "AZUREML_MODEL_DIR"
MODEL_FILE = "model.skops"
TRUSTED_TYPES: tuple[str, ...] = ()
"""Types trusted beyond skops' defaults; LogisticRegression needs none. Loading fails on any other."""


class ModelLoadError(RuntimeError):
    """The model folder is missing, ambiguous or holds types that are not trusted."""


def find_model_file(root: Path) -> Path:
    """The `model.skops` of the one MLflow model folder (has an MLmodel file) at or below `root`."""
    folders = sorted(p.parent for p in root.rglob("MLmodel"))
    if not folders:
        raise ModelLoadError(f"{MODEL_DIR_ENV}={root}: no MLflow model folder (MLmodel file) below it")
    if len(folders) > 1:
        raise ModelLoadError(f"{MODEL_DIR_ENV}={root}: several MLflow model folders: {', '.join(map(str, folders))}")
    path = folders[0] / MODEL_FILE
    if not path.is_file():
        raise ModelLoadError(f"{folders[0]}: no {MODEL_FILE} (the model must be saved with serialization_format='skops')")
    return path


def load_model():
    """The model below AZUREML_MODEL_DIR. skops, not pickle: loading runs no code, and any
    type outside skops' defaults and TRUSTED_TYPES is refused."""
    root = os.environ.get(MODEL_DIR_ENV)
    if not root:
        raise ModelLoadError(f"{MODEL_DIR_ENV} is not set; Azure sets it to the deployment's model folder")
    path = find_model_file(Path(root))
    untrusted = sorted(set(skops.io.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        raise ModelLoadError(f"{path}: refusing untrusted types {', '.join(untrusted)}")
    return skops.io.load(path, trusted=list(TRUSTED_TYPES)), path
