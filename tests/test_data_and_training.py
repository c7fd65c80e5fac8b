"""The loans data is deterministic and learnable; training saves a skops MLflow model."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from amlops import data as data_mod
from amlops import training
from amlops.errors import DataError


def test_generation_is_deterministic_per_seed():
    a = data_mod.generate_loans(seed=42)
    b = data_mod.generate_loans(seed=42)
    c = data_mod.generate_loans(seed=43)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_generated_loans_have_the_books_columns_and_types():
    df = data_mod.generate_loans()
    assert list(df.columns) == ["income", "credit_cards", "age", "approved_loan"]
    assert len(df) == 500
    assert df["income"].dtype == "float64"
    assert df["credit_cards"].dtype == "int64" and df["age"].dtype == "int64"
    assert set(df["approved_loan"].unique()) == {0, 1}
    assert 0.3 < df["approved_loan"].mean() < 0.7  # both classes well represented
    assert df["age"].between(18, 75).all() and (df["income"] > 0).all()


def test_pending_loans_are_500_rows_doubled_ten_times(tmp_path):
    out = data_mod.generate_all(tmp_path)
    assert out.pending_csv.rows == 512_000
    assert pq.ParquetFile(out.pending_parquet.path).metadata.num_rows == 512_000
    head = pd.read_csv(out.pending_csv.path, nrows=1000)
    assert list(head.columns) == ["application_id", "income", "credit_cards", "age"]
    assert head["application_id"].tolist()[:2] == ["A0000001", "A0000002"] and head["application_id"].is_unique
    assert out.loans.digest == data_mod.file_digest(out.loans.path)


def test_validation_accuracy_above_0_7(tmp_path):
    ds = data_mod.write_csv(data_mod.generate_loans(), tmp_path / "loans.csv")
    model, facts = training.train(ds)
    assert facts.accuracy > 0.7
    assert (facts.train_rows, facts.validation_rows) == (400, 100)
    assert list(model.feature_names_in_) == ["income", "credit_cards", "age"]


def test_saved_model_is_mlflow_skops_with_signature(trained_model_dir):
    mlmodel = yaml.safe_load((trained_model_dir / "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "skops"
    assert (trained_model_dir / "model.skops").is_file()
    assert [c["name"] for c in __import__("json").loads(mlmodel["signature"]["inputs"])] == ["income", "credit_cards", "age"]
    facts = training.read_facts(trained_model_dir)
    assert facts["framework"] == "scikit-learn" and facts["accuracy"] > 0.7
    reqs = (trained_model_dir / "requirements.txt").read_text()
    assert "scikit-learn==" in reqs


def test_training_data_missing_column_names_file(tmp_path):
    path = tmp_path / "loans.csv"
    path.write_text("income,age,approved_loan\n1,2,1\n")
    with pytest.raises(DataError, match=r"loans.csv: missing column\(s\) credit_cards"):
        training.read_training_data(path)


def test_training_data_bad_value_names_line(tmp_path):
    path = tmp_path / "loans.csv"
    path.write_text("income,credit_cards,age,approved_loan\n1,2,30,1\n5,,40,0\n")
    with pytest.raises(DataError, match=r"loans.csv: line 3: empty or non-numeric value"):
        training.read_training_data(path)
