"""What a registered MLflow scikit-learn model folder says about itself: its skops file, the types it
trusts beyond skops' defaults, and its input columns (signature, else `feature_names_in_`).

One place for these rules on the toolkit side: registration (`--trust`), import, and the swagger
generated at packaging time read them here. scoring/score.py reads the same MLmodel keys itself
(it may import nothing from this repository).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from amlops.errors import UsageError

SKOPS_FILE = "model.skops"
TRUST_KEY = "skops_trusted_types"
"""MLmodel's sklearn flavor key for the trusted types, as mlflow.sklearn.save_model(skops_trusted_types=...) writes it."""
COLUMN_TYPES = ("double", "float", "long", "integer", "boolean", "string")
"""MLflow ColSpec types the scoring and batch scripts accept (scoring/score.py: KINDS)."""


class UntrustedTypes(UsageError):
    """The model file needs types outside skops' defaults that were not passed with --trust."""


@dataclass(frozen=True)
class Column:
    """One input column: its name and MLflow type (double, long, string, ...)."""

    name: str
    type: str


def _flavor(model_dir: Path) -> dict:
    import yaml

    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        raise UsageError(f"{model_dir}: not an MLflow model folder (no MLmodel file)")
    doc = yaml.safe_load(mlmodel.read_text()) or {}
    flavor = (doc.get("flavors") or {}).get("sklearn")
    if not flavor:
        raise UsageError(f"{mlmodel}: no sklearn flavor; save the model with mlflow.sklearn.save_model")
    return flavor


def skops_file(model_dir: Path) -> Path:
    """The folder's skops model file; raises UsageError when it was saved another way (pickle runs code on load)."""
    flavor = _flavor(model_dir)
    if flavor.get("serialization_format") != "skops":
        raise UsageError(
            f"{model_dir / 'MLmodel'}: serialization_format is {flavor.get('serialization_format')!r}, not 'skops'; "
            "save it with mlflow.sklearn.save_model(..., serialization_format='skops'), or bring a joblib/pickle file "
            "in with `amlops model import`"
        )
    path = model_dir / str(flavor.get("pickled_model") or SKOPS_FILE)
    if not path.is_file():
        raise UsageError(f"{model_dir}: MLmodel names {path.name}, which is not in the folder")
    return path


def recorded_trust(model_dir: Path) -> list[str]:
    """The trusted types the folder's MLmodel records (empty when none)."""
    return list(_flavor(model_dir).get(TRUST_KEY) or [])


def needed_types(model_dir: Path) -> list[str]:
    """The types in the skops file outside skops' defaults (sorted): each one needs a reviewer's --trust."""
    from amlops.skopsimport import import_skops

    return sorted(import_skops().get_untrusted_types(file=skops_file(model_dir)))


def check_trust(model_dir: Path, trust: Iterable[str]) -> list[str]:
    """The types to record: exactly those the folder's skops file needs, each of which must be in `trust`."""
    return trusted_types(needed_types(model_dir), trust, skops_file(model_dir))


def trusted_types(needed: list[str], trust: Iterable[str], source: Path | str) -> list[str]:
    """`needed` (sorted), once every one of them is in `trust`.

    Raises UntrustedTypes listing the types not passed, and UsageError for a --trust the file
    does not need (a trusted list is an allow-list; nothing unneeded goes in it).
    """
    given = sorted(set(trust))
    missing = [t for t in needed if t not in given]
    if missing:
        flags = " ".join(f"--trust {t}" for t in missing)
        raise UntrustedTypes(
            f"{source} needs types outside skops' defaults: {', '.join(missing)}; "
            f"review them (they are loaded, not executed, but their code is what runs at predict), then pass {flags}"
        )
    unneeded = [t for t in given if t not in needed]
    if unneeded:
        raise UsageError(
            f"--trust {unneeded[0]}: {Path(source).name} does not use it "
            f"(types outside skops' defaults: {', '.join(needed) or 'none'})"
        )
    return sorted(needed)


def record_trust(model_dir: Path, types: list[str]) -> None:
    """Write `types` as the MLmodel's sklearn skops_trusted_types (null when empty), with MLflow's own writer."""
    from mlflow.models import Model

    mlmodel = model_dir / "MLmodel"
    model = Model.load(str(mlmodel))
    model.flavors["sklearn"][TRUST_KEY] = list(types) or None
    model.save(str(mlmodel))


def load(model_dir: Path) -> object:
    """The estimator, loaded by skops with exactly the trusted types the MLmodel records."""
    from amlops.skopsimport import import_skops

    return import_skops().load(skops_file(model_dir), trusted=recorded_trust(model_dir))


def columns(model_dir: Path, estimator: object | None = None) -> list[Column]:
    """The input columns: the MLflow signature's named columns, else the estimator's `feature_names_in_` (as double).

    Raises UsageError when neither names the columns or a column has a type the scripts do not take.
    """
    from mlflow.models import Model

    schema = Model.load(str(model_dir / "MLmodel")).get_input_schema()
    if schema is not None and schema.has_input_names() and not schema.is_tensor_spec():
        found = [Column(str(c.name), str(c.type.name) if hasattr(c.type, "name") else str(c.type)) for c in schema.inputs]
        bad = [c for c in found if c.type not in COLUMN_TYPES]
        if bad:
            raise UsageError(
                f"{model_dir / 'MLmodel'}: column {bad[0].name!r} has type {bad[0].type}; "
                f"the scoring and batch scripts take {', '.join(COLUMN_TYPES)}"
            )
        return found
    estimator = estimator if estimator is not None else load(model_dir)
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        raise UsageError(
            f"{model_dir}: no column names: no column signature in MLmodel and the model was fitted without feature names"
        )
    return [Column(str(n), "double") for n in names]


def example_row(model_dir: Path) -> list:
    """One row the model takes, for a `try:` line: the first row of its saved input example (MLflow's
    input_example.json, split orient), else 0 for each input column."""
    import json

    path = model_dir / "input_example.json"
    try:
        doc = json.loads(path.read_text())
        if isinstance(doc, dict) and isinstance(doc.get("data"), list) and doc["data"] and isinstance(doc["data"][0], list):
            return list(doc["data"][0])
    except (OSError, ValueError):
        pass
    return [0 for _ in columns(model_dir)]
