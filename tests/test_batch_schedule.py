"""Batch outputs and schedules: the path template, the next runs in the schedule's time zone,
`amlops batch schedule`, and bad settings refused at `amlops config show`."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

import amlops.stackfile
from amlops.batching.schedule import NoSchedule, next_runs, planned_runs
from cli_support import run_cli
from infra.config import BatchConfig, BatchOutputConfig, BatchScheduleConfig

ROOT = Path(__file__).resolve().parent.parent
AFTER = datetime(2027, 3, 26, 12, 0, tzinfo=timezone.utc)  # two days before Europe's summer time starts


def _schedule(**fields: Any) -> BatchScheduleConfig:
    return BatchScheduleConfig.model_validate({"input": "azureml:pending-loans:3", **fields})


def _iso(runs: list[datetime]) -> list[str]:
    return [r.isoformat() for r in runs]


# --- where results land ------------------------------------------------------------------------


def test_output_render_default_template_gives_the_run_date_folder():
    assert BatchOutputConfig().render(datetime(2026, 11, 29, 2, 0)) == "inferences/loans/2026-11-29/"


def test_output_render_every_placeholder():
    out = BatchOutputConfig(path="p/{year}/{month}/{day}/{date}T{time}/{job}/")
    assert out.render(datetime(2026, 1, 2, 3, 4, 5)) == "p/2026/01/02/2026-01-02T030405/20260102-030405/"
    assert out.render(datetime(2026, 1, 2, 3, 4, 5), job="loans-job-7") == "p/2026/01/02/2026-01-02T030405/loans-job-7/"


def test_output_uri_names_the_datastore():
    out = BatchOutputConfig(datastore="results", path="loans/{date}/")
    assert out.uri(out.render(datetime(2026, 11, 29))) == "azureml://datastores/results/paths/loans/2026-11-29/"


# --- next runs ---------------------------------------------------------------------------------


def test_next_runs_cron_in_the_schedule_time_zone_across_summer_time():
    runs = next_runs(_schedule(cron="0 2 * * *", timeZone="Europe/Amsterdam"), AFTER, 4)
    # 02:00 does not exist on 2027-03-28 in Amsterdam: that run is at 03:00 summer time
    assert _iso(runs) == ["2027-03-27T02:00:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-29T02:00:00+02:00", "2027-03-30T02:00:00+02:00"]


def test_next_runs_cron_waits_for_the_start_time():
    runs = next_runs(_schedule(cron="30 6 * * 1-5", timeZone="America/New_York", startTime="2027-04-07T00:00:00"), AFTER, 3)
    assert _iso(runs) == ["2027-04-07T06:30:00-04:00", "2027-04-08T06:30:00-04:00", "2027-04-09T06:30:00-04:00"]


def test_next_runs_recurrence_every_other_day_counts_from_the_start():
    s = _schedule(recurrence={"frequency": "day", "interval": 2, "hours": [2], "minutes": [30]}, timeZone="Europe/Amsterdam",
                  startTime="2027-03-20T00:00:00")
    assert _iso(next_runs(s, AFTER, 3)) == ["2027-03-28T03:30:00+02:00", "2027-03-30T02:30:00+02:00", "2027-04-01T02:30:00+02:00"]


def test_next_runs_recurrence_weekly_on_week_days():
    s = _schedule(recurrence={"frequency": "week", "hours": [6, 18], "minutes": [0], "weekDays": ["monday", "friday"]},
                  startTime="2027-03-01T00:00:00")
    assert _iso(next_runs(s, AFTER, 3)) == ["2027-03-26T18:00:00+00:00", "2027-03-29T06:00:00+00:00", "2027-03-29T18:00:00+00:00"]


def test_next_runs_recurrence_without_pattern_steps_from_the_start():
    s = _schedule(recurrence={"frequency": "hour", "interval": 6}, startTime="2027-03-20T01:15:00")
    assert _iso(next_runs(s, AFTER, 2)) == ["2027-03-26T13:15:00+00:00", "2027-03-26T19:15:00+00:00"]


def test_next_runs_without_start_time_count_from_now():
    s = _schedule(recurrence={"frequency": "minute", "interval": 15})
    assert _iso(next_runs(s, AFTER, 2)) == ["2027-03-26T12:15:00+00:00", "2027-03-26T12:30:00+00:00"]


def test_planned_runs_read_the_input_and_write_each_job_folder():
    b = BatchConfig.model_validate({"endpointName": "loans-batch", "output": {"path": "inferences/loans/{job}/"},
                                    "schedule": {"cron": "0 2 * * *", "input": "azureml:pending-loans:3"}})
    run = planned_runs(b, AFTER, 1)[0]
    assert (run.when.isoformat(), run.reads, run.writes) == (
        "2027-03-27T02:00:00+00:00", "azureml:pending-loans:3",
        "azureml://datastores/workspaceblobstore/paths/inferences/loans/<job name>/predictions.csv",
    )


def test_planned_runs_without_schedule_raise():
    with pytest.raises(NoSchedule) as err:
        planned_runs(BatchConfig.model_validate({"endpointName": "loans-batch"}), AFTER, 1)
    assert str(err.value) == (
        "amlops:batch.schedule is not set; add one (cron or recurrence, timeZone, input, enabled) to score on a schedule"
    )


# --- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def stacks(tmp_path, monkeypatch):
    """A stacks folder with dev's file, whose batch section a test changes; the CLI reads it."""
    folder = tmp_path / "stacks"
    folder.mkdir()
    dev = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    real = amlops.stackfile.load_stack
    monkeypatch.setattr(amlops.stackfile, "load_stack", lambda stack: real(stack, folder))

    def write(**batch: Any) -> None:
        doc = {"config": {**dev["config"], "amlops:batch": {**dev["config"]["amlops:batch"], **batch}}}
        (folder / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))

    return write


SCHEDULED = {"output": {"path": "inferences/loans/{job}/"},
             "schedule": {"cron": "0 2 * * *", "timeZone": "Europe/Amsterdam", "input": "azureml://datastores/workspaceblobstore/paths/loans/pending/"}}


def test_batch_schedule_prints_next_runs_in_the_time_zone_and_what_each_reads_and_writes(capsys, monkeypatch, stacks):
    stacks(**SCHEDULED)
    code, out, err = run_cli(capsys, monkeypatch, "batch", "schedule", "--stack", "dev", "--count", "2", "--after", "2027-03-27T12:00:00+00:00")
    assert (code, err) == (0, "")
    pending = "azureml://datastores/workspaceblobstore/paths/loans/pending/"
    written = "azureml://datastores/workspaceblobstore/paths/inferences/loans/<job name>/predictions.csv"
    assert out.splitlines() == [
        "stacks/Pulumi.dev.yaml: batch schedule loans-dev-batch-schedule (enabled)",
        "trigger: cron '0 2 * * *' in Europe/Amsterdam (Azure: W. Europe Standard Time)",
        "runs: a pipeline job; its parallel step runs tabular_batch.py with batch deployment loans-batch's code, environment, "
        "model and cluster: 1 file(s) per mini-batch, 2 per instance x 1 instance(s), append_row",
        "next 2 run(s):",
        f"  2027-03-28 03:00 CEST (UTC+0200)  reads {pending}  writes {written}",
        f"  2027-03-29 02:00 CEST (UTC+0200)  reads {pending}  writes {written}",
    ]


def test_batch_schedule_recurrence_disabled_says_so(capsys, monkeypatch, stacks):
    stacks(output={"path": "loans/{job}/"}, schedule={"enabled": False, "recurrence": {"frequency": "week", "hours": [6], "minutes": [0, 30], "weekDays": ["monday"]},
                                                       "startTime": "2027-03-01T00:00:00", "input": "azureml:pending-loans:3"})
    code, out, _ = run_cli(capsys, monkeypatch, "batch", "schedule", "--stack", "dev", "-n", "1", "--after", "2027-03-27T12:00:00+00:00")
    assert code == 0
    assert out.splitlines()[:2] == [
        "stacks/Pulumi.dev.yaml: batch schedule loans-dev-batch-schedule (disabled: declared, Azure does not run it)",
        "trigger: every 1 week(s) on monday at 06:00, 06:30 in UTC (Azure: UTC), from 2027-03-01T00:00:00",
    ]
    assert out.splitlines()[-1].startswith("  2027-03-29 06:00 UTC (UTC+0000)  reads azureml:pending-loans:3  writes ")


def test_batch_schedule_without_schedule_exits_1(capsys, monkeypatch, stacks):
    stacks()
    code, out, err = run_cli(capsys, monkeypatch, "batch", "schedule", "--stack", "dev")
    assert (code, out) == (1, "")
    assert err == (
        "error: stacks/Pulumi.dev.yaml: amlops:batch.schedule is not set; add one (cron or recurrence, timeZone, input, "
        "enabled) to score on a schedule\n"
    )


# --- bad settings, at config show ----------------------------------------------------------------


@pytest.mark.parametrize("batch,message", [
    ({**SCHEDULED, "schedule": {**SCHEDULED["schedule"], "cron": "0 2 * *"}},
     "amlops:batch.schedule.cron: must have five fields (minute hour day-of-month month day-of-week, e.g. '0 2 * * *'), got '0 2 * *'"),
    ({**SCHEDULED, "schedule": {**SCHEDULED["schedule"], "cron": "0 25 * * *"}},
     "amlops:batch.schedule.cron: is not a valid cron expression (a value is out of range), got '0 25 * * *'"),
    ({**SCHEDULED, "schedule": {**SCHEDULED["schedule"], "cron": "0 2 L * *"}},
     "amlops:batch.schedule.cron: has an invalid day of month field 'L' (NCrontab: numbers, *, -, /, commas, names), got '0 2 L * *'"),
    ({**SCHEDULED, "schedule": {**SCHEDULED["schedule"], "timeZone": "Europe/Atlantis"}},
     "amlops:batch.schedule.timeZone: is not a known IANA time zone (e.g. UTC, Europe/Amsterdam, America/New_York), got 'Europe/Atlantis'"),
    ({"output": {"path": "inferences/{stack}/{date}/"}},
     "amlops:batch.output.path: has an unknown placeholder {stack} (known: {date}, {year}, {month}, {day}, {time}, {job}), "
     "got 'inferences/{stack}/{date}/'"),
    ({"output": {"path": "inferences/{date:%Y}/"}},
     "amlops:batch.output.path: placeholder {date} takes no format or conversion, got 'inferences/{date:%Y}/'"),
    ({"output": {"path": "/inferences/loans"}},
     "amlops:batch.output.path: must be a relative folder path ending with '/', without '..', got '/inferences/loans'"),
    ({"output": {"datastore": "workspacefilestore"}},
     "amlops:batch.output.datastore: is an Azure Files datastore; batch endpoints write outputs to Blob Storage datastores only "
     "(use workspaceblobstore), got 'workspacefilestore'"),
    ({**SCHEDULED, "output": {"path": "inferences/loans/{date}/"}},
     "amlops:batch.output.path: has {date}, which a scheduled job's output path cannot fill in: in a scheduled pipeline job's "
     "output path Azure expands only ${{name}}, the job's name, so every run would write to the same literal folder; use {job} "
     "(each run's job name) when batch.schedule is set, got 'inferences/loans/{date}/'"),
    ({**SCHEDULED, "schedule": {**SCHEDULED["schedule"], "recurrence": {"frequency": "day"}}},
     "amlops:batch.schedule: must set one of cron and recurrence, got both"),
    ({**SCHEDULED, "schedule": {"input": "azureml:pending-loans:3", "recurrence": {"frequency": "hour", "hours": [2], "minutes": [0]}}},
     "amlops:batch.schedule.recurrence: hours, minutes and weekDays apply to day, week and month frequencies, got frequency 'hour'"),
    ({**SCHEDULED, "schedule": {**SCHEDULED["schedule"], "input": "azureml:pending-loans@latest"}},
     "amlops:batch.schedule.input: must pin a data asset version (azureml:<name>:<version>): the scheduled job is fixed "
     "when declared, got 'azureml:pending-loans@latest'"),
    ({**SCHEDULED, "schedule": {**SCHEDULED["schedule"], "startTime": "2027-01-01T02:00:00+01:00"}},
     "amlops:batch.schedule.startTime: must have no UTC offset (timeZone says which zone it is in), got '2027-01-01T02:00:00+01:00'"),
], ids=["cron-fields", "cron-range", "cron-extension", "time-zone", "placeholder", "placeholder-format", "absolute-path",
        "file-share", "scheduled-date", "cron-and-recurrence", "pattern-on-hours", "unpinned-asset", "start-offset"])
def test_config_show_bad_batch_output_or_schedule_names_key_and_value(capsys, monkeypatch, stacks, tmp_path, batch, message):
    stacks(**batch)
    code, out, err = run_cli(capsys, monkeypatch, "config", "show", "--stack", "dev")
    assert (code, out) == (1, "")
    assert err == f"error: {tmp_path / 'stacks' / 'Pulumi.dev.yaml'}: {message}\n"


def test_batch_schedule_after_without_utc_offset_is_misuse(capsys, monkeypatch, stacks):
    stacks(**SCHEDULED)
    code, out, err = run_cli(capsys, monkeypatch, "batch", "schedule", "--stack", "dev", "--after", "2027-03-27T12:00:00")
    assert (code, out) == (2, "")
    assert err.startswith("error: amlops batch schedule: Invalid value for '--after': '2027-03-27T12:00:00' does not match the formats")
