"""When a stack's batch schedule fires, what each run does, reads and writes: Azure's triggers, computed locally.

Each run is a pipeline job whose one parallel step runs the batch deployment's entry script with its
code, environment, model, cluster and settings (infra/schedule.py); its output folder holds the job's
name, so two runs never write to the same place.

A cron trigger is NCrontab in the schedule's time zone (croniter); a recurrence trigger counts
`interval` frequency units from its start time, at the pattern's hours and minutes (dateutil's rrule),
as https://learn.microsoft.com/azure/machine-learning/reference-yaml-schedule describes both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator

from amlops.errors import AmlopsError
from infra.config import AZURE_JOB_NAME, BatchConfig, BatchScheduleConfig, RecurrenceConfig

JOB_NAME_SHOWN = "<job name>"
"""How a plan shows Azure's ${{name}}: the job's name is known only when the run starts."""


@dataclass(frozen=True)
class PlannedRun:
    """One future run of the schedule: when (in its time zone), what it reads and where it writes."""

    when: datetime
    reads: str
    writes: str


def _start(schedule: BatchScheduleConfig, now: datetime) -> datetime:
    """The trigger's start in its zone: startTime when set, else `now` (Azure counts from when it is created)."""
    zone = schedule.zone()
    if schedule.start_time is not None:
        return datetime.fromisoformat(schedule.start_time).replace(tzinfo=zone)
    return now.astimezone(zone)


def _cron_runs(schedule: BatchScheduleConfig, after: datetime, start: datetime) -> Iterator[datetime]:
    from croniter import croniter

    assert schedule.cron is not None
    # croniter yields times strictly after its base; a run exactly at startTime counts.
    base = max(after, start - timedelta(seconds=1))
    it = croniter(schedule.cron, base)
    while True:
        yield it.get_next(datetime)


_FREQUENCIES = {"minute": "MINUTELY", "hour": "HOURLY", "day": "DAILY", "week": "WEEKLY", "month": "MONTHLY"}
_WEEK_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _recurrence_runs(r: RecurrenceConfig, after: datetime, start: datetime) -> Iterator[datetime]:
    from dateutil import rrule

    pattern = {}
    if r.hours:
        pattern.update(byhour=r.hours, byminute=r.minutes, bysecond=0)
    if r.week_days:
        pattern["byweekday"] = [_WEEK_DAYS.index(d) for d in r.week_days]
    rule = rrule.rrule(getattr(rrule, _FREQUENCIES[r.frequency]), interval=r.interval, dtstart=start.replace(microsecond=0), **pattern)
    for when in rule.xafter(after.astimezone(start.tzinfo), inc=False):
        # rrule steps wall-clock times; a round trip through UTC gives each its offset that day
        # (a time that a DST change skips comes out an hour later, as croniter does for cron).
        yield when.astimezone(timezone.utc).astimezone(start.tzinfo)


def next_runs(schedule: BatchScheduleConfig, now: datetime, count: int) -> list[datetime]:
    """The next `count` times the trigger fires after `now`, in the schedule's time zone."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    start = _start(schedule, now)
    after = max(now.astimezone(start.tzinfo), start - timedelta(seconds=1))
    runs = _cron_runs(schedule, after, start) if schedule.cron is not None else _recurrence_runs(schedule.recurrence, after, start)  # type: ignore[arg-type]
    return [next(runs) for _ in range(count)]


def step_summary(batch: BatchConfig) -> str:
    """What every scheduled run does, in one line: the step, the deployment it mirrors, its batch settings."""
    from infra.batch_endpoint import SCRIPTS

    return (
        f"a pipeline job; its parallel step runs {SCRIPTS[batch.mode]} with batch deployment {batch.deployment_name}'s "
        f"code, environment, model and cluster: {batch.mini_batch_size} file(s) per mini-batch, "
        f"{batch.max_concurrency_per_instance} per instance x {batch.instance_count} instance(s), {batch.output_action}"
    )


def planned_runs(batch: BatchConfig, now: datetime, count: int) -> list[PlannedRun]:
    """The next runs of a stack's batch schedule with the input each reads and the output folder each writes."""
    schedule = batch.schedule
    if schedule is None:
        raise NoSchedule(
            "amlops:batch.schedule is not set; add one (cron or recurrence, timeZone, input, enabled) to score on a schedule"
        )
    folder = batch.output.scheduled_path().replace(AZURE_JOB_NAME, JOB_NAME_SHOWN)
    writes = batch.output.uri(folder) + (batch.output_file_name if batch.output_action == "append_row" else "")
    return [PlannedRun(when, schedule.input, writes) for when in next_runs(schedule, now, count)]


class NoSchedule(AmlopsError):
    """The stack declares no batch schedule."""
