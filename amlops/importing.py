"""`amlops model import`: bring the book's joblib/pickle models in as MLflow skops models with a signature.

The book registers `model.pkl` files (`Model.register(..., model_framework=SCIKITLEARN)`). Loading
a pickle runs whatever code it holds, so it is done only when the caller says it trusts the file;
the result is saved in skops format (which loads without running code) with a column signature,
so that scoring/score.py and the batch scripts can serve it like any other registered model.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from amlops import modelfile
from amlops.data import file_digest
from amlops.errors import UsageError
from amlops.training import METADATA_KEY



@dataclass(frozen=True)
class ImportedModel:
    """What `import_pickle` saved: the folder, its columns, trusted types and the source's digest."""

    folder: Path
    columns: list[modelfile.Column]
    trusted: list[str]
    sha256: str
    estimator: str


def parse_columns(text: str) -> list[tuple[str, str | None]]:
    """`--columns a,b:long,c:string` → [(a, None), (b, long), (c, string)]; the type defaults to the model's."""
    out: list[tuple[str, str | None]] = []
    for item in text.split(","):
        name, sep, kind = item.strip().partition(":")
        if not name:
            raise UsageError(f"--columns takes NAME[:TYPE],... with no empty names, got {text!r}")
        if sep and kind not in modelfile.COLUMN_TYPES:
            raise UsageError(f"--columns {item.strip()!r}: type must be one of {', '.join(modelfile.COLUMN_TYPES)}")
        out.append((name, kind if sep else None))
    if len({n for n, _ in out}) != len(out):
        raise UsageError(f"--columns names a column twice: {text!r}")
    return out


def load_pickle(path: Path, *, trust_pickle: bool) -> object:
    """joblib.load the file (plain pickles included), only with the caller's explicit trust."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if not trust_pickle:
        raise UsageError(
            f"{path}: loading a joblib/pickle file runs whatever code it contains; "
            "pass --trust-pickle if you trust where it comes from (it is then saved as skops, which does not)"
        )
    import joblib
    from sklearn.exceptions import InconsistentVersionWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InconsistentVersionWarning)
        try:
            obj = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is the file's problem
            raise UsageError(f"{path}: cannot load as joblib/pickle: {type(exc).__name__}: {exc}") from None
    for w in caught:
        if isinstance(w.message, InconsistentVersionWarning):
            import sklearn

            raise UsageError(
                f"{path}: pickled by scikit-learn {w.message.original_sklearn_version}, this environment has "
                f"{sklearn.__version__}; a pickle is only valid under the version that wrote it: re-save it there or retrain"
            )
    return obj


def check_estimator(obj: object, path: Path) -> None:
    """A fitted scikit-learn estimator with predict, or UsageError saying what the file holds."""
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(obj, BaseEstimator) or not hasattr(obj, "predict"):
        raise UsageError(f"{path}: holds a {type(obj).__module__}.{type(obj).__name__}, not a scikit-learn estimator with predict")
    try:
        check_is_fitted(obj)
    except NotFittedError:
        raise UsageError(f"{path}: the {type(obj).__name__} is not fitted; fit it before saving") from None


def resolve_columns(obj: object, given: list[tuple[str, str | None]] | None, path: Path) -> list[modelfile.Column]:
    """Column names from `feature_names_in_` (checked against --columns when both exist), else from --columns."""
    names = getattr(obj, "feature_names_in_", None)
    width = getattr(obj, "n_features_in_", None)
    if names is None and given is None:
        raise UsageError(
            f"{path}: the {type(obj).__name__} was fitted without column names; "
            f"pass --columns NAME[:TYPE],... with its {width} columns in training order"
        )
    if given is not None:
        if width is not None and len(given) != width:
            raise UsageError(f"--columns names {len(given)} columns; the {type(obj).__name__} was fitted on {width}")
        if names is not None and [n for n, _ in given] != [str(n) for n in names]:
            raise UsageError(
                f"--columns {', '.join(n for n, _ in given)} differ from the model's feature_names_in_: "
                f"{', '.join(str(n) for n in names)}"
            )
        return [modelfile.Column(n, t or "double") for n, t in given]
    return [modelfile.Column(str(n), "double") for n in names]  # type: ignore[union-attr]


def _probe_frame(columns: list[modelfile.Column]):
    """One row of neutral values per (non-string) column type, to check the model accepts the declared types."""
    import numpy as np
    import pandas as pd

    values = {"double": 0.0, "float": 0.0, "long": 0, "integer": 0, "boolean": False}
    dtypes = {"double": np.float64, "float": np.float32, "long": np.int64, "integer": np.int32, "boolean": np.bool_}
    return pd.DataFrame({c.name: np.array([values[c.type]], dtype=dtypes[c.type]) for c in columns})


def import_pickle(
    path: Path,
    out_dir: Path,
    *,
    trust_pickle: bool,
    trust: Iterable[str] = (),
    columns: str | None = None,
) -> ImportedModel:
    """Load `path` (with trust), check it, and save it to `out_dir` as an MLflow skops model with a signature.

    Raises UsageError naming what is wrong: no trust flag, not a fitted estimator, no column names,
    --columns that disagree with the model, types skops needs that --trust does not name.
    """
    from amlops.skopsimport import import_skops

    import_skops()  # before MLflow's modules load (amlops.skopsimport)
    import mlflow.sklearn
    import skops.io
    import sklearn
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    from amlops.training import pip_requirements

    obj = load_pickle(path, trust_pickle=trust_pickle)
    check_estimator(obj, path)
    cols = resolve_columns(obj, parse_columns(columns) if columns else None, path)
    try:
        # A numeric row catches string columns left at the default type; with string columns
        # declared, a neutral string could be a category the model refuses, so no probe then.
        if all(c.type != "string" for c in cols):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj.predict(_probe_frame(cols))  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - the declared types do not fit the model
        raise UsageError(
            f"{path}: the {type(obj).__name__} cannot score a row typed {', '.join(f'{c.name}:{c.type}' for c in cols)} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); give each column's type with --columns NAME:TYPE,..."
        ) from None
    trusted = modelfile.trusted_types(sorted(skops.io.get_untrusted_types(data=skops.io.dumps(obj))), trust, path)
    digest = file_digest(path)
    signature = ModelSignature(inputs=Schema([ColSpec(c.type, c.name) for c in cols]))
    facts = {
        "framework": "scikit-learn",
        "framework_version": sklearn.__version__,
        "serialization_format": "skops",
        "imported_from": str(path.resolve()),
        "imported_sha256": digest,
        "estimator": f"{type(obj).__module__}.{type(obj).__name__}",
    }
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=out_dir.parent))
    try:
        mlflow.sklearn.save_model(
            obj, staging / "model", serialization_format="skops", skops_trusted_types=trusted or None,
            signature=signature, pip_requirements=pip_requirements(), metadata={METADATA_KEY: facts}  # registration reads these back as tags (training.read_facts),
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        (staging / "model").replace(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ImportedModel(out_dir, cols, trusted, digest, facts["estimator"])
