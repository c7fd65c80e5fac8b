"""The local runner calls the scripts as an Azure batch model deployment does: lists of files, counted in files,
append_row written as Azure writes it, each setting honoured, outputs published only on success."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import skops.io

from amlops import data as data_mod
from amlops.batching import from_config
from amlops.batching.split import split
from amlops.errors import DataError, UsageError
from amlops.stackfile import load_stack
from batch_support import errors, hidden, job, loans_csv, parts, processed, script

FEATURES = list(data_mod.FEATURES)
IDS = {"environment_variables": {"AMLOPS_ID_COLUMNS": "application_id"}}


def predicted(model_dir: Path, frame: pd.DataFrame) -> list[int]:
    model = skops.io.load(model_dir / "model.skops", trusted=[])
    return [int(p) for p in model.predict(frame[FEATURES])]


def test_batch_run_split_table_output_agrees_with_predict_in_input_order(tmp_path, trained_model_dir):
    loans = data_mod.pending_loans(data_mod.generate_loans(500, seed=7), doublings=6)  # 32,000 rows
    src = data_mod.write_csv(loans, tmp_path / "pending.csv").path
    folder = split(src, tmp_path / "parts", 64 * 1024).folder
    result, out, reports = job(tmp_path, trained_model_dir, folder, mini_batch_size=2, **IDS)
    assert result.status == "SUCCEEDED"
    written = pd.read_csv(out / "predictions.csv", header=None, names=["application_id", "prediction"])
    assert written["application_id"].tolist() == loans["application_id"].tolist()
    assert written["prediction"].tolist() == predicted(trained_model_dir, loans)
    files = len(list(folder.iterdir()))
    assert (result.counts.items_succeeded, result.counts.items_failed, result.counts.output_lines) == (files, 0, 32_000)
    assert [int(r["items"]) for r in processed(reports)] == [2] * (files // 2) + [1] * (files % 2)


def test_batch_run_hands_run_a_list_of_path_strings_counted_in_files(tmp_path, trained_model_dir):
    entry = script(tmp_path, "def run(mb):\n    return [f'{type(mb).__name__} {len(mb)} {type(mb[0]).__name__}'] * len(mb)\n")
    folder = parts(tmp_path / "in", 5, 3)
    result, out, reports = job(tmp_path, trained_model_dir, folder, entry, mini_batch_size=2)
    assert (out / "predictions.csv").read_text().splitlines() == ["list 2 str"] * 4 + ["list 1 str"]
    assert [r["source"] for r in processed(reports)] == [
        f"2 files from {folder / 'part-00000.csv'}", f"2 files from {folder / 'part-00002.csv'}", str(folder / "part-00004.csv"),
    ]


def test_batch_run_append_row_writes_frames_space_separated_without_header_or_index(tmp_path, trained_model_dir):
    entry = script(tmp_path, (
        "import pandas as pd\n"
        "def run(mb):\n"
        "    if mb[0].endswith('0.csv'):\n"
        "        return pd.DataFrame({'file': [Path(p).name for p in mb], 'n': [7] * len(mb)}, index=[10] * len(mb))\n"
        "    return [['x', 1], 'plain text'][:len(mb)]\n"
    ))
    folder = parts(tmp_path / "in", 3, 1)
    result, out, _ = job(tmp_path, trained_model_dir, folder, entry, mini_batch_size=2)
    assert (out / "predictions.csv").read_text() == "part-00000.csv 7\npart-00001.csv 7\n['x', 1]\n"


def test_batch_run_fewer_elements_than_files_counts_the_difference_as_failed(tmp_path, trained_model_dir):
    entry = script(tmp_path, "def run(mb):\n    return [p for p in mb if not p.endswith('1.csv')]\n")
    folder = parts(tmp_path / "in", 3, 1)
    result, out, reports = job(tmp_path, trained_model_dir, folder, entry, mini_batch_size=3, max_concurrency_per_instance=1)
    assert (result.counts.items_succeeded, result.counts.items_failed) == (2, 1)
    assert errors(reports) == (
        f"mini-batch 0 (3 files from {folder / 'part-00000.csv'}): 1 of 3 items failed: run() returned 2 elements: "
        f"{folder / 'part-00001.csv'}; the entry script's own messages are in logs/worker0.log\n"
    )


def test_batch_run_files_mode_publishes_per_file_outputs_only_when_the_job_succeeds(tmp_path, trained_model_dir):
    folder = parts(tmp_path / "in", 3, 4)
    result, out, reports = job(tmp_path, trained_model_dir, folder, mode="files", output_action="summary_only", mini_batch_size=1, **IDS)
    assert result.status == "SUCCEEDED"
    names = sorted(p.name for p in out.iterdir())
    assert [n.rsplit("-", 1)[0] for n in names] == ["part-00000", "part-00001", "part-00002"]
    assert (result.counts.rows_in, result.counts.rows_scored) == (12, 12)
    frame = pd.read_csv(folder / "part-00001.csv")
    written = pd.read_csv(out / names[1])
    assert written["application_id"].tolist() == frame["application_id"].tolist()
    assert written["prediction"].tolist() == predicted(trained_model_dir, frame)
    assert not (reports / "outputs").exists() and result.output_file is None


def test_batch_run_files_mode_same_stem_in_two_folders_keeps_both_outputs(tmp_path, trained_model_dir):
    loans_csv(tmp_path / "in" / "a" / "x.csv", 1)
    loans_csv(tmp_path / "in" / "b" / "x.csv", 2, start=10)
    result, out, _ = job(tmp_path, trained_model_dir, tmp_path / "in", mode="files", output_action="summary_only", mini_batch_size=1)
    assert (result.status, result.counts.items_succeeded, result.counts.rows_scored) == ("SUCCEEDED", 2, 3)
    outputs = sorted(out.iterdir())
    assert len(outputs) == 2 and all(p.name.startswith("x-") for p in outputs)
    assert sorted(len(pd.read_csv(p)) for p in outputs) == [1, 2]


def test_batch_run_header_only_file_adds_no_blank_line_and_succeeds_with_no_rows(tmp_path, trained_model_dir):
    folder = parts(tmp_path / "in", 1, 2)
    (folder / "h.csv").write_text("application_id,income,credit_cards,age\n")
    tab, out, _ = job(tmp_path / "t", trained_model_dir, folder)
    files, fout, _ = job(tmp_path / "f", trained_model_dir, folder, mode="files", output_action="summary_only")
    assert (tab.status, tab.counts.items_succeeded, tab.counts.items_failed) == ("SUCCEEDED", 2, 0)
    assert (tab.counts.header_only, tab.counts.header_only_failed, files.counts.header_only) == (1, 0, 1)
    assert "" not in (out / "predictions.csv").read_text().split("\n")[:-1] and tab.counts.rows_scored == 2
    assert (files.status, files.counts.items_succeeded) == ("SUCCEEDED", 2)
    (header_only,) = fout.glob("h-*.csv")
    assert header_only.read_text().splitlines() == ['"application_id","income","credit_cards","age","prediction"']


def test_batch_run_huge_mini_batch_size_puts_every_file_in_one_mini_batch(tmp_path, trained_model_dir):
    folder = parts(tmp_path / "in", 3, 2)
    result, out, reports = job(tmp_path, trained_model_dir, folder, mini_batch_size=10**15)
    assert (result.status, [r["items"] for r in processed(reports)], result.counts.output_lines) == ("SUCCEEDED", ["3"], 6)


def test_batch_run_max_concurrency_starts_that_many_workers_each_init_once(tmp_path, trained_model_dir):
    result, _, reports = job(tmp_path, trained_model_dir, parts(tmp_path / "in", 6, 2), mini_batch_size=1, max_concurrency_per_instance=3)
    logs = sorted(p.name for p in (reports / "logs").iterdir())
    assert logs == ["worker0.log", "worker1.log", "worker2.log"]
    assert all((reports / "logs" / n).read_text().count("ready: tabular_batch.py init() took") == 1 for n in logs)


def test_batch_run_logging_level_filters_worker_logs(tmp_path, trained_model_dir):
    folder = parts(tmp_path / "in", 1, 2)
    _, _, warn = job(tmp_path / "w", trained_model_dir, folder, logging_level="WARNING", max_concurrency_per_instance=1)
    _, _, debug = job(tmp_path / "d", trained_model_dir, folder, logging_level="DEBUG", max_concurrency_per_instance=1)
    assert (warn / "logs" / "worker0.log").read_text() == ""
    assert "mini-batch 0: 1 files, 1 elements returned" in (debug / "logs" / "worker0.log").read_text()


def test_batch_run_sets_what_azure_sets_for_the_script(tmp_path, trained_model_dir):
    entry = script(tmp_path, (
        "def run(mb):\n"
        "    return [','.join(os.environ.get(k, '-') for k in ('AZUREML_MODEL_DIR', 'AZUREML_BI_OUTPUT_PATH', 'TEAM'))] * len(mb)\n"
    ))
    result, out, reports = job(tmp_path, trained_model_dir, parts(tmp_path / "in", 1, 1), entry, environment_variables={"TEAM": "risk"})
    assert (out / "predictions.csv").read_text() == f"{trained_model_dir},{reports / 'outputs'},risk\n"


def test_batch_run_summary_json_counts_every_file(tmp_path, trained_model_dir):
    folder = parts(tmp_path / "in", 3, 2, bad={1: {3: "A9,abc,1,30"}})
    result, out, reports = job(tmp_path, trained_model_dir, folder, mini_batch_size=1)
    summary = json.loads((reports / "job_summary.json").read_text())
    assert (summary["status"], summary["counts"]["items_succeeded"], summary["counts"]["items_failed"]) == ("SUCCEEDED", 2, 1)
    assert summary["counts"]["output_lines"] == 4 and summary["output_file"] == str(out / "predictions.csv")
    assert f"{folder / 'part-00001.csv'}: line 3: column income must be a number, got 'abc'" in (reports / "logs" / "worker0.log").read_text() + (reports / "logs" / "worker1.log").read_text()


def test_batch_run_existing_output_refused_without_overwrite(tmp_path, trained_model_dir):
    folder = parts(tmp_path / "in", 1, 2)
    job(tmp_path, trained_model_dir, folder)
    with pytest.raises(UsageError, match=r"already holds a batch job's output \(predictions\.csv\); pass another --output or add --overwrite"):
        job(tmp_path, trained_model_dir, folder)


def test_batch_run_overwrite_replaces_output_only_when_the_new_job_succeeds(tmp_path, trained_model_dir):
    folder = parts(tmp_path / "in", 2, 2)
    first, out, _ = job(tmp_path, trained_model_dir, folder)
    before = (out / "predictions.csv").read_text()
    failing = script(tmp_path, "def run(mb):\n    raise ValueError('boom')\n")
    failed, _, reports = job(tmp_path, trained_model_dir, folder, failing, overwrite=True, max_retries=0)
    assert failed.status == "FAILED" and failed.reason.startswith("no file succeeded: all 2 failed")
    assert (out / "predictions.csv").read_text() == before
    assert hidden(out, reports) == []
    again, _, _ = job(tmp_path, trained_model_dir, parts(tmp_path / "in2", 1, 1), overwrite=True)
    assert again.status == "SUCCEEDED" and len((out / "predictions.csv").read_text().splitlines()) == 1


def test_batch_run_id_columns_missing_from_an_input_refused_before_any_work(tmp_path, trained_model_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("income,credit_cards,age\n1,1,30\n")
    with pytest.raises(DataError) as err:
        job(tmp_path, trained_model_dir, folder, **IDS)
    assert str(err.value) == (
        f"{folder / 'a.csv'}: lacks id column(s) application_id named by amlops:batch.idColumns (application_id); "
        "its columns are income, credit_cards, age"
    )
    assert not (tmp_path / "reports").exists()


def test_batch_run_walk_error_names_the_folder(tmp_path, trained_model_dir, monkeypatch):
    """An unreadable folder below the input (os.walk reports it; root reads any folder, so the error is injected)."""
    from amlops.batching import planner

    def walk(path, onerror):
        onerror(PermissionError(13, "Permission denied", str(path / "locked")))
        return iter(())

    monkeypatch.setattr(planner.os, "walk", walk)
    with pytest.raises(DataError) as err:
        planner.input_files(tmp_path)
    assert str(err.value) == f"{tmp_path / 'locked'}: cannot be read (Permission denied); fix its permissions or leave it out of --input"


def test_batch_run_quoted_line_breaks_lose_no_row_through_split(tmp_path, trained_model_dir):
    rows = 20_000
    notes = [f'"note {i}\nsecond line"' if i % 3 == 0 else f"note {i}" for i in range(rows)]
    body = "".join(f"A{i:06d},{notes[i]},{4000 + i}.5,{i % 5},{20 + i % 50}\n" for i in range(rows))
    src = tmp_path / "notes.csv"
    src.write_text("application_id,note,income,credit_cards,age\n" + body)
    folder = split(src, tmp_path / "parts", 16 * 1024).folder
    result, out, _ = job(tmp_path, trained_model_dir, folder, **IDS)
    written = pd.read_csv(out / "predictions.csv", header=None, names=["application_id", "prediction"])
    assert (result.status, len(written), written["application_id"].is_unique) == ("SUCCEEDED", rows, True)


def test_batch_settings_from_dev_stack_use_azure_meanings():
    cfg = load_stack("dev").batch
    s = from_config(cfg)
    assert (s.mode, s.mini_batch_size, s.error_threshold, s.output_action, s.id_columns) == (
        cfg.mode, cfg.mini_batch_size, cfg.error_threshold, "append_row", tuple(cfg.id_columns)
    )
    assert s.environment_variables == cfg.deployment_environment()
    assert not hasattr(s, "mini_batch_error_threshold")


def test_batch_settings_tabular_override_refused_for_a_summary_only_stack():
    cfg = load_stack("dev").batch.model_copy(update={"mode": "files", "output_action": "summary_only"})
    with pytest.raises(UsageError, match="--mode tabular returns predictions from run\\(\\), which only append_row writes"):
        from_config(cfg, "tabular")


def test_batch_run_output_file_counts_match_lines(tmp_path, trained_model_dir):
    result, out, _ = job(tmp_path, trained_model_dir, parts(tmp_path / "in", 2, 5))
    assert Counter(len(line.split(",")) for line in (out / "predictions.csv").read_text().splitlines()) == Counter({5: 10})
