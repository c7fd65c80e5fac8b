"""`amlops:batch.schedule`: when Azure runs the batch scoring job, and with what input."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.config.base import ConfigModel

_DATASTORE_INPUT = re.compile(r"^azureml://datastores/[A-Za-z0-9_]+/paths/\S+$")
_DATA_ASSET_INPUT = re.compile(r"^azureml:([A-Za-z0-9][A-Za-z0-9_.-]{0,254}):([1-9][0-9]*)$")
# Azure's schedules use NCrontab: five fields (minute hour day month weekday), numbers, *, ranges, lists,
# steps and month/day names; croniter also accepts seconds, L, W, # and ?, which NCrontab does not.
_CRON_FIELDS = (
    ("minute", re.compile(r"^[0-9*,/-]+$")),
    ("hour", re.compile(r"^[0-9*,/-]+$")),
    ("day of month", re.compile(r"^[0-9*,/-]+$")),
    ("month", re.compile(r"^([0-9*,/-]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)+$", re.IGNORECASE)),
    ("day of week", re.compile(r"^([0-6*,/-]|SUN|MON|TUE|WED|THU|FRI|SAT)+$", re.IGNORECASE)),
)


def check_cron(expression: str) -> str:
    """An NCrontab expression Azure's schedules accept: five fields, validated by croniter too."""
    from croniter import croniter

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"must have five fields (minute hour day-of-month month day-of-week, e.g. '0 2 * * *'), got {expression!r}"
        )
    for (label, pattern), value in zip(_CRON_FIELDS, fields):
        if not pattern.match(value):
            raise ValueError(f"has an invalid {label} field {value!r} (NCrontab: numbers, *, -, /, commas, names), got {expression!r}")
    if not croniter.is_valid(expression):
        raise ValueError(f"is not a valid cron expression (a value is out of range), got {expression!r}")
    return expression


def windows_time_zone(iana: str) -> str:
    """The Windows name Azure's schedule triggers take for an IANA time zone (CLDR's mapping, via tzlocal)."""
    try:
        from tzlocal.windows_tz import tz_win
    except ImportError:  # say what is missing rather than fail with a trace
        raise ValueError(f"cannot be translated: the tzlocal package (CLDR's Windows zone names) is not installed, got {iana!r}") from None
    name = tz_win.get(iana)
    if name is None:
        raise ValueError(f"has no Windows time zone equivalent (Azure schedules take Windows names); choose another zone, got {iana!r}")
    return name


class RecurrenceConfig(ConfigModel):
    """A recurrence trigger (Azure's RecurrenceTrigger): every `interval` frequency units, optionally at set times."""

    frequency: Literal["minute", "hour", "day", "week", "month"]
    interval: int = Field(1, ge=1, le=1000)
    """How many frequency units between runs (default 1)."""
    hours: list[int] = []
    """Hours of the day (0-23) to run at; day, week and month frequencies only; needs minutes."""
    minutes: list[int] = []
    """Minutes of the hour (0-59) to run at; needs hours."""
    week_days: list[Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]] = []
    """Days of the week to run on; week and month frequencies only."""

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: list[int]) -> list[int]:
        bad = [h for h in v if not 0 <= h <= 23]
        if bad:
            raise ValueError(f"hours must be 0-23, got {bad[0]}")
        return sorted(set(v))

    @field_validator("minutes")
    @classmethod
    def _minutes(cls, v: list[int]) -> list[int]:
        bad = [m for m in v if not 0 <= m <= 59]
        if bad:
            raise ValueError(f"minutes must be 0-59, got {bad[0]}")
        return sorted(set(v))

    def has_pattern(self) -> bool:
        return bool(self.hours or self.minutes or self.week_days)


class BatchScheduleConfig(ConfigModel):
    """Score new data on a schedule: Azure runs a pipeline job scoring this input as the batch deployment does.

    The trigger is Azure's (machinelearningservices.Schedule, a CronTrigger or RecurrenceTrigger,
    https://learn.microsoft.com/azure/machine-learning/reference-yaml-schedule); `amlops batch schedule
    --stack S` prints its next runs.
    """

    enabled: bool = True
    """Whether Azure runs it (default true); a disabled schedule is declared but never fires."""
    cron: str | None = None
    """An NCrontab expression, five fields (e.g. '0 2 * * *' = 02:00 daily); exclusive with recurrence."""
    recurrence: RecurrenceConfig | None = None
    """A recurrence (frequency, interval, hours, minutes, weekDays); exclusive with cron."""
    time_zone: str = "UTC"
    """An IANA time zone (e.g. Europe/Amsterdam) the trigger's times are in; Azure gets its Windows name."""
    start_time: str | None = None
    """First possible run, ISO 8601 local time without an offset (e.g. 2026-12-01T02:00:00); default: when declared."""
    input: str
    """What each run scores: azureml://datastores/<name>/paths/<folder>/ or a data asset azureml:<name>:<version>."""

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        return None if v is None else check_cron(v)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"is not a known IANA time zone (e.g. UTC, Europe/Amsterdam, America/New_York), got {v!r}") from None
        windows_time_zone(v)
        return v

    @field_validator("start_time")
    @classmethod
    def _start(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            parsed = datetime.fromisoformat(v)
        except ValueError:
            raise ValueError(f"must be an ISO 8601 local time such as 2026-12-01T02:00:00, got {v!r}") from None
        if parsed.tzinfo is not None:
            raise ValueError(f"must have no UTC offset (timeZone says which zone it is in), got {v!r}")
        return v

    @field_validator("input")
    @classmethod
    def _input(cls, v: str) -> str:
        if v.startswith("azureml:") and "@" in v:
            raise ValueError(f"must pin a data asset version (azureml:<name>:<version>): the scheduled job is fixed when declared, got {v!r}")
        if not (_DATASTORE_INPUT.match(v) or _DATA_ASSET_INPUT.match(v)):
            raise ValueError(
                "must be a datastore folder azureml://datastores/<name>/paths/<folder>/ or a data asset "
                f"azureml:<name>:<version>, got {v!r}"
            )
        return v

    @model_validator(mode="after")
    def _one_trigger(self) -> "BatchScheduleConfig":
        if self.cron is not None and self.recurrence is not None:
            raise ValueError("must set one of cron and recurrence, got both")
        if self.cron is None and self.recurrence is None:
            raise ValueError("must set cron or recurrence (when the endpoint is invoked), got neither")
        return self

    def zone(self):
        """The trigger's time zone as a tzinfo."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.time_zone)

    def input_type(self) -> str:
        """UriFolder for a folder (a path ending with '/', or a data asset), else UriFile."""
        return "UriFile" if _DATASTORE_INPUT.match(self.input) and not self.input.endswith("/") else "UriFolder"
