"""The batch entry scripts under Azure's contract: init() once, then run() per mini-batch (no runner involved)."""

from __future__ import annotations

import importlib.util
import shutil
import sys

import pandas as pd
import pytest
import skops.io

from amlops import data as data_mod
from amlops.paths import BATCH_DIR


def load(name: str, monkeypatch):
    monkeypatch.syspath_prepend(str(BATCH_DIR))
    spec = importlib.util.spec_from_file_location(name, BATCH_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def model(trained_model_dir):
    return skops.io.load(trained_model_dir / "model.skops", trusted=[])


@pytest.fixture
def tabular(trained_model_dir, monkeypatch):
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(trained_model_dir))
    module = load("tabular_batch", monkeypatch)
    module.init()
    return module


def test_tabular_batch_books_row_gets_approved_column(tabular, model):
    frame = pd.DataFrame({"income": [7298.0], "credit_cards": [2], "age": [35]})
    out = tabular.run(frame)
    expected = int(model.predict(frame)[0])
    assert out.to_numpy().tolist() == [[7298.0, 2, 35, expected]]
    assert list(out.columns) == ["income", "credit_cards", "age", "approved"]


def test_tabular_batch_poison_rows_left_out_with_index_kept(tabular, model):
    frame = pd.DataFrame(
        {"income": ["5000", "abc", "", "4000.5", "7000"], "credit_cards": ["1", "2", "3", "2.5", "4"], "age": ["30", "40", "50", "60", "inf"]}
    )
    out = tabular.run(frame)
    assert list(out.index) == [0]
    clean = pd.DataFrame({"income": [5000.0], "credit_cards": [1], "age": [30]})
    assert out.to_numpy().tolist() == [[5000.0, 1, 30, int(model.predict(clean)[0])]]


def test_tabular_batch_missing_column_raises_naming_it(tabular):
    with pytest.raises(ValueError) as err:
        tabular.run(pd.DataFrame({"income": [1.0], "age": [30]}))
    assert str(err.value) == "mini-batch lacks column(s) credit_cards; expected income, credit_cards, age, got income, age"


def test_tabular_batch_model_found_below_nested_folder(trained_model_dir, tmp_path, monkeypatch):
    shutil.copytree(trained_model_dir, tmp_path / "chapter12-loans" / "1" / "model")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    module = load("tabular_batch", monkeypatch)
    module.init()
    assert module.run(pd.DataFrame({"income": [7298.0], "credit_cards": [2], "age": [35]})).shape == (1, 4)


def test_tabular_batch_init_without_model_dir_raises(monkeypatch):
    monkeypatch.delenv("AZUREML_MODEL_DIR", raising=False)
    module = load("tabular_batch", monkeypatch)
    with pytest.raises(RuntimeError) as err:
        module.init()
    assert str(err.value) == "AZUREML_MODEL_DIR is not set; Azure sets it to the deployment's model folder"


def test_tabular_batch_init_without_mlmodel_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    module = load("tabular_batch", monkeypatch)
    with pytest.raises(RuntimeError) as err:
        module.init()
    assert str(err.value) == f"AZUREML_MODEL_DIR={tmp_path}: no MLflow model folder (MLmodel file) below it"


def test_file_batch_summarises_each_file_and_leaves_out_bad_ones(trained_model_dir, tmp_path, monkeypatch, model):
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(trained_model_dir))
    module = load("file_batch", monkeypatch)
    module.init()
    loans = data_mod.generate_loans(40, seed=3)[list(data_mod.FEATURES)]
    good_csv = data_mod.write_csv(loans, tmp_path / "a.csv").path
    good_parquet = data_mod.write_parquet(loans.head(10), tmp_path / "b.parquet").path
    bad = tmp_path / "c.csv"
    bad.write_text("income,age\n1,2\n")
    out = module.run([str(good_csv), str(bad), str(good_parquet)])
    assert out == [
        [str(good_csv), f"{int(model.predict(loans).sum())}/40 approved"],
        [str(good_parquet), f"{int(model.predict(loans.head(10)).sum())}/10 approved"],
    ]
