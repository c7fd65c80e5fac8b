"""The batch entry scripts, called exactly as an Azure batch model deployment calls them: init(), then run(list of file paths).

Azure's contract (https://learn.microsoft.com/azure/machine-learning/how-to-batch-scoring-script):
AZUREML_MODEL_DIR names the model folder, run() gets a list of file paths and returns one
element per file it processed; custom outputs go to AZUREML_BI_OUTPUT_PATH.
"""

from __future__ import annotations

import io
import ast
import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest
import skops.io
import yaml

from amlops.paths import BATCH_DIR

HEADER = "application_id,income,credit_cards,age\n"


def load(name: str):
    """Import a batch script fresh, with batch/ on the path as Azure runs it from the code folder."""
    sys.path.insert(0, str(BATCH_DIR))
    try:
        for mod in ("tables", "model_loader", name):
            sys.modules.pop(mod, None)
        spec = importlib.util.spec_from_file_location(name, BATCH_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BATCH_DIR))


@pytest.fixture
def azure_env(monkeypatch, trained_model_dir, tmp_path):
    """What Azure sets for the scoring script of a batch model deployment."""
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(trained_model_dir.parent))  # the model folder sits below it
    out = tmp_path / "azure-output"
    out.mkdir()
    monkeypatch.setenv("AZUREML_BI_OUTPUT_PATH", str(out))
    monkeypatch.delenv("AMLOPS_ID_COLUMNS", raising=False)
    return out


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def predictions(model_dir: Path, frame: pd.DataFrame) -> list[int]:
    model = skops.io.load(model_dir / "model.skops", trusted=[])
    return [int(p) for p in model.predict(frame[["income", "credit_cards", "age"]])]


def test_tabular_batch_run_takes_a_list_of_paths_and_returns_one_element_per_file(azure_env, trained_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOPS_ID_COLUMNS", "application_id")
    tabular = load("tabular_batch")
    tabular.init()
    a = write(tmp_path / "a.csv", HEADER + "A1,5000.5,1,30\nA2,2500,6,19\n")
    b = write(tmp_path / "b.csv", HEADER + "B1,9000,0,60\n")
    result = tabular.run([a, b])
    frame = pd.read_csv(a)
    assert len(result) == 2  # one element per file: Azure counts items per file
    assert result[0].splitlines() == [f"\"A{i + 1}\",{p}" for i, p in enumerate(predictions(trained_model_dir, frame))]
    assert result[1].splitlines() == [f"\"B1\",{predictions(trained_model_dir, pd.read_csv(b))[0]}"]


def test_tabular_batch_bad_file_left_out_so_azure_counts_it_failed(azure_env, tmp_path, caplog):
    tabular = load("tabular_batch")
    tabular.init()
    good = write(tmp_path / "good.csv", HEADER + "A1,5000,1,30\n")
    bad = write(tmp_path / "bad.csv", HEADER + "A1,5000,1,30\n\nA2,abc,1,30\n")
    empty = write(tmp_path / "empty.csv", "")
    result = tabular.run([good, bad, empty])
    assert len(result) == 1
    assert f"{bad}: line 4: column income must be a number, got 'abc' (1 such row(s) in the file)" in caplog.text
    assert f"{empty}: line 1: empty; a CSV needs a header line naming its columns" in caplog.text


def test_tabular_batch_quoted_newline_and_cr_line_ends_keep_every_row(azure_env, tmp_path):
    tabular = load("tabular_batch")
    tabular.init()
    quoted = write(tmp_path / "q.csv", 'note,income,credit_cards,age\n"two\nlines",5000,1,30\nplain,6000,2,40\n')
    cr = tmp_path / "cr.csv"
    cr.write_bytes(b"income,credit_cards,age\r5000,1,30\r6000,2,40\r")
    result = tabular.run([quoted, str(cr)])
    assert len(result) == 2
    assert pd.read_csv(io.StringIO(result[0]), header=None)[0].tolist() == ["two\nlines", "plain"]
    assert len(result[1].splitlines()) == 2


def test_tabular_batch_header_only_file_succeeds_with_no_rows(azure_env, tmp_path):
    tabular = load("tabular_batch")
    tabular.init()
    assert tabular.run([write(tmp_path / "h.csv", HEADER)]) == [""]


def test_tabular_batch_whole_numbers_required_for_integer_features(azure_env, tmp_path, caplog):
    tabular = load("tabular_batch")
    tabular.init()
    frac = write(tmp_path / "frac.csv", HEADER + "A1,5000,1,30\nA2,5000,2.5,30\n")
    huge = write(tmp_path / "huge.csv", HEADER + f"A1,5000,1,{2**64}\n")
    assert tabular.run([frac, huge]) == []
    assert f"{frac}: line 3: column credit_cards must be a whole number, got '2.5'" in caplog.text
    assert f"{huge}: line 2: column age must be a whole number, got '{2**64}'" in caplog.text


def test_tabular_batch_columns_in_another_order_are_matched_by_name(azure_env, trained_model_dir, tmp_path):
    tabular = load("tabular_batch")
    tabular.init()
    path = write(tmp_path / "o.csv", "age,credit_cards,income\n30,1,5000.5\n19,6,2500\n")
    frame = pd.read_csv(path)
    out = pd.read_csv(io.StringIO(tabular.run([path])[0]), header=None)
    assert out[3].tolist() == predictions(trained_model_dir, frame)


def test_tabular_batch_parquet_rows_named_from_one(azure_env, tmp_path, caplog):
    tabular = load("tabular_batch")
    tabular.init()
    path = tmp_path / "p.parquet"
    pd.DataFrame({"income": [5000.0, float("nan")], "credit_cards": [1, 2], "age": [30, 40]}).to_parquet(path)
    assert tabular.run([str(path)]) == []
    assert f"{path}: row 2: column income must be a number, got 'nan'" in caplog.text


def test_file_batch_writes_one_output_per_input_to_azure_output_path(azure_env, trained_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOPS_ID_COLUMNS", "application_id")
    files = load("file_batch")
    files.init()
    a = write(tmp_path / "a.csv", HEADER + "A1,5000.5,1,30\nA2,2500,6,19\n")
    bad = write(tmp_path / "bad.csv", "income\n1\n")
    assert files.run([a, bad]) == [a]
    written = pd.read_csv(azure_env / "a.csv")
    assert written.columns.tolist() == ["application_id", "prediction"]
    assert written["prediction"].tolist() == predictions(trained_model_dir, pd.read_csv(a))
    assert sorted(p.name for p in azure_env.iterdir()) == ["a.csv"]


def test_file_batch_init_without_output_path_names_the_variable(azure_env, monkeypatch):
    monkeypatch.delenv("AZUREML_BI_OUTPUT_PATH")
    files = load("file_batch")
    with pytest.raises(RuntimeError, match="AZUREML_BI_OUTPUT_PATH is not set; Azure sets it to the batch job's output folder"):
        files.init()


def test_batch_init_without_model_dir_names_the_variable(monkeypatch):
    monkeypatch.delenv("AZUREML_MODEL_DIR", raising=False)
    tabular = load("tabular_batch")
    with pytest.raises(RuntimeError, match="AZUREML_MODEL_DIR is not set; Azure sets it to the deployment's model folder"):
        tabular.init()


def test_batch_init_refuses_types_nobody_reviewed_naming_them_and_the_setting(trained_model_dir, tmp_path, monkeypatch):
    import shutil

    from sklearn.ensemble import RandomForestClassifier

    folder = tmp_path / "m"
    shutil.copytree(trained_model_dir, folder)
    x = pd.DataFrame({"income": [1.0, 2.0], "credit_cards": [1, 2], "age": [3, 4]})
    skops.io.dump(RandomForestClassifier(n_estimators=2).fit(x, [0, 1]), folder / "model.skops")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(folder))
    tabular = load("tabular_batch")
    with pytest.raises(RuntimeError, match=r"holds types nobody reviewed: sklearn\.tree\._tree\.Tree; review them, then register the model again with `amlops model register --trust TYPE`"):
        tabular.init()
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    meta["flavors"]["sklearn"]["skops_trusted_types"] = ["sklearn.tree._tree.Tree"]
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))
    tabular.init()  # exactly the recorded types: loads
    path = write(tmp_path / "x.csv", "income,credit_cards,age\n1,1,3\n")
    assert len(tabular.run([path])) == 1


@pytest.mark.parametrize("name", ["tabular_batch.py", "file_batch.py", "tables.py", "model_loader.py"])
def test_batch_script_imports_only_runtime_dependencies(name):
    allowed = {"__future__", "csv", "ctypes", "dataclasses", "json", "logging", "os", "pathlib", "warnings",
               "numpy", "pandas", "pyarrow", "skops", "yaml", "model_loader", "tables"}
    tree = ast.parse((BATCH_DIR / name).read_text())
    imported = set()
    for node in ast.walk(tree):  # every import, at any depth, not only lines that start with `import`
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported - allowed == set(), f"batch/{name} imports {sorted(imported - allowed)}"
