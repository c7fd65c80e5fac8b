"""`amlops batch submit|status|download`: a deployed batch endpoint's jobs, through fakes of MLClient's operations."""

from __future__ import annotations

import pytest

from cli_support import run_cli
from remote_fakes import Azure, dev_target, install, pipeline_job

JOB = "batchjob-7f3a"
STUDIO = f"https://ml.azure.com/runs/{JOB}?wsid=ws"


@pytest.fixture
def azure(monkeypatch, state) -> Azure:
    return install(monkeypatch)


@pytest.fixture
def target():
    return dev_target()


def submitted_input(azure: Azure):
    (call,) = [c for c in azure.calls if c[0] == "batch_endpoints.invoke"]
    return call[2]


def test_batch_submit_local_folder_uploads_it_as_a_uri_folder_and_prints_the_job(azure, target, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "pending"
    folder.mkdir()
    (folder / "part-0001.csv").write_text("income,credit_cards,age\n42000,2,35\n")
    azure.jobs[JOB] = pipeline_job(JOB, "Preparing")
    code, out, err = run_cli(capsys, monkeypatch, "batch", "submit", "--stack", "dev", "--input", str(folder))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"submitted batch job {JOB} to {target.batch_endpoint} (Preparing)",
        f"studio: {STUDIO}",
        f"next: amlops batch status {JOB} --stack dev",
    ]
    sent = submitted_input(azure)
    assert (sent["endpoint_name"], sent["deployment_name"]) == (target.batch_endpoint, target.batch_deployment)
    assert (sent["input"].type, sent["input"].path) == ("uri_folder", str(folder))


@pytest.mark.parametrize(("uri", "kind"), [
    ("azureml://datastores/workspaceblobstore/paths/loans/pending/", "uri_folder"),
    ("https://example.blob.core.windows.net/data/pending.csv", "uri_file"),
])
def test_batch_submit_uri_is_passed_as_is_to_the_named_deployment(azure, target, capsys, monkeypatch, uri, kind):
    azure.jobs[JOB] = pipeline_job(JOB, "Queued")
    code, _, err = run_cli(capsys, monkeypatch, "batch", "submit", "--stack", "dev", "--input", uri, "-d", "loans-batch-v2")
    assert (code, err) == (0, "")
    sent = submitted_input(azure)
    assert (sent["deployment_name"], sent["input"].type, sent["input"].path) == ("loans-batch-v2", kind, uri)


def test_batch_submit_missing_input_is_a_usage_error_before_azure(azure, tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "batch", "submit", "--stack", "dev", "--input", str(tmp_path / "nope"))
    assert (code, out) == (2, "")
    assert err == f"error: --input {tmp_path / 'nope'}: no such file or folder (or pass a URI: azureml:, https://, http://, abfss://, wasbs://…)\n"
    assert [c[0] for c in azure.calls] == []


def test_batch_status_prints_the_jobs_status_and_studio_link(azure, capsys, monkeypatch):
    azure.jobs[JOB] = pipeline_job(JOB, "Running")
    code, out, err = run_cli(capsys, monkeypatch, "batch", "status", JOB, "--stack", "dev")
    assert (code, err, out) == (0, "", f"{JOB}: Running\nstudio: {STUDIO}\n")


def test_batch_status_of_an_unknown_job_exits_1(azure, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "batch", "status", "nope", "--stack", "dev")
    assert (code, out, err) == (1, "", "error: batch job nope: not found (Job nope not found in the workspace)\n")


def test_batch_download_writes_the_score_output_and_lists_it(azure, tmp_path, capsys, monkeypatch):
    azure.jobs[JOB] = pipeline_job(JOB, "Completed")
    azure.outputs[JOB] = {"named-outputs/score/predictions.csv": "income,credit_cards,age,approved_loan\n42000,2,35,1\n"}
    dest = tmp_path / "scores"
    code, out, err = run_cli(capsys, monkeypatch, "batch", "download", JOB, "--stack", "dev", "-o", str(dest))
    assert (code, err) == (0, "")
    assert out == f"downloaded 1 file(s) of {JOB} into {dest}\n  named-outputs/score/predictions.csv\n"
    assert ("jobs.download", (JOB,), {"download_path": str(dest), "output_name": "score"}) in azure.calls
    assert (dest / "named-outputs" / "score" / "predictions.csv").read_text().endswith("42000,2,35,1\n")


@pytest.mark.parametrize(("status", "message"), [
    ("Running", f"batch job {JOB} is Running; download its scores once it is Completed (`amlops batch status {JOB}`)"),
    ("Failed", f"batch job {JOB} is Failed: it has no scores to download; see {STUDIO}"),
])
def test_batch_download_of_an_unfinished_job_exits_1_without_downloading(azure, tmp_path, capsys, monkeypatch, status, message):
    azure.jobs[JOB] = pipeline_job(JOB, status)
    code, out, err = run_cli(capsys, monkeypatch, "batch", "download", JOB, "--stack", "dev", "-o", str(tmp_path / "x"))
    assert (code, out, err) == (1, "", f"error: {message}\n")
    assert [c[0] for c in azure.calls] == ["jobs.get"]
