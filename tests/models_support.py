"""Kinds of scikit-learn model saved the way users bring them: MLflow folders in skops format with a
signature. Plain helpers (not fixtures), so the scoring, registry and batch tests build the same models.

- `loans_case`: the book's LogisticRegression (float + int columns; no extra trusted types).
- `forest_case`: a RandomForestClassifier on scikit-learn's bundled breast-cancer data (30 float columns
  whose names have spaces; needs `sklearn.tree._tree.Tree` trusted).
- `pipeline_case`: a Pipeline of a ColumnTransformer (scaled numbers, one-hot strings) and a
  LogisticRegression (needs a DataFrame; string labels).
- `ridge_case`: a Ridge regressor on scikit-learn's bundled diabetes data (no predict_proba; float outputs
  that overflow to Infinity on extreme inputs).
- `iris_case`: a multiclass LogisticRegression on scikit-learn's bundled iris data with string labels
  (three probabilities per row, NaN on extreme inputs).
- `members_case`: a Pipeline of a strict OneHotEncoder (unknown categories refused) over a string and a
  boolean column and a GradientBoostingClassifier, saved as the README shows (no input example): only
  the categories it was fitted with score.

Each returns a ModelCase: the folder, the --trust list its registration needs, and sample records.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ModelCase:
    """A saved model and what a test needs to use it."""

    name: str
    folder: Path
    trust: tuple[str, ...]
    """The types `amlops model register --trust` must name (beyond skops' defaults)."""
    records: list[dict]
    """Sample rows as JSON records, in the signature's column order."""
    columns: tuple[str, ...]

    @property
    def rows(self) -> list[list]:
        """The sample rows as arrays in column order."""
        return [[r[c] for c in self.columns] for r in self.records]


def save_mlflow(estimator: object, frame: pd.DataFrame, out_dir: Path, trusted: tuple[str, ...] = ()) -> Path:
    """Save as an MLflow skops model with a signature inferred from `frame` (what a user's training script does)."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from amlops.training import pip_requirements

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signature = infer_signature(frame, estimator.predict(frame))  # type: ignore[attr-defined]
        mlflow.sklearn.save_model(
            estimator, out_dir, serialization_format="skops", signature=signature,
            pip_requirements=pip_requirements(), skops_trusted_types=list(trusted) or None,
        )
    return out_dir


def _records(frame: pd.DataFrame, n: int = 3) -> list[dict]:
    return [{c: (v.item() if hasattr(v, "item") else v) for c, v in row.items()} for row in frame.head(n).to_dict("records")]


def loans_case(folder: Path) -> ModelCase:
    """The loans LogisticRegression, trained by amlops.training on 500 generated loans."""
    from amlops import data as data_mod
    from amlops import training

    folder.mkdir(parents=True, exist_ok=True)
    ds = data_mod.write_csv(data_mod.generate_loans(), folder / "loans.csv")
    model, facts = training.train(ds)
    out = training.save_model(model, facts, folder / "model")
    records = [{"income": 2000.0, "credit_cards": 2, "age": 45}, {"income": 9000.5, "credit_cards": 1, "age": 60}]
    return ModelCase("loans", out, (), records, ("income", "credit_cards", "age"))


def forest_frame() -> tuple[pd.DataFrame, pd.Series]:
    """scikit-learn's bundled breast-cancer data (no download): 569 rows, 30 named float columns."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    return bunch.data, bunch.target


def forest_case(folder: Path) -> ModelCase:
    """A small RandomForestClassifier: a tree ensemble, whose Tree objects skops does not trust by default."""
    from sklearn.ensemble import RandomForestClassifier

    x, y = forest_frame()
    model = RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0).fit(x, y)
    trust = ("sklearn.tree._tree.Tree",)
    out = save_mlflow(model, x, folder / "model", trust)
    return ModelCase("cancer", out, trust, _records(x), tuple(x.columns))


def pipeline_frame(rows: int = 400, seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    """Applicants with numeric and string columns; the label is a string ("approve" / "decline")."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "income": rng.normal(4000, 1500, rows).round(2),
        "age": rng.integers(18, 80, rows).astype(np.int64),
        "region": rng.choice(["north", "south", "east", "west"], rows),
        "employment": rng.choice(["salaried", "self-employed", "retired"], rows),
    })
    score = frame["income"] / 1000 - (frame["region"] == "south") * 1.5 + (frame["employment"] == "salaried") * 1.0
    label = pd.Series(np.where(score > 4, "approve", "decline"), name="decision")
    return frame, label


def pipeline_case(folder: Path) -> ModelCase:
    """Pipeline(ColumnTransformer(numbers scaled, strings one-hot), LogisticRegression): needs a DataFrame."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x, y = pipeline_frame()
    prep = ColumnTransformer([
        ("numbers", StandardScaler(), ["income", "age"]),
        ("strings", OneHotEncoder(handle_unknown="ignore"), ["region", "employment"]),
    ])
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))]).fit(x, y)
    out = save_mlflow(model, x, folder / "model")
    return ModelCase("applicants", out, (), _records(x), tuple(x.columns))


def ridge_case(folder: Path) -> ModelCase:
    """Ridge on scikit-learn's bundled diabetes data (no download): 442 rows, 10 float columns, a float target."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    bunch = load_diabetes(as_frame=True)
    out = save_mlflow(Ridge(alpha=0.5).fit(bunch.data, bunch.target), bunch.data, folder / "model")
    return ModelCase("diabetes", out, (), _records(bunch.data), tuple(bunch.data.columns))


def iris_case(folder: Path) -> ModelCase:
    """A multiclass LogisticRegression on scikit-learn's bundled iris data, labelled by species name."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    bunch = load_iris(as_frame=True)
    x = bunch.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    y = bunch.target.map(dict(enumerate(bunch.target_names)))
    out = save_mlflow(LogisticRegression(max_iter=1000).fit(x, y), x, folder / "model")
    return ModelCase("iris", out, (), _records(x.iloc[[0, 60, 120]]), tuple(x.columns))


def members_frame(rows: int = 600, seed: int = 11) -> tuple[pd.DataFrame, pd.Series]:
    """Customers with a float, a boolean, a string and an integer column; the label is "yes" / "no"."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "amount": rng.gamma(2.0, 100.0, rows),
        "member": rng.random(rows) > 0.5,
        "city": rng.choice(["paris", "lyon", "nice"], rows),
        "visits": rng.integers(0, 50, rows).astype(np.int64),
    })
    label = pd.Series(np.where((frame["amount"] > 200) ^ frame["member"] | (frame["city"] == "nice"), "yes", "no"), name="buys")
    return frame, label


def members_case(folder: Path) -> ModelCase:
    """Pipeline(ColumnTransformer(strict OneHotEncoder over city and member, the rest passed through),
    GradientBoostingClassifier), saved without an input example: "" or "text" in city is refused."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    x, y = members_frame()
    prep = ColumnTransformer([("categories", OneHotEncoder(), ["city", "member"])], remainder="passthrough")
    model = Pipeline([("prep", prep), ("trees", GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0))]).fit(x, y)
    trust = ("sklearn.tree._tree.Tree",)
    out = save_mlflow(model, x, folder / "model", trust)
    return ModelCase("members", out, trust, _records(x), tuple(x.columns))


CASES = {"loans": loans_case, "forest": forest_case, "pipeline": pipeline_case}
"""The classifiers, by name: `CASES[kind](folder)` builds and saves one (the batch tests score each)."""
SERVED_CASES = CASES | {"ridge": ridge_case, "iris": iris_case, "members": members_case}
"""Every kind the serving tests serve: the classifiers, a regressor, a multiclass classifier and a strict encoder."""
