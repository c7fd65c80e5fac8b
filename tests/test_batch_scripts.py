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
    assert result[0].splitlines() == [f"A{i + 1},{p}" for i, p in enumerate(predictions(trained_model_dir, frame))]
    assert result[1].splitlines() == [f"B1,{predictions(trained_model_dir, pd.read_csv(b))[0]}"]


def test_tabular_batch_ids_are_written_unquoted_unless_they_need_quotes(azure_env, tmp_path, monkeypatch):
    """Output rows are plain CSV; an id holding a delimiter, quote or line break is quoted (the file's rows, and
    only that file's), so every id reads back as it was written."""
    monkeypatch.setenv("AMLOPS_ID_COLUMNS", "application_id")
    tabular = load("tabular_batch")
    tabular.init()
    plain = write(tmp_path / "plain.csv", HEADER + "A1,5000,1,30\n")
    odd = write(tmp_path / "odd.csv", HEADER + '"A,2",5000,1,30\n"say ""A3""",5000,1,30\n"A\n4",5000,1,30\n')
    first, second = tabular.run([plain, odd])
    assert first.startswith("A1,")
    back = pd.read_csv(io.StringIO(second + "\n"), header=None, names=["id", "prediction"])
    assert back["id"].tolist() == ["A,2", 'say "A3"', "A\n4"] and second.startswith('"A,2",')


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


def test_tabular_batch_header_only_file_succeeds_carried_by_another_files_rows_never_a_blank_line(azure_env, tmp_path, caplog):
    caplog.set_level("INFO")
    tabular = load("tabular_batch")
    tabular.init()
    header_only = write(tmp_path / "h.csv", HEADER)
    good = write(tmp_path / "g.csv", HEADER + "A1,5000,1,30\nA2,6000,2,40\nA3,7000,3,50\n")
    result = tabular.run([header_only, good])
    assert len(result) == 2 and "" not in result  # two succeeded items; append_row writes each element plus a line break
    assert "".join(f"{e}\n" for e in result) == "".join(f"{e}\n" for e in tabular.run([good]))  # the same bytes
    assert f"{header_only}: holds a header but no rows: nothing to score; counted as succeeded" in caplog.text


def test_tabular_batch_header_only_file_in_a_mini_batch_with_fewer_rows_than_files_is_left_out(azure_env, tmp_path, caplog):
    tabular = load("tabular_batch")
    tabular.init()
    header_only = write(tmp_path / "h.csv", HEADER)
    one = write(tmp_path / "one.csv", HEADER + "A1,5000,1,30\n")
    assert tabular.run([header_only]) == []  # [""] would be a blank line in the output
    (element,) = tabular.run([header_only, one])
    assert element == tabular.run([one])[0]
    assert f"{header_only}: holds a header but no rows, and its mini-batch has fewer rows than files: left out" in caplog.text


EXACT = {"credit_cards": [2**63 - 1, -(2**63 - 1), -(2**63), 2**53 + 1, 0], "age": [30, 2**53 + 1, 40, -(2**63), 2**63 - 1]}


def test_tabular_batch_integers_reach_the_model_exactly_as_pandas_reads_them(azure_env, trained_model_dir, tmp_path):
    tabular = load("tabular_batch")
    tabular.init()
    seen = []
    estimator = tabular.model.estimator
    real = estimator.predict
    estimator.predict = lambda x: (seen.append(x.copy()), real(x))[1]
    incomes = ["1e308", "-0.0", "5000.5", "1.7976931348623157e308", "-1e308"]
    rows = "".join(f"A{i},{incomes[i]},{EXACT['credit_cards'][i]},{EXACT['age'][i]}\n" for i in range(5))
    path = write(tmp_path / "exact.csv", HEADER + rows)
    result = tabular.run([path])
    expected = pd.read_csv(path, dtype={"income": "float64", "credit_cards": "int64", "age": "int64"})
    (got,) = seen
    assert got["credit_cards"].tolist() == EXACT["credit_cards"] and got["age"].tolist() == EXACT["age"]
    assert got.dtypes.astype(str).tolist() == ["float64", "int64", "int64"]
    assert got["income"].tolist() == expected["income"].tolist() and str(got["income"][1]) == "-0.0"
    out = pd.read_csv(io.StringIO(result[0]), header=None)
    assert out[4].tolist() == predictions(trained_model_dir, expected)  # 2**63-1 is scored as itself, not as -2**63


@pytest.mark.parametrize("value, reason", [
    (str(2**63), f"is outside the int64 range [{-(2**63)}, {2**63 - 1}], got '{2**63}'"),
    (str(-(2**63) - 1), f"is outside the int64 range [{-(2**63)}, {2**63 - 1}], got '{-(2**63) - 1}'"),
    ("1e308", f"is outside the int64 range [{-(2**63)}, {2**63 - 1}], got '1e308'"),
    ("2.5", "must be a whole number, got '2.5'"),
    ("0x10", "must be a whole number, got '0x10'"),
    ("0X10", "must be a whole number, got '0X10'"),
    ("", "is empty"),
])
def test_tabular_batch_integer_outside_int64_refused_naming_file_line_and_column(azure_env, tmp_path, caplog, value, reason):
    tabular = load("tabular_batch")
    tabular.init()
    path = write(tmp_path / "big.csv", HEADER + "A1,5000,1,30\n" + f"A2,5000,{value},30\n")
    assert tabular.run([path]) == []
    assert f"{path}: line 3: column credit_cards {reason} (1 such row(s) in the file)" in caplog.text


SPELLINGS = [
    "12", "+12", "007", "-0", " 12", "12 ", "1e3", "0x10", "0X1F", "x10", " 0x10", "2.0", "2.5", str(2**63 - 1), str(2**63), str(-(2**63)),
    str(-(2**63) - 1), "", "NA", "nan", "NaN", "inf", "-Infinity", "1_000", "\u0661\u0662", "1,000", "1e308", "1e309",
    "1.7976931348623157e308", "-0.0", "5000.5", "4.9e-324", "\t7", "true",
]


@pytest.mark.parametrize("column", ["income", "credit_cards", "age"])
def test_tabular_batch_with_id_columns_reads_every_spelling_as_the_string_read_does(azure_env, tmp_path, caplog, monkeypatch, column):
    """With id columns set, a CSV is first read with its numbers typed in one pass (tables.csv_typed). Whatever a
    value's spelling, the file must score to the same bytes, or be refused with the same message, as when it is
    read as strings and converted by `check` (the path without id columns, and the one every message comes from)."""
    monkeypatch.setenv("AMLOPS_ID_COLUMNS", "application_id")
    tabular = load("tabular_batch")
    tabular.init()
    namespace = tabular.score.__globals__  # batch/tables.py, as the script imported it
    typed_read, taken = namespace["csv_typed"], []
    monkeypatch.setitem(namespace, "csv_typed", lambda *a: (taken.append(typed_read(*a)), taken[-1])[1])

    def scored(value: str, typed: bool) -> tuple[list[str], list[str]]:
        row = {"application_id": "A2", "income": "5000", "credit_cards": "1", "age": "30", column: value}
        path = tmp_path / f"{column}.csv"
        path.write_text(HEADER + '"A1","5000","1","30"\n' + ",".join(f'"{v}"' for v in row.values()) + "\n")
        if not typed:
            monkeypatch.setitem(namespace, "csv_typed", lambda *a: None)
        caplog.clear()
        out = tabular.run([str(path)])
        return out, [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]

    for value in SPELLINGS:
        one_pass = scored(value, typed=True)
        as_strings = scored(value, typed=False)
        monkeypatch.setitem(namespace, "csv_typed", lambda *a: (taken.append(typed_read(*a)), taken[-1])[1])
        assert one_pass == as_strings, value
    plain = [v for v, t in zip(SPELLINGS, taken) if t is not None]
    differ = {"0x10", "0X1F"} | ({"2.0", "1e3"} if column != "income" else set())  # hex; whole numbers spelled as floats
    assert {"12", " 12", "007"} <= set(plain) and not differ & set(plain), plain  # taken, and not where it could differ


def test_tabular_batch_empty_cell_is_reported_as_empty_not_nan(azure_env, tmp_path, caplog):
    tabular = load("tabular_batch")
    tabular.init()
    path = write(tmp_path / "e.csv", HEADER + "A1,,1,30\n")
    assert tabular.run([path]) == []
    assert f"{path}: line 2: column income is empty (1 such row(s) in the file)" in caplog.text
    assert "nan" not in caplog.text


def test_tabular_batch_non_utf8_file_is_one_line_naming_file_line_and_byte(azure_env, tmp_path, caplog):
    tabular = load("tabular_batch")
    tabular.init()
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "A1,5000,1,30\nJos\xe9,5000,1,30\n").encode("latin-1"))
    assert tabular.run([str(path)]) == []
    byte = len(HEADER) + len("A1,5000,1,30\nJos") + 1
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage() == (
        f"{path}: line 3, byte {byte}: 0xe9 is not UTF-8; convert the file to UTF-8, "
        "or cut it with `amlops batch split --encoding ENCODING` (e.g. latin-1)"
    )


def test_batch_scripts_unreadable_file_fails_alone_without_raising(azure_env, tmp_path, caplog, monkeypatch):
    """Azure counts items from run()'s result; an exception would fail (and retry) the whole mini-batch."""
    tabular = load("tabular_batch")
    tabular.init()
    a = write(tmp_path / "a.csv", HEADER + "A1,5000,1,30\n")
    locked = write(tmp_path / "locked.csv", HEADER + "A2,5000,1,30\n")
    b = write(tmp_path / "b.csv", HEADER + "A3,5000,1,30\n")
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: (_ for _ in ()).throw(PermissionError(13, "Permission denied", str(p))) if p.name == "locked.csv" else real(p))
    gone = str(tmp_path / "gone.csv")
    result = tabular.run([a, locked, gone, b])
    assert [r.split(",")[0] for r in result] == ["A1", "A3"]
    assert f"{locked}: cannot be read (Permission denied); the file fails alone and is not retried" in caplog.text
    assert f"{gone}: cannot be read (No such file or directory)" in caplog.text


def test_tabular_batch_whole_numbers_required_for_integer_features(azure_env, tmp_path, caplog):
    tabular = load("tabular_batch")
    tabular.init()
    frac = write(tmp_path / "frac.csv", HEADER + "A1,5000,1,30\nA2,5000,2.5,30\n")
    huge = write(tmp_path / "huge.csv", HEADER + f"A1,5000,1,{2**64}\n")
    assert tabular.run([frac, huge]) == []
    assert f"{frac}: line 3: column credit_cards must be a whole number, got '2.5'" in caplog.text
    assert f"{huge}: line 2: column age is outside the int64 range [{-(2**63)}, {2**63 - 1}], got '{2**64}'" in caplog.text


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
    assert f"{path}: row 2: column income is empty" in caplog.text


def test_file_batch_writes_one_output_per_input_to_azure_output_path(azure_env, trained_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AMLOPS_ID_COLUMNS", "application_id")
    files = load("file_batch")
    files.init()
    a = write(tmp_path / "a.csv", HEADER + "A1,5000.5,1,30\nA2,2500,6,19\n")
    bad = write(tmp_path / "bad.csv", "income\n1\n")
    assert files.run([a, bad]) == [a]
    (output,) = azure_env.iterdir()
    written = pd.read_csv(output)
    assert output.name == files.output_name(a) and output.name.startswith("a-")
    assert written.columns.tolist() == ["application_id", "prediction"]
    assert written["prediction"].tolist() == predictions(trained_model_dir, pd.read_csv(a))


def test_file_batch_never_overwrites_an_output_nor_azures_summary_file(azure_env, tmp_path, monkeypatch):
    """Two inputs with one stem in different folders, and an input named like Azure's summary file (predictions.csv),
    scored in separate mini-batches as separate nodes would: every output survives under a name of its own."""
    monkeypatch.setenv("AMLOPS_ID_COLUMNS", "application_id")
    files = load("file_batch")
    files.init()
    (tmp_path / "jan").mkdir()
    (tmp_path / "feb").mkdir()
    jan = write(tmp_path / "jan" / "loans.csv", HEADER + "J1,5000,1,30\n")
    feb = write(tmp_path / "feb" / "loans.csv", HEADER + "F1,5000,1,30\n")
    named = write(tmp_path / "predictions.csv", HEADER + "P1,5000,1,30\n")
    summary = azure_env / "predictions.csv"
    summary.write_text("azure's own summary\n")
    for path in (jan, feb, named, jan):  # the last: a retried mini-batch rewrites its own file
        assert files.run([path]) == [path]
    outputs = sorted(p for p in azure_env.iterdir() if p != summary)
    assert len(outputs) == 3 and summary.read_text() == "azure's own summary\n"
    assert sorted(pd.read_csv(p)["application_id"][0] for p in outputs) == ["F1", "J1", "P1"]


def test_file_batch_init_without_output_path_names_the_variable(azure_env, monkeypatch):
    monkeypatch.delenv("AZUREML_BI_OUTPUT_PATH")
    files = load("file_batch")
    with pytest.raises(RuntimeError, match="AZUREML_BI_OUTPUT_PATH is not set and no --output_folder argument was given; Azure sets the first to the batch job's output folder"):
        files.init()


def test_batch_init_without_model_dir_names_the_variable(monkeypatch):
    monkeypatch.delenv("AZUREML_MODEL_DIR", raising=False)
    tabular = load("tabular_batch")
    with pytest.raises(RuntimeError, match="AZUREML_MODEL_DIR is not set and no --model_folder argument was given; Azure sets the first in a batch deployment"):
        tabular.init()


@pytest.fixture
def parallel_step(monkeypatch, trained_model_dir, tmp_path):
    """What a scheduled parallel step gives the script (infra/schedule.py): no AZUREML_MODEL_DIR nor
    AZUREML_BI_OUTPUT_PATH, but program arguments, among the driver's own (parse_known_args skips those)."""
    for var in ("AZUREML_MODEL_DIR", "AZUREML_BI_OUTPUT_PATH", "AMLOPS_ID_COLUMNS"):
        monkeypatch.delenv(var, raising=False)
    out = tmp_path / "step-output"
    out.mkdir()
    monkeypatch.setattr(sys, "argv", ["driver/amlbi_main.py", "--error_threshold", "-1", "--model_folder", str(trained_model_dir.parent),
                                      "--output_folder", str(out), "--logging_level", "INFO"])
    return out


def test_tabular_batch_as_a_scheduled_parallel_step_scores_one_element_per_file(parallel_step, trained_model_dir, tmp_path):
    tabular = load("tabular_batch")
    tabular.init()
    a = write(tmp_path / "a.csv", HEADER + "A1,5000.5,1,30\nA2,2500,6,19\n")
    b = write(tmp_path / "b.csv", HEADER + "B1,700,2,44\n")
    returned = tabular.run([a, b])
    assert len(returned) == 2 and [len(e.splitlines()) for e in returned] == [2, 1]
    expected = predictions(trained_model_dir, pd.concat([pd.read_csv(a), pd.read_csv(b)]))
    assert [int(line.rsplit(",", 1)[1]) for e in returned for line in e.splitlines()] == expected


def test_file_batch_as_a_scheduled_parallel_step_writes_into_its_output_folder(parallel_step, tmp_path):
    files = load("file_batch")
    files.init()
    a = write(tmp_path / "a.csv", HEADER + "A1,5000.5,1,30\n")
    assert files.run([a]) == [a]
    assert [p.name for p in parallel_step.iterdir()] == [files.output_name(a)]


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
    allowed = {"__future__", "argparse", "csv", "ctypes", "dataclasses", "hashlib", "io", "json", "logging", "os", "pathlib", "sys", "typing", "warnings",
               "numpy", "pandas", "pyarrow", "skops", "yaml", "model_loader", "tables"}
    tree = ast.parse((BATCH_DIR / name).read_text())
    imported = set()
    for node in ast.walk(tree):  # every import, at any depth, not only lines that start with `import`
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported - allowed == set(), f"batch/{name} imports {sorted(imported - allowed)}"
