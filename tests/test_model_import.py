"""`amlops model import`: the book's joblib/pickle files become registered MLflow skops models with a signature."""

from __future__ import annotations

import hashlib
import pickle

import joblib
import pytest

from amlops import modelfile
from amlops.errors import UsageError
from amlops.importing import import_pickle
from amlops.registry import Registry
from cli_support import run_cli
from models_support import forest_frame, pipeline_frame

TREE = "sklearn.tree._tree.Tree"


@pytest.fixture(scope="module")
def loans_pkl(trained_model_dir, tmp_path_factory):
    """The loans LogisticRegression as the book saves it: joblib.dump(model, 'model.pkl')."""
    path = tmp_path_factory.mktemp("book") / "model.pkl"
    joblib.dump(modelfile.load(trained_model_dir), path)
    return path


def test_import_without_trust_pickle_is_refused_before_loading(loans_pkl, tmp_path):
    with pytest.raises(UsageError) as err:
        import_pickle(loans_pkl, tmp_path / "out", trust_pickle=False)
    assert str(err.value) == (
        f"{loans_pkl}: loading a joblib/pickle file runs whatever code it contains; pass --trust-pickle if you trust "
        "where it comes from (it is then saved as skops, which does not)"
    )
    assert not (tmp_path / "out").exists()


def test_cli_import_registers_with_signature_and_lineage(state, loans_pkl, capsys, monkeypatch):
    code, out, err = run_cli(
        capsys, monkeypatch, "model", "import", str(loans_pkl), "--name", "book-loans", "--trust-pickle",
        "--columns", "income:double,credit_cards:long,age:long",
    )
    assert code == 0, out + err
    digest = hashlib.sha256(loans_pkl.read_bytes()).hexdigest()
    assert f"imported {loans_pkl} (sha256 {digest[:12]}…, sklearn.linear_model._logistic.LogisticRegression)" in out
    assert "columns: income (double), credit_cards (long), age (long)" in out
    assert "registered book-loans:1 (accuracy unknown), the first version" in out
    v = Registry().get("book-loans", 1)
    assert (v.tags["imported_from"], v.tags["imported_sha256"], v.tags["serialization_format"]) == (str(loans_pkl.resolve()), digest, "skops")
    folder = Registry().download("book-loans", 1)
    assert modelfile.columns(folder) == [
        modelfile.Column("income", "double"), modelfile.Column("credit_cards", "long"), modelfile.Column("age", "long"),
    ]
    assert modelfile.skops_file(folder).name == "model.skops"


def test_import_names_come_from_feature_names_in_as_double(loans_pkl, tmp_path):
    imported = import_pickle(loans_pkl, tmp_path / "out", trust_pickle=True)
    assert [(c.name, c.type) for c in imported.columns] == [("income", "double"), ("credit_cards", "double"), ("age", "double")]
    assert imported.trusted == []


def test_import_tree_ensemble_needs_trust_for_its_tree_type(tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    x, y = forest_frame()
    path = tmp_path / "forest.pkl"
    with path.open("wb") as f:
        pickle.dump(RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(x, y), f)
    with pytest.raises(modelfile.UntrustedTypes, match=f"needs types outside skops' defaults: {TREE};"):
        import_pickle(path, tmp_path / "out", trust_pickle=True)
    imported = import_pickle(path, tmp_path / "out", trust_pickle=True, trust=[TREE])
    assert imported.trusted == [TREE] and modelfile.recorded_trust(imported.folder) == [TREE]
    assert len(imported.columns) == 30 and imported.columns[0] == modelfile.Column("mean radius", "double")
    # HistGradientBoosting needs other types: the message lists exactly those.
    hgb = tmp_path / "hgb.joblib"
    joblib.dump(HistGradientBoostingClassifier(max_iter=5).fit(x, y), hgb)
    with pytest.raises(modelfile.UntrustedTypes) as err:
        import_pickle(hgb, tmp_path / "hgb", trust_pickle=True)
    needed = str(err.value).split("defaults: ")[1].split(";")[0].split(", ")
    imported = import_pickle(hgb, tmp_path / "hgb", trust_pickle=True, trust=needed)
    assert imported.trusted == sorted(needed)


def test_import_pipeline_with_string_columns_needs_their_types(tmp_path):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    x, y = pipeline_frame()
    prep = ColumnTransformer([("num", "passthrough", ["income", "age"]), ("cat", OneHotEncoder(), ["region", "employment"])])
    path = tmp_path / "pipe.joblib"
    joblib.dump(Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))]).fit(x, y), path)
    with pytest.raises(UsageError) as err:
        import_pickle(path, tmp_path / "out", trust_pickle=True)
    assert str(err.value).startswith(
        f"{path}: the Pipeline cannot score a row typed income:double, age:double, region:double, employment:double ("
    )
    assert str(err.value).endswith("give each column's type with --columns NAME:TYPE,...")
    imported = import_pickle(path, tmp_path / "out", trust_pickle=True, columns="income,age:long,region:string,employment:string")
    assert [c.type for c in imported.columns] == ["double", "long", "string", "string"]


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: {"not": "a model"}, "holds a builtins.dict, not a scikit-learn estimator with predict"),
        (lambda: __import__("sklearn.linear_model").linear_model.LogisticRegression(), "the LogisticRegression is not fitted; fit it before saving"),
    ],
    ids=["not-an-estimator", "not-fitted"],
)
def test_import_refuses_what_is_not_a_fitted_estimator(tmp_path, make, message):
    path = tmp_path / "model.pkl"
    joblib.dump(make(), path)
    with pytest.raises(UsageError) as err:
        import_pickle(path, tmp_path / "out", trust_pickle=True)
    assert str(err.value) == f"{path}: {message}"


def test_import_model_without_feature_names_needs_columns_of_the_right_count(tmp_path):
    from sklearn.linear_model import LogisticRegression

    x, y = forest_frame()
    path = tmp_path / "model.pkl"
    joblib.dump(LogisticRegression(max_iter=50).fit(x.to_numpy()[:, :3], y), path)
    with pytest.raises(UsageError) as err:
        import_pickle(path, tmp_path / "out", trust_pickle=True)
    assert str(err.value) == (
        f"{path}: the LogisticRegression was fitted without column names; pass --columns NAME[:TYPE],... with its 3 columns in training order"
    )
    with pytest.raises(UsageError) as err:
        import_pickle(path, tmp_path / "out", trust_pickle=True, columns="a,b")
    assert str(err.value) == "--columns names 2 columns; the LogisticRegression was fitted on 3"
    with pytest.raises(UsageError) as err:
        import_pickle(path, tmp_path / "out", trust_pickle=True, columns="a,b,c:decimal")
    assert str(err.value) == "--columns 'c:decimal': type must be one of double, float, long, integer, boolean, string"
    imported = import_pickle(path, tmp_path / "out", trust_pickle=True, columns="a,b,c")
    assert [c.name for c in imported.columns] == ["a", "b", "c"]


def test_import_columns_that_differ_from_feature_names_are_refused(loans_pkl, tmp_path):
    with pytest.raises(UsageError) as err:
        import_pickle(loans_pkl, tmp_path / "out", trust_pickle=True, columns="age,income,credit_cards")
    assert str(err.value) == (
        "--columns age, income, credit_cards differ from the model's feature_names_in_: income, credit_cards, age"
    )
