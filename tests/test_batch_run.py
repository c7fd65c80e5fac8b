"""`amlops batch run` through its library API: agreement with model.predict, each setting, the reports."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv
import pytest
import skops.io
from rich.console import Console

from amlops import data as data_mod
from amlops.batching import BatchSettings, JobSpec, from_config, run_job
from amlops.batching.reports import COLUMNS
from amlops.errors import UsageError
from amlops.stackfile import load_stack

FEATURES = list(data_mod.FEATURES)


def job(tmp_path: Path, model_dir: Path, input: Path, **settings) -> tuple:
    out = tmp_path / "out"
    spec = JobSpec(input=input, output_dir=out, settings=BatchSettings(**settings), model_dir=model_dir, progress=False)
    result = run_job(spec, console=Console(file=io.StringIO()))
    return result, out


def processed(out: Path) -> list[dict]:
    with (out / "processed_mini-batches.csv").open() as fh:
        return list(csv.DictReader(fh))


def expected_rows(model_dir: Path, frame: pd.DataFrame) -> Counter:
    model = skops.io.load(model_dir / "model.skops", trusted=[])
    scored = frame[FEATURES].assign(approved=model.predict(frame[FEATURES]))
    return Counter(map(tuple, scored.astype(float).to_numpy().tolist()))


def output_rows(path: Path) -> Counter:
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(autogenerate_column_names=True))
    return Counter(map(tuple, table.to_pandas().astype(float).to_numpy().tolist()))


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return data_mod.pending_loans(data_mod.generate_loans(500, seed=7), doublings=6)  # 32,000 rows


def test_batch_run_csv_output_agrees_with_predict(tmp_path, trained_model_dir, loans):
    src = data_mod.write_csv(loans, tmp_path / "pending.csv").path
    result, out = job(tmp_path, trained_model_dir, src, mini_batch_size=64 * 1024)
    assert result.status == "SUCCEEDED"
    assert output_rows(out / "predictions.csv") == expected_rows(trained_model_dir, loans)
    assert (result.counts.items_succeeded, result.counts.items_failed) == (32_000, 0)
    rows = processed(out)
    assert sum(int(r["items"]) for r in rows) == 32_000
    assert {r["status"] for r in rows} == {"SUCCEEDED"}
    assert result.counts.mini_batches_created == len(rows) == -(-src.stat().st_size // (64 * 1024))


def test_batch_run_output_keeps_input_order_without_header(tmp_path, trained_model_dir, loans):
    src = data_mod.write_csv(loans.head(3000), tmp_path / "pending.csv").path
    result, out = job(tmp_path, trained_model_dir, src, mini_batch_size=4096)
    first = (out / "predictions.csv").read_text().splitlines()
    assert len(first) == 3000
    assert [line.rsplit(",", 1)[0] for line in first] == src.read_text().splitlines()[1:]


def test_batch_run_folder_of_csv_and_parquet_never_spans_files(tmp_path, trained_model_dir, loans):
    folder = tmp_path / "in"
    data_mod.write_csv(loans.head(5000), folder / "a.csv")
    data_mod.write_parquet(loans.tail(7000), folder / "b" / "c.parquet")
    result, out = job(tmp_path, trained_model_dir, folder, mini_batch_size=16 * 1024)
    assert output_rows(out / "predictions.csv") == expected_rows(trained_model_dir, pd.concat([loans.head(5000), loans.tail(7000)]))
    sources = [r["source"] for r in processed(out)]
    assert all(s.startswith(str(folder / "a.csv") + " lines ") or s.startswith(str(folder / "b" / "c.parquet") + " row group 0 rows ") for s in sources)
    parquet_items = [int(r["items"]) for r in processed(out) if "c.parquet" in r["source"]]
    assert parquet_items == [682] * 10 + [7000 - 6820]  # 16KB over 24-byte rows (a float64 and two int64)


def test_batch_run_summary_only_writes_no_output_file(tmp_path, trained_model_dir, loans):
    src = data_mod.write_csv(loans.head(2000), tmp_path / "pending.csv").path
    result, out = job(tmp_path, trained_model_dir, src, output_action="summary_only")
    assert result.status == "SUCCEEDED" and result.output_file is None
    assert sorted(p.name for p in out.iterdir()) == [
        "errors.log", "job_summary.json", "job_summary.txt", "logs", "processed_mini-batches.csv"
    ]
    assert result.counts.items_succeeded == 2000
    assert "output: none (summary_only)" in (out / "job_summary.txt").read_text()


def test_batch_run_files_mode_one_row_per_file(tmp_path, trained_model_dir, loans):
    folder = tmp_path / "in"
    parts = [loans.iloc[i * 100:(i + 1) * 100] for i in range(5)]
    for i, part in enumerate(parts):
        (data_mod.write_csv if i % 2 else data_mod.write_parquet)(part, folder / f"f{i}.{'csv' if i % 2 else 'parquet'}")
    (folder / "f5.csv").write_text("income,age\n1,2\n")
    result, out = job(tmp_path, trained_model_dir, folder, mode="files", mini_batch_size=2)
    model = skops.io.load(trained_model_dir / "model.skops", trusted=[])
    lines = sorted((out / "predictions.csv").read_text().splitlines())
    assert lines == sorted(
        f"{folder / f'f{i}.{ext}'},{int(model.predict(p[FEATURES]).sum())}/100 approved"
        for i, (p, ext) in enumerate(zip(parts, ["parquet", "csv"] * 3))
    )
    assert [(r["items"], r["failed"]) for r in processed(out)] == [("2", "0"), ("2", "0"), ("2", "1")]
    assert f"mini-batch 2 (2 files from {folder / 'f4.parquet'}): 1 of 2 items failed: run() returned 1 rows: {folder / 'f5.csv'}; " in (out / "errors.log").read_text()
    assert "ValueError: " + str(folder / "f5.csv") + ": lacks column(s) credit_cards" in "".join(p.read_text() for p in (out / "logs").iterdir())


def test_batch_run_max_concurrency_starts_that_many_workers_each_init_once(tmp_path, trained_model_dir, loans):
    src = data_mod.write_csv(loans.head(2000), tmp_path / "pending.csv").path
    result, out = job(tmp_path, trained_model_dir, src, max_concurrency_per_instance=3)
    logs = sorted(p.name for p in (out / "logs").iterdir())
    assert logs == ["worker0.log", "worker1.log", "worker2.log"]
    for name in logs:
        assert (out / "logs" / name).read_text().count("INFO tabular_batch: loaded ") == 1
    assert result.workers == 3


def test_batch_run_logging_level_filters_worker_logs(tmp_path, trained_model_dir, loans):
    src = data_mod.write_csv(loans.head(500), tmp_path / "pending.csv").path
    result, out = job(tmp_path, trained_model_dir, src, logging_level="WARNING", max_concurrency_per_instance=1)
    assert (out / "logs" / "worker0.log").read_text() == ""
    result, out2 = job(tmp_path / "debug", trained_model_dir, src, logging_level="DEBUG", max_concurrency_per_instance=1)
    assert "DEBUG amlops.batch.worker: mini-batch 0: 500 items, 500 rows returned" in (out2 / "logs" / "worker0.log").read_text()


def test_batch_run_environment_variables_reach_the_script(tmp_path, trained_model_dir):
    script = tmp_path / "env_batch.py"
    script.write_text(
        "import os\n"
        "def init():\n    pass\n"
        "def run(mini_batch):\n    return [os.environ['LOANS_GREETING'] + ' ' + os.environ['AZUREML_MODEL_DIR']] * len(mini_batch)\n"
    )
    src = tmp_path / "in.csv"
    src.write_text("income,credit_cards,age\n1,2,3\n")
    out = tmp_path / "out"
    spec = JobSpec(
        input=src, output_dir=out, model_dir=trained_model_dir, script=script, progress=False,
        settings=BatchSettings(environment_variables={"LOANS_GREETING": "hello"}),
    )
    run_job(spec, console=Console(file=io.StringIO()))
    assert (out / "predictions.csv").read_text() == f"hello {trained_model_dir}\n"


def test_batch_run_summary_json_counts_every_item(tmp_path, trained_model_dir, loans):
    src = data_mod.write_csv(loans.head(1000), tmp_path / "pending.csv").path
    result, out = job(tmp_path, trained_model_dir, src, mini_batch_size=8192)
    summary = json.loads((out / "job_summary.json").read_text())
    assert summary["status"] == "SUCCEEDED"
    assert summary["counts"]["items_succeeded"] == 1000
    assert summary["counts"]["mini_batches_created"] == summary["counts"]["mini_batches_processed"] == len(processed(out))
    assert summary["output_file"] == str(out / "predictions.csv")
    assert list(processed(out)[0]) == list(COLUMNS)


def test_batch_run_existing_results_refused_without_overwrite(tmp_path, trained_model_dir, loans):
    src = data_mod.write_csv(loans.head(100), tmp_path / "pending.csv").path
    job(tmp_path, trained_model_dir, src)
    with pytest.raises(UsageError) as err:
        job(tmp_path, trained_model_dir, src)
    assert str(err.value) == (
        f"{tmp_path / 'out'} already holds a batch job's results (predictions.csv, job_summary.json, "
        "processed_mini-batches.csv, errors.log); pass another --output or add --overwrite"
    )


def test_batch_settings_from_dev_stack_use_azure_meanings():
    s = from_config(load_stack("dev").batch)
    assert (s.mode, s.mini_batch_size, s.workers, s.error_threshold, s.max_retries, s.timeout) == (
        "tabular", 1024 * 1024, 2, -1, 2, 60.0
    )
    assert (s.output_action, s.output_file_name, s.logging_level) == ("append_row", "predictions.csv", "INFO")


def test_batch_settings_mode_override_needs_a_size_for_that_mode():
    cfg = load_stack("dev").batch
    with pytest.raises(UsageError) as err:
        from_config(cfg, "files")
    assert str(err.value) == "the stack's miniBatchSize '1MB' is for tabular mode; with --mode files pass --mini-batch-size (a file count such as 10)"
    with pytest.raises(UsageError) as err:
        from_config(cfg, "files", "1MB")
    assert str(err.value) == (
        "mini-batch size '1MB' is not a file count; files mode needs a whole number of files such as 10 "
        "(set amlops:batch.miniBatchSize or pass --mini-batch-size)"
    )
    assert from_config(cfg, "files", "10").mini_batch_size == 10
