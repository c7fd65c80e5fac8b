"""Train the book's loans model and save it as an MLflow model folder (skops, no pickle)."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amlops.data import FEATURES, LABEL, Dataset
from amlops.errors import DataError

SPLIT_SEED = 42
VALIDATION_FRACTION = 0.2
SERIALIZATION_FORMAT = "skops"
"""skops loads without running code (pickle runs whatever the file says); recorded in MLmodel."""
METADATA_KEY = "amlops"
"""Key under MLmodel's `metadata` where training facts (accuracy, lineage) are kept."""


@dataclass(frozen=True)
class TrainingFacts:
    """What registration records about a trained model."""

    accuracy: float
    framework: str
    framework_version: str
    serialization_format: str
    dataset_path: str
    dataset_digest: str
    dataset_rows: int
    train_rows: int
    validation_rows: int
    split_seed: int


def read_training_data(path: Path) -> pd.DataFrame:
    """Read the labelled loans CSV; raises DataError naming the file and the missing columns."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read as CSV: {exc}") from None
    missing = [c for c in (*FEATURES, LABEL) if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join((*FEATURES, LABEL))}")
    bad = frame[list((*FEATURES, LABEL))].isna().any(axis=1)
    if bad.any():
        row = int(bad.idxmax()) + 2  # 1-based, after the header line
        raise DataError(f"{path}: line {row}: empty or non-numeric value")
    return frame


def train(dataset: Dataset) -> tuple[object, TrainingFacts]:
    """The book's steps: 80/20 split (seed 42), LogisticRegression on named columns, accuracy."""
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    frame = read_training_data(dataset.path)
    x = frame[list(FEATURES)]
    y = frame[LABEL].astype(np.int64)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=VALIDATION_FRACTION, random_state=SPLIT_SEED
    )
    model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    accuracy = float(model.score(x_val, y_val))
    facts = TrainingFacts(
        accuracy=round(accuracy, 6),
        framework="scikit-learn",
        framework_version=sklearn.__version__,
        serialization_format=SERIALIZATION_FORMAT,
        dataset_path=str(dataset.path),
        dataset_digest=dataset.digest,
        dataset_rows=dataset.rows,
        train_rows=len(x_train),
        validation_rows=len(x_val),
        split_seed=SPLIT_SEED,
    )
    return model, facts


def pip_requirements() -> list[str]:
    """Exact pins for the model's environment (inferring them costs ≈ 6 s)."""
    import numpy
    import pandas
    import sklearn
    import skops

    return [
        f"scikit-learn=={sklearn.__version__}",
        f"skops=={skops.__version__}",
        f"numpy=={numpy.__version__}",
        f"pandas=={pandas.__version__}",
    ]


def save_model(model: object, facts: TrainingFacts, out_dir: Path) -> Path:
    """Save as an MLflow model folder (signature, input example, skops), replacing out_dir whole."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    example = pd.DataFrame({"income": [2000.0], "credit_cards": [2], "age": [45]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signature = infer_signature(example, model.predict(example))  # type: ignore[attr-defined]
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model-", dir=out_dir.parent))
    target = staging / "model"
    mlflow.sklearn.save_model(
        model,
        target,
        serialization_format=SERIALIZATION_FORMAT,
        signature=signature,
        input_example=example,
        pip_requirements=pip_requirements(),
        metadata={METADATA_KEY: asdict(facts)},
    )
    if out_dir.exists():
        shutil.rmtree(out_dir)
    target.replace(out_dir)
    shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def read_facts(model_dir: Path) -> dict:
    """The training facts recorded in a model folder's MLmodel (empty if it has none)."""
    import yaml

    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        raise DataError(f"{model_dir}: not an MLflow model folder (no MLmodel file)")
    doc = yaml.safe_load(mlmodel.read_text()) or {}
    return dict((doc.get("metadata") or {}).get(METADATA_KEY) or {})
