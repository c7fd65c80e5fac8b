"""The quickstart's second model: a Ridge regressor on scikit-learn's bundled diabetes data (442 rows,
10 float columns, no download), saved as an MLflow skops model with a signature and an input example,
the way a user's training script saves one."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

NAME = "diabetes-ridge"
"""Its registered name."""
ID_COLUMN = "patient_id"
"""The id column its batch endpoint passes through (amlops:models.diabetes.batch.idColumns)."""


def train(out_dir: Path, seed: int = 42) -> tuple[Path, float]:
    """Fit Ridge(alpha=0.5) on 80% of the rows and save it to `out_dir` (replaced whole); (folder, held-out R²)."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import train_test_split

    from amlops.training import pip_requirements

    bunch = load_diabetes(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(bunch.data, bunch.target, test_size=0.2, random_state=seed)
    model = Ridge(alpha=0.5).fit(x_train, y_train)
    r2 = float(model.score(x_test, y_test))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            model, out_dir, serialization_format="skops", signature=infer_signature(x_train, model.predict(x_train)),
            input_example=x_test.head(5), pip_requirements=pip_requirements(),
        )
    return out_dir, r2


def patients(rows: int = 200):
    """The first `rows` diabetes rows with a `patient_id` column first: a batch input for its endpoint."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True).data.head(rows)
    return data.assign(**{ID_COLUMN: range(100_000, 100_000 + len(data))})[[ID_COLUMN, *data.columns]]
