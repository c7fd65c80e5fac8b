"""The quickstart's second model: a Ridge regressor on scikit-learn's bundled diabetes data (442 rows,
10 float columns, no download), saved as an MLflow skops model with a signature and an input example,
the way a user's training script saves one, and with the lineage the loans model records (its training
rows written to a CSV whose path and digest registration keeps: the monitor's reference data)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

NAME = "diabetes-ridge"
"""Its registered name."""
ID_COLUMN = "patient_id"
"""The id column its batch endpoint passes through (amlops:models.diabetes.batch.idColumns)."""
TARGET = "progression"
"""The label column of its training CSV (scikit-learn's `target`: disease progression one year after baseline);
the monitor's targetColumn, so score.py names its model_outputs column the same."""
TRAINING_CSV = "diabetes-training.csv"
"""Its training rows (features and label) under the data folder: what its registration records as dataset_path."""
SPLIT_SEED = 42


def load():
    """(features, label) of scikit-learn's diabetes data as it ships (features mean-centred and scaled)."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True)
    return bunch.data, bunch.target


def train(out_dir: Path, seed: int = SPLIT_SEED, data_path: Path | None = None) -> tuple[Path, float]:
    """Fit Ridge(alpha=0.5) on 80% of the rows and save it to `out_dir` (replaced whole); (folder, held-out R²).

    The training rows go to `data_path` (default TRAINING_CSV in the data folder), and the model's MLmodel
    metadata records that file's path, digest and row count, as the loans model's does (amlops.training), so
    registration tags the version with its training data and `amlops monitor run` finds its reference."""
    import mlflow.sklearn
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import train_test_split

    from amlops.data import write_csv
    from amlops.paths import data_dir
    from amlops.training import METADATA_KEY, SERIALIZATION_FORMAT, pip_requirements

    x, y = load()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed)
    dataset = write_csv(x_train.assign(**{TARGET: y_train}), data_path or data_dir() / TRAINING_CSV)
    model = Ridge(alpha=0.5).fit(x_train, y_train)
    r2 = float(model.score(x_test, y_test))
    facts = {
        "r2": round(r2, 6), "framework": "scikit-learn", "framework_version": sklearn.__version__,
        "serialization_format": SERIALIZATION_FORMAT, "dataset_path": str(dataset.path), "dataset_digest": dataset.digest,
        "dataset_rows": dataset.rows, "train_rows": len(x_train), "validation_rows": len(x_test), "split_seed": seed,
    }
    if out_dir.exists():
        shutil.rmtree(out_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            model, out_dir, serialization_format=SERIALIZATION_FORMAT, signature=infer_signature(x_train, model.predict(x_train)),
            input_example=x_test.head(5), pip_requirements=pip_requirements(), metadata={METADATA_KEY: facts},
        )
    return out_dir, r2


def features(rows: int | None = None, seed: int = 0):
    """The diabetes features (10 float columns): all 442 rows in order, or `rows` of them drawn without replacement
    with `seed` (requests from its training distribution)."""
    data = load()[0]
    return data if rows is None else data.sample(rows, random_state=seed).reset_index(drop=True)


def patients(rows: int = 200):
    """The first `rows` diabetes rows with a `patient_id` column first: a batch input for its endpoint."""
    data = load()[0].head(rows)
    return data.assign(**{ID_COLUMN: range(100_000, 100_000 + len(data))})[[ID_COLUMN, *data.columns]]
