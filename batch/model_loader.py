"""Load the deployment's model for the batch entry scripts: the MLflow folder, its reviewed trusted types, its features.

Part of the batch/ code asset (Azure puts the scripts' folder on the import path);
it imports only its runtime dependencies (PyYAML, skops), never this repository.
Nothing here is specific to one model: the feature names, order and types come from
the model's MLflow signature, or from the estimator's `feature_names_in_`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import skops.io
import yaml

MODEL_DIR_ENV = "AZUREML_MODEL_DIR"
"""Set by Azure in a batch model deployment to the registered model's folder
(https://learn.microsoft.com/azure/machine-learning/how-to-batch-scoring-script#the-init-method)."""
MODEL_ARGUMENT = "--model_folder"
"""The program argument a scheduled parallel step passes instead (`--model_folder ${{inputs.model}}`, infra/schedule.py):
a parallel job sets no AZUREML_MODEL_DIR, and its scripts read their arguments with parse_known_args
(https://learn.microsoft.com/azure/machine-learning/how-to-use-parallel-job-in-pipeline#call-the-entry-script)."""
MLMODEL = "MLmodel"
TRUSTED_KEY = "skops_trusted_types"
"""Where mlflow.sklearn.save_model(serialization_format="skops", skops_trusted_types=[...]) records the types
the user reviewed; `amlops model register --trust TYPE` writes them there."""
INTEGER_TYPES = {"integer", "long"}
FLOAT_TYPES = {"float", "double"}
NUMBER_LIMITS = (1.7976931348623157e308, 3.4028234663852886e38)
"""The magnitudes a float column may take, tried in order when the model loads: the largest double, else the
largest float32 (tree ensembles compute in float32 and refuse larger values); scoring/score.py uses the same bounds."""


class ModelLoadError(RuntimeError):
    """The model folder is missing, ambiguous, not skops, or holds types nobody reviewed."""


@dataclass(frozen=True)
class Feature:
    """One input column the model reads: its name and MLflow type (double, long, string, …)."""

    name: str
    type: str
    limit: float = NUMBER_LIMITS[0]
    """The largest magnitude the model takes in this column (a float column; see NUMBER_LIMITS)."""

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


def _in_fitted_order(features: tuple[Feature, ...], estimator: object) -> tuple[Feature, ...]:
    """The signature's features in the order the estimator was fitted with them, when its `feature_names_in_`
    names the same columns in another order: scikit-learn refuses a DataFrame whose columns are out of its order."""
    names = getattr(estimator, "feature_names_in_", None)
    by_name = {f.name: f for f in features}
    if names is None or len(by_name) != len(features) or sorted(by_name) != sorted(str(n) for n in names):
        return features
    return tuple(by_name[str(n)] for n in names)


def _estimator_features(estimator: object) -> tuple[Feature, ...]:
    names = getattr(estimator, "feature_names_in_", None)
    return tuple(Feature(str(n), "double") for n in names) if names is not None else ()


def program_argument(name: str) -> str | None:
    """The value of `name` among the process's arguments (parse_known_args: Azure's driver passes its own too), or None."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument(name, dest="value", default=None)
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known.value


def load_model(root: str | os.PathLike | None = None) -> LoadedModel:
    """The model below `root`, else below --model_folder (a scheduled parallel step), else below AZUREML_MODEL_DIR
    (a batch deployment); loaded with skops and exactly the recorded trusted types."""
    root = root if root is not None else (program_argument(MODEL_ARGUMENT) or os.environ.get(MODEL_DIR_ENV))
    if not root:
        raise ModelLoadError(
            f"{MODEL_DIR_ENV} is not set and no {MODEL_ARGUMENT} argument was given; Azure sets the first in a batch "
            f"deployment, a scheduled parallel step passes the second"
        )
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
    features = _in_fitted_order(_signature_features(meta), estimator) or _estimator_features(estimator)
    if not features:
        raise ModelLoadError(
            f"{folder}: the model names no input columns (no MLflow signature with column names, no feature_names_in_); "
            "register it with a signature (`amlops model import --columns ...`)"
        )
    limit = number_limit(estimator, features)
    return LoadedModel(estimator, path, tuple(replace(f, limit=limit) if f.numeric and not f.integer else f for f in features))


def number_limit(estimator: object, features: tuple[Feature, ...]) -> float:
    """The first of NUMBER_LIMITS the model scores in every float column at once (one probe of two rows at load time),
    so that a value the model would refuse (a tree ensemble and 1e308) is set aside by its row, not found by predict()
    failing the whole file."""
    import numpy as np
    import pandas as pd

    def neutral(f: Feature) -> np.ndarray:
        if f.integer:
            return np.zeros(2, "int64")
        return np.array(["", ""], object) if not f.numeric else np.zeros(2)

    if not any(f.numeric and not f.integer for f in features):
        return NUMBER_LIMITS[0]
    for candidate in NUMBER_LIMITS:
        rows = pd.DataFrame({f.name: np.array([candidate, -candidate]) if f.numeric and not f.integer else neutral(f)
                             for f in features})
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                estimator.predict(rows)  # type: ignore[attr-defined]
            return candidate
        except Exception:  # noqa: BLE001 - a probe: any refusal means the next, smaller bound
            continue
    return NUMBER_LIMITS[-1]
