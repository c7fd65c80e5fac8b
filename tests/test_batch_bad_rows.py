"""Bad rows set aside, good rows scored, every row accounted for: `amlops batch split` and `amlops batch run` as users run them.

Issue 20: 8 unscorable cells in 100,000 rows used to cost 96% of the good rows under a green job.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest
import skops.io

from amlops.registry import Registry
from batch_support import HEADER, loans_csv
from cli_support import run_cli

BAD_CELLS = {
    1_002: ("A1000,abc,1,30", "income", "must be a number, got 'abc'"),
    12_346: ("A12344,5000,2.5,30", "credit_cards", "must be a whole number, got '2.5'"),
    25_001: ("A24999,,1,30", "income", "is empty"),
    40_000: ("A39998,5000,1,", "age", "is empty"),
    52_345: ("A52343,inf,1,30", "income", "must be a finite number, got 'inf'"),
    66_666: (f"A66664,5000,{2**63},30", "credit_cards", f"is outside the int64 range [{-(2**63)}, {2**63 - 1}], got '{2**63}'"),
    80_001: ("A79999,5000,1,30,extra", "", "has 5 field(s); the header names 4"),
    99_999: ("A99997,nan,1,30", "income", "must be a finite number, got 'nan'"),
}
"""File line → (the line's text, the column named, the reason): 8 unscorable rows among 100,000."""


def amlops(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, monkeypatch, *args)


@pytest.fixture
def table(tmp_path) -> Path:
    return loans_csv(tmp_path / "loans.csv", 100_000, {line: text for line, (text, _, _) in BAD_CELLS.items()})


@pytest.fixture
def registered(state, trained_model_dir) -> Registry:
    registry = Registry()
    registry.register("chapter12-loans", trained_model_dir)
    return registry


def predicted(model_dir: Path, frame: pd.DataFrame) -> list[int]:
    model = skops.io.load(model_dir / "model.skops", trusted=[])
    return [int(p) for p in model.predict(frame[["income", "credit_cards", "age"]])]


def test_batch_split_bad_rows_fail_by_default_naming_the_first_bad_lines(monkeypatch, capsys, registered, table, tmp_path):
    code, out, err = amlops(monkeypatch, capsys, "batch", "split", str(table), "--out", str(tmp_path / "parts"))
    assert code == 1 and not (tmp_path / "parts").exists() and not (tmp_path / "parts-rejects.csv").exists()
    assert re.fullmatch(
        rf"error: {re.escape(str(table))}: \d+ of the first [\d,]+ rows cannot be scored, more than --max-bad-rows 0 allows: "
        r"line 1002: column income must be a number, got 'abc'; line 12346: column credit_cards must be a whole number, got '2\.5'; .*"
        r"fix them, or set them aside into a rejects file with --max-bad-rows N or P%\n", err,
    ), err
    assert len(err.strip().splitlines()) == 1


def test_batch_split_then_run_scores_every_good_row_and_sets_8_bad_ones_aside(monkeypatch, capsys, registered, table, tmp_path, state, trained_model_dir):
    parts = tmp_path / "parts"
    code, out, err = amlops(monkeypatch, capsys, "batch", "split", str(table), "--out", str(parts), "--max-bad-rows", "8")
    rejects = tmp_path / "parts-rejects.csv"
    assert code == 0, err
    assert out.splitlines()[1] == f"8 of 100,000 rows set aside, not in the parts: {rejects}"
    assert out.splitlines()[0].startswith("99,992 rows in ")
    with rejects.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(int(r["line"]), r["column"], r["reason"]) for r in rows] == [(line, c, why) for line, (_, c, why) in sorted(BAD_CELLS.items())]
    assert {r["source"] for r in rows} == {str(table)}

    code, out, err = amlops(monkeypatch, capsys, "batch", "run", "--no-progress", "--input", str(parts), "--stack", "dev")
    assert code == 0, err
    assert "rows: 99,992 in, 99,992 scored, 0 rejected, 0 in failed files; files failed: 0" in out
    (written,) = state.rglob("predictions.csv")
    scored = pd.read_csv(written, header=None, names=["application_id", "prediction"])
    good = pd.read_csv(table, skiprows=[line - 1 for line in BAD_CELLS], dtype={"application_id": str})
    assert len(scored) == 99_992 and scored["application_id"].tolist() == good["application_id"].tolist()
    assert scored["prediction"].tolist() == predicted(trained_model_dir, good)


def test_batch_run_on_a_table_sets_bad_rows_aside_and_says_loudly_that_rows_were_not_scored(monkeypatch, capsys, state, table, tmp_path, trained_model_dir):
    code, out, err = amlops(monkeypatch, capsys, "batch", "run", "--no-progress", "--input", str(table), "--model-dir", str(trained_model_dir),
                            "--output", str(tmp_path / "out"), "--max-bad-rows", "0.01%", "--part-size", "512KB")
    assert code == 0, err
    (job,) = (state / "batch" / "dev" / "jobs").iterdir()
    loud = f"8 of 100,000 rows were NOT scored: 8 set aside as unscorable ({job / 'rejects.csv'})"
    assert out.splitlines()[0] == f"batch job SUCCEEDED WITH ROWS NOT SCORED: {loud}"
    assert "rows: 100,000 in, 99,992 scored, 8 rejected, 0 in failed files; files failed: 0" in out
    assert out.splitlines()[1].startswith(f"input {table} (cut into ") and "as `amlops batch split` does" in out
    assert f"warning: {loud}" in err
    assert len((tmp_path / "out" / "predictions.csv").read_text().splitlines()) == 99_992
    assert len((job / "rejects.csv").read_text().splitlines()) == 1 + 8 and not (job / "parts").exists()


def test_batch_run_on_a_table_beyond_max_bad_rows_runs_nothing(monkeypatch, capsys, state, table, tmp_path, trained_model_dir):
    code, out, err = amlops(monkeypatch, capsys, "batch", "run", "--no-progress", "--input", str(table), "--model-dir", str(trained_model_dir),
                            "--output", str(tmp_path / "out"), "--max-bad-rows", "7")
    assert code == 1 and out == ""
    assert err.startswith(f"error: {table}: 8 of the first ") and "more than --max-bad-rows 7 allows: line 1002: column income" in err
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_batch_run_integers_exact_end_to_end(monkeypatch, capsys, state, tmp_path, trained_model_dir):
    src = tmp_path / "ints.csv"
    src.write_text(HEADER + f"A1,5000,{2**63 - 1},30\nA2,5000,{-(2**63)},30\nA3,5000,{2**53 + 1},{-(2**63 - 1)}\nA4,-0.0,1,30\nA5,1e308,1,30\n")
    code, out, err = amlops(monkeypatch, capsys, "batch", "run", "--no-progress", "--input", str(src), "--model-dir", str(trained_model_dir),
                            "--output", str(tmp_path / "out"))
    assert code == 0, err
    scored = pd.read_csv(tmp_path / "out" / "predictions.csv", header=None, names=["application_id", "prediction"])
    expected = pd.read_csv(src, dtype={"income": "float64", "credit_cards": "int64", "age": "int64"})
    assert scored["prediction"].tolist() == predicted(trained_model_dir, expected)
    assert scored["prediction"][0] != predicted(trained_model_dir, expected.assign(credit_cards=-(2**63)))[0]  # what wrapping gave


def test_batch_non_utf8_is_one_line_naming_file_line_and_byte_in_split_and_run(monkeypatch, capsys, state, tmp_path, trained_model_dir):
    src = tmp_path / "latin1.csv"
    src.write_bytes((HEADER + "A1,5000,1,30\nJos\xe9,5000,1,30\n").encode("latin-1"))
    byte = len(HEADER) + len("A1,5000,1,30\nJos") + 1
    said = (f"{src}: line 3, byte {byte}: 0xe9 is not UTF-8; convert the file to UTF-8, "
            "or cut it with `amlops batch split --encoding ENCODING` (e.g. latin-1)")
    model = ("--model-dir", str(trained_model_dir))
    split = amlops(monkeypatch, capsys, "batch", "split", str(src), "--out", str(tmp_path / "parts"), *model)
    run = amlops(monkeypatch, capsys, "batch", "run", "--no-progress", "--input", str(src), *model, "--output", str(tmp_path / "o"))
    assert split[0] == run[0] == 1 and split[2] == run[2] == f"error: {said}\n"
    code, out, err = amlops(monkeypatch, capsys, "batch", "split", str(src), "--out", str(tmp_path / "parts"), *model, "--encoding", "latin-1")
    assert code == 0, err
    (part,) = (tmp_path / "parts").iterdir()
    assert pd.read_csv(part)["application_id"].tolist() == ["A1", "José"]


def test_batch_run_unreadable_file_fails_alone_counted_and_not_retried(monkeypatch, capsys, state, tmp_path, trained_model_dir):
    folder = tmp_path / "in"
    for n in range(3):
        loans_csv(folder / f"part-{n}.csv", 4, start=10 * n)
    real = Path.read_bytes

    def read_bytes(path: Path) -> bytes:  # what a file without read permission gives (root reads through chmod 000)
        if path.name == "part-1.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)  # the forked workers inherit it
    code, out, err = amlops(monkeypatch, capsys, "batch", "run", "--no-progress", "--input", str(folder), "--model-dir", str(trained_model_dir),
                            "--output", str(tmp_path / "out"), "--mini-batch-size", "3")
    assert code == 0, err
    assert "mini-batches: 1 created, 1 processed, 0 failed (0 retries, 0 timeouts, 0 worker deaths)" in out
    assert "files: 2 succeeded, 1 failed; 2 elements returned" in out
    assert "rows: 8 in, 8 scored, 0 rejected, 0 in failed files; files failed: 1" in out  # its rows cannot be counted either
    (job,) = (state / "batch" / "dev" / "jobs").iterdir()
    assert out.splitlines()[0] == f"batch job SUCCEEDED WITH ROWS NOT SCORED: rows were NOT scored: the rows of 1 failed file(s) ({job}/errors.log)"
    logs = "".join(p.read_text() for p in job.rglob("worker*.log"))
    assert f"{folder / 'part-1.csv'}: cannot be read (Permission denied); the file fails alone and is not retried" in logs
    assert len((tmp_path / "out" / "predictions.csv").read_text().splitlines()) == 8


def test_batch_run_summary_counts_records_not_lines(monkeypatch, capsys, state, tmp_path, trained_model_dir):
    src = tmp_path / "notes.csv"
    src.write_text("application_id,income,credit_cards,age\n" + "".join(f'"two\nlines {i}",5000,1,30\n' for i in range(10)))
    code, out, err = amlops(monkeypatch, capsys, "batch", "run", "--no-progress", "--input", str(src), "--model-dir", str(trained_model_dir),
                            "--output", str(tmp_path / "out"))
    assert code == 0, err
    assert "rows: 10 in, 10 scored, 0 rejected, 0 in failed files; files failed: 0" in out


def test_batch_split_sets_aside_values_a_tree_ensemble_refuses_and_run_fails_no_file(monkeypatch, capsys, state, tmp_path):
    """A tree ensemble computes in float32: 1e308 is finite but the forest refuses it, which used to fail a whole part
    (retried 3 times) after the split called the row scorable. The split probes the model's bound and sets the row aside."""
    from models_support import forest_case, forest_frame

    case = forest_case(tmp_path / "forest")
    x = forest_frame()[0].head(200).copy()
    columns = list(x.columns)
    x.loc[7, columns[0]] = 1e308
    x.loc[150, columns[29]] = -3.5e38
    x.loc[90, columns[3]] = 3.4e38  # within float32: scored
    table = tmp_path / "cancer.csv"
    x.insert(0, "application_id", [f"C{i:03d}" for i in range(len(x))])
    x.to_csv(table, index=False)
    model = ("--model-dir", str(case.folder))
    code, out, err = amlops(monkeypatch, capsys, "batch", "split", str(table), "--out", str(tmp_path / "parts"), *model,
                            "--max-bad-rows", "2", "--part-size", "8KB")
    assert code == 0, err
    bound = "from -3.4028234663852886e+38 to 3.4028234663852886e+38 (what the model takes)"
    with (tmp_path / "parts-rejects.csv").open() as fh:
        assert [(r["line"], r["column"], r["reason"]) for r in csv.DictReader(fh)] == [
            ("9", columns[0], f"must be a number {bound}, got '1e+308'"),
            ("152", columns[29], f"must be a number {bound}, got '-3.5e+38'"),
        ]
    code, out, err = amlops(monkeypatch, capsys, "batch", "run", "--no-progress", "--input", str(tmp_path / "parts"), *model,
                            "--output", str(tmp_path / "out"), "--mini-batch-size", "2")
    assert code == 0, err
    assert out.splitlines()[0] == "batch job SUCCEEDED"
    assert "rows: 198 in, 198 scored, 0 rejected, 0 in failed files; files failed: 0" in out and "(0 retries," in out
    scored = pd.read_csv(tmp_path / "out" / "predictions.csv", header=None, names=["application_id", "prediction"])
    good = x.drop(index=[7, 150])
    forest = skops.io.load(case.folder / "model.skops", trusted=list(case.trust))
    assert scored["application_id"].tolist() == good["application_id"].tolist()
    assert scored["prediction"].tolist() == forest.predict(good[columns]).tolist()


def test_batch_run_a_file_the_model_refuses_fails_alone_and_is_not_retried(monkeypatch, capsys, state, tmp_path):
    """A refusal by the model itself (here an unknown category under OneHotEncoder(handle_unknown="error")) is the file's
    content, as deterministic as a bad cell: it fails that file only, not its mini-batch's other files, and no retry."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from models_support import pipeline_frame, save_mlflow

    x, y = pipeline_frame()
    prep = ColumnTransformer([("numbers", "passthrough", ["income", "age"]), ("strings", OneHotEncoder(), ["region", "employment"])])
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))]).fit(x, y)
    folder = save_mlflow(model, x, tmp_path / "strict")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for n in range(3):
        part = x.iloc[10 * n:10 * n + 10].assign(application_id=[f"P{n}-{i}" for i in range(10)])
        if n == 1:
            part.loc[part.index[4], "region"] = "central"
        part.to_csv(inputs / f"part-{n}.csv", index=False)
    code, out, err = amlops(monkeypatch, capsys, "batch", "run", "--no-progress", "--input", str(inputs), "--model-dir", str(folder),
                            "--output", str(tmp_path / "out"), "--mini-batch-size", "3")
    assert code == 0, err
    assert "mini-batches: 1 created, 1 processed, 0 failed (0 retries, 0 timeouts, 0 worker deaths)" in out
    assert "rows: 30 in, 20 scored, 0 rejected, 10 in failed files; files failed: 1" in out
    (job,) = (state / "batch" / "dev" / "jobs").iterdir()
    logs = "".join(p.read_text() for p in job.rglob("worker*.log"))
    assert f"{inputs / 'part-1.csv'}: the model refused its rows: Found unknown categories ['central']" in logs
    scored = pd.read_csv(tmp_path / "out" / "predictions.csv", header=None, names=["application_id", "prediction"])
    assert scored["application_id"].tolist() == [f"P{n}-{i}" for n in (0, 2) for i in range(10)]


def header_only_inputs(folder: Path) -> Path:
    """part-0: 5 rows, part-1: a header and no rows (an empty partition), part-2: 4 rows."""
    loans_csv(folder / "part-0.csv", 5)
    (folder / "part-1.csv").write_text(HEADER)
    loans_csv(folder / "part-2.csv", 4, start=10)
    return folder


def test_batch_run_header_only_file_succeeds_with_no_rows_and_no_blank_line(monkeypatch, capsys, state, tmp_path, trained_model_dir):
    inputs = header_only_inputs(tmp_path / "in")
    code, out, err = amlops(monkeypatch, capsys, "batch", "run", "--no-progress", "--input", str(inputs), "--model-dir", str(trained_model_dir),
                            "--output", str(tmp_path / "out"), "--mini-batch-size", "3")
    assert code == 0, err
    assert out.splitlines()[0] == "batch job SUCCEEDED" and "warning" not in err
    assert "rows: 9 in, 9 scored, 0 rejected, 0 in failed files; files failed: 0; 1 header-only file(s): no rows" in out
    assert "files: 3 succeeded, 0 failed; 3 elements returned" in out
    written = (tmp_path / "out" / "predictions.csv").read_text()
    assert len(written.splitlines()) == 9 and "\n\n" not in written and not written.startswith("\n")


def test_batch_run_header_only_file_alone_in_its_mini_batch_counts_failed_as_in_azure_but_is_told_apart(
        monkeypatch, capsys, state, tmp_path, trained_model_dir, stacks_copy):
    """miniBatchSize 1: nothing can carry the empty file's element without a blank line, so it is left out and Azure
    counts it failed; the summary names it header-only, not a failure, and errorThreshold counts it as Azure does."""
    inputs = header_only_inputs(tmp_path / "in")
    args = ("batch", "run", "--no-progress", "--input", str(inputs), "--model-dir", str(trained_model_dir), "--mini-batch-size", "1")
    code, out, err = amlops(monkeypatch, capsys, *args, "--output", str(tmp_path / "out"))
    assert code == 0, err
    assert out.splitlines()[0] == "batch job SUCCEEDED" and "warning" not in err  # every row was scored
    assert ("rows: 9 in, 9 scored, 0 rejected, 0 in failed files; files failed: 0; 1 header-only file(s): no rows, 1 of them "
            "counted failed as Azure counts them: their mini-batch had fewer rows than files") in out
    assert "files: 2 succeeded, 1 failed; 2 elements returned" in out
    assert "\n\n" not in (tmp_path / "out" / "predictions.csv").read_text()

    stack = stacks_copy / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("errorThreshold: -1", "errorThreshold: 0"))
    from amlops import stackfile

    real = stackfile.load_stack
    monkeypatch.setattr(stackfile, "load_stack", lambda stack: real(stack, stacks_copy))
    code, out, err = amlops(monkeypatch, capsys, *args, "--output", str(tmp_path / "out2"))
    assert code == 1
    assert "error_threshold exceeded: 1 files failed (among them 1 header-only file(s): no rows, 1 of them counted failed" in err


def test_batch_run_files_mode_counts_rows_of_the_outputs_whatever_the_stacks_output_action(monkeypatch, capsys, state, tmp_path, trained_model_dir):
    """dev's outputAction is append_row: `--mode files` then also appends run()'s returned paths to predictions.csv, as
    Azure would; rows scored are still the records of the per-file outputs, not those path lines, and a header-only
    file (its output holds the header) is no failure. Two inputs share a stem in different folders; one file is gone."""
    inputs = tmp_path / "in"
    loans_csv(inputs / "a" / "p.csv", 5)
    loans_csv(inputs / "b" / "p.csv", 4, start=10)
    (inputs / "b" / "empty.csv").write_text(HEADER)
    (inputs / "b" / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    out_dir = tmp_path / "out"
    code, out, err = amlops(monkeypatch, capsys, "batch", "run", "--no-progress", "--input", str(inputs), "--model-dir", str(trained_model_dir),
                            "--output", str(out_dir), "--mode", "files", "--mini-batch-size", "4")
    assert code == 0, err
    assert "rows: 9 in, 9 scored, 0 rejected, 0 in failed files; files failed: 1; 1 header-only file(s): no rows\n" in out
    assert "files: 3 succeeded, 1 failed; 3 elements returned" in out
    (job,) = (state / "batch" / "dev" / "jobs").iterdir()
    assert out.splitlines()[0] == f"batch job SUCCEEDED WITH ROWS NOT SCORED: rows were NOT scored: the rows of 1 failed file(s) ({job}/errors.log)"
    outputs = sorted(p.name for p in out_dir.glob("*-*.csv"))
    assert len(outputs) == 3 and sum(n.startswith("p-") for n in outputs) == 2
    assert sorted((out_dir / "predictions.csv").read_text().splitlines()) == sorted(
        str(inputs / f) for f in ("a/p.csv", "b/p.csv", "b/empty.csv"))


def test_batch_split_writes_values_unquoted_where_none_needs_quotes_and_keeps_every_value_as_spelled(tmp_path):
    """Parts are plain CSV when no value holds a delimiter, quote or line break, quoted otherwise, and a table of
    one column stays quoted (an empty value unquoted would be an empty line, which readers skip): read back as
    strings, every part holds the source's values exactly."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from amlops.batching.split import split

    def strings(path: Path) -> list[list[str]]:
        names = path.read_text().splitlines()[0].replace('"', "").split(",")
        opts = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False)
        return pacsv.read_csv(path, convert_options=opts, parse_options=pacsv.ParseOptions(newlines_in_values=True)).to_pylist()

    cases = {
        "plain": ('id,x\nA1, 5 \nA2,\nA3,NA\n', True),
        "needs quotes": ('id,x\nA1,"a,b"\nA2,"say ""hi"""\nA3,"two\nlines"\n', False),
        "one column": ('id\nA1\n""\nA3\n', False),
    }
    for name, (text, plain) in cases.items():
        source = tmp_path / f"{name}.csv"
        source.write_text(text)
        result = split(source, tmp_path / name, 1 << 20)
        (part,) = result.parts
        body = part.read_bytes().split(b"\n", 1)[1]
        assert (b'"' not in body) is plain, (name, part.read_bytes())
        assert strings(part) == strings(source), name
