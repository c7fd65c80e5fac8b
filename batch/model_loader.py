"""Load the deployment's model for the batch entry scripts: the MLflow folder, its reviewed trusted types, its features.

Part of the batch/ code asset (Azure puts the scripts' folder on the import path);
it imports only its runtime dependencies (PyYAML, skops), never this repository.
Nothing here is specific to one model: the feature names, order and types come from
the model's MLflow signature, or from the estimator's `feature_names_in_`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import skops.io
import yaml

MODEL_DIR_ENV = "AZUREML_MODEL_DIR"
"""Set by Azure in a batch model deployment to the registered model's folder
(https://learn.microsoft.com/azure/machine-learning/how-to-batch-scoring-script#the-init-method)."""
MLMODEL = "MLmodel"
TRUSTED_KEY = "skops_trusted_types"
"""Where mlflow.sklearn.save_model(serialization_format="skops", skops_trusted_types=[...]) records the types
the user reviewed; `amlops model register --trust TYPE` writes them there."""
INTEGER_TYPES = {"integer", "long"}
FLOAT_TYPES = {"float", "double"}


class ModelLoadError(RuntimeError):
    """The model folder is missing, ambiguous, not skops, or holds types nobody reviewed."""


@dataclass(frozen=True)
class Feature:
    """One input column the model reads: its name and MLflow type (double, long, string, …)."""

    name: str
    type: str

    @property
    def integer(self) -> bool:
        return self.type in INTEGER_TYPES

    @property
    def numeric(self) -> bool:
        return self.type in INTEGER_TYPES or self.type in FLOAT_TYPES


@dataclass(frozen=True)
class LoadedModel:
    """The estimator, where it was loaded from, and the features it reads, in order."""

    estimator: object
    path: Path
    features: tuple[Feature, ...]


def find_model_folder(root: Path) -> Path:
    """The one MLflow model folder (has an MLmodel file) at or below `root`."""
    folders = sorted(p.parent for p in root.rglob(MLMODEL))
    if not folders:
        raise ModelLoadError(f"{MODEL_DIR_ENV}={root}: no MLflow model folder (MLmodel file) below it")
    if len(folders) > 1:
        raise ModelLoadError(f"{MODEL_DIR_ENV}={root}: several MLflow model folders: {', '.join(map(str, folders))}")
    return folders[0]


def _mlmodel(folder: Path) -> dict:
    return yaml.safe_load((folder / MLMODEL).read_text()) or {}


def _signature_features(meta: dict) -> tuple[Feature, ...]:
    """Named column inputs of the MLflow signature (an empty tuple when it has none)."""
    import json

    inputs = (meta.get("signature") or {}).get("inputs")
    if not inputs:
        return ()
    specs = json.loads(inputs) if isinstance(inputs, str) else inputs
    if not all(isinstance(s, dict) and s.get("name") for s in specs):
        return ()  # a tensor signature: no column names
    return tuple(Feature(str(s["name"]), str(s.get("type", "double"))) for s in specs)


def _estimator_features(estimator: object) -> tuple[Feature, ...]:
    names = getattr(estimator, "feature_names_in_", None)
    return tuple(Feature(str(n), "double") for n in names) if names is not None else ()


def load_model(root: str | os.PathLike | None = None) -> LoadedModel:
    """The model below `root` (default AZUREML_MODEL_DIR), loaded with skops and exactly the recorded trusted types."""
    root = root if root is not None else os.environ.get(MODEL_DIR_ENV)
    if not root:
        raise ModelLoadError(f"{MODEL_DIR_ENV} is not set; Azure sets it to the deployment's model folder")
    folder = find_model_folder(Path(root))
    meta = _mlmodel(folder)
    flavor = (meta.get("flavors") or {}).get("sklearn") or {}
    if flavor.get("serialization_format") != "skops":
        raise ModelLoadError(
            f"{folder / MLMODEL}: the sklearn flavor is saved as {flavor.get('serialization_format')!r}; these scripts "
            "load skops only (no code runs on load): register it with `amlops model register` or `amlops model import`"
        )
    path = folder / flavor.get("pickled_model", "model.skops")
    trusted = [str(t) for t in flavor.get(TRUSTED_KEY) or []]
    untrusted = sorted(set(skops.io.get_untrusted_types(file=path)) - set(trusted))
    if untrusted:
        raise ModelLoadError(
            f"{path}: holds types nobody reviewed: {', '.join(untrusted)}; review them, then register the model "
            f"again with `amlops model register --trust TYPE` for each (recorded as {TRUSTED_KEY} in {MLMODEL})"
        )
    estimator = skops.io.load(path, trusted=trusted)
    features = _signature_features(meta) or _estimator_features(estimator)
    if not features:
        raise ModelLoadError(
            f"{folder}: the model names no input columns (no MLflow signature with column names, no feature_names_in_); "
            "register it with a signature (`amlops model import --columns ...`)"
        )
    return LoadedModel(estimator, path, features)
