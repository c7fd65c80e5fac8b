"""Any scikit-learn model goes through batch unchanged: the loans LogisticRegression, a tree ensemble (trusted types
from its MLmodel) and a ColumnTransformer pipeline over numbers and strings, in both modes, with no edit under batch/."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import skops.io
import yaml

from amlops import data as data_mod
from amlops.batching.split import split
from batch_support import job
from models_support import CASES, forest_frame, pipeline_frame

IDS = {"environment_variables": {"AMLOPS_ID_COLUMNS": "row_id"}}


def frame_for(name: str) -> pd.DataFrame:
    """Rows to score, shaped as the model was trained, each with a row id."""
    if name == "forest":
        x = forest_frame()[0]
    elif name == "pipeline":
        x = pipeline_frame(rows=300, seed=11)[0]
    else:
        x = data_mod.generate_loans(300, seed=3)[list(data_mod.FEATURES)]
    return x.assign(row_id=[f"R{i:05d}" for i in range(len(x))])[["row_id", *x.columns]]


def expected(model_dir: Path, frame: pd.DataFrame) -> list[str]:
    meta = yaml.safe_load((model_dir / "MLmodel").read_text())["flavors"]["sklearn"]
    model = skops.io.load(model_dir / "model.skops", trusted=meta.get("skops_trusted_types") or [])
    return [str(p) for p in model.predict(frame.drop(columns="row_id"))]


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, tmp_path_factory):
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    model = CASES[name](folder)
    frame = frame_for(name)
    table = folder / "table.csv"
    frame.to_csv(table, index=False)
    parts = split(table, folder / "parts", 8 * 1024).folder
    return name, model, frame, parts


def test_batch_tabular_mode_scores_every_model_by_its_signature(case, tmp_path):
    name, model, frame, parts = case
    result, out, _ = job(tmp_path, model.folder, parts, mini_batch_size=3, **IDS)
    assert (result.status, result.counts.items_failed) == ("SUCCEEDED", 0), result.first_errors
    written = pd.read_csv(out / "predictions.csv", header=None, names=["row_id", "prediction"], dtype=str)
    assert written["row_id"].tolist() == frame["row_id"].tolist(), name
    assert written["prediction"].tolist() == expected(model.folder, frame), name


def test_batch_files_mode_writes_each_models_predictions_per_file(case, tmp_path):
    name, model, frame, parts = case
    result, out, _ = job(tmp_path, model.folder, parts, mode="files", output_action="summary_only", **IDS)
    assert (result.status, result.counts.items_failed) == ("SUCCEEDED", 0), result.first_errors
    written = pd.concat([pd.read_csv(p, dtype=str) for p in sorted(out.glob("part-*.csv"))], ignore_index=True)
    assert written.columns.tolist() == ["row_id", "prediction"], name
    assert written["row_id"].tolist() == frame["row_id"].tolist(), name
    assert written["prediction"].tolist() == expected(model.folder, frame), name


def test_batch_whole_rows_kept_as_spelled_when_no_id_columns(case, tmp_path):
    name, model, frame, parts = case
    result, out, _ = job(tmp_path, model.folder, parts)
    first = sorted(parts.iterdir())[0]
    lines = (out / "predictions.csv").read_text().splitlines()
    source = pd.read_csv(first, dtype=str, keep_default_na=False)
    head = pd.read_csv(io.StringIO("\n".join(lines[: len(source)])), header=None, dtype=str, keep_default_na=False)
    assert head.iloc[:, :-1].values.tolist() == source.values.tolist(), name


def test_batch_scores_a_model_whose_signature_lists_its_columns_in_another_order(tmp_path):
    """A signature written (or inferred) from the columns in another order than the fit's: the rows reach the model
    in its own order, by name, where a frame in the signature's order is refused by scikit-learn."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    x = data_mod.generate_loans(300, seed=3)
    features = list(data_mod.FEATURES)
    model = LogisticRegression(max_iter=1000).fit(x[features], x[data_mod.LABEL])
    mlflow.sklearn.save_model(model, tmp_path / "model", serialization_format="skops",
                              signature=infer_signature(x[features[::-1]], model.predict(x[features])))
    frame = frame_for("loans")
    frame.to_csv(tmp_path / "table.csv", index=False)
    result, out, _ = job(tmp_path, tmp_path / "model", tmp_path / "table.csv", mini_batch_size=3, **IDS)
    assert (result.status, result.counts.items_failed) == ("SUCCEEDED", 0), result.first_errors
    written = pd.read_csv(out / "predictions.csv", header=None, names=["row_id", "prediction"], dtype=str)
    assert written["prediction"].tolist() == expected(tmp_path / "model", frame)
