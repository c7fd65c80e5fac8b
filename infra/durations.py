"""ISO-8601 durations, the form Azure's ML and Monitor APIs take for every time setting."""

from __future__ import annotations

from datetime import timedelta

import isodate


def iso_seconds(seconds: int | float) -> str:
    """120 → "PT2M"; 0.5 → "PT0.5S"."""
    return isodate.duration_isoformat(timedelta(seconds=seconds))


def iso_ms(milliseconds: int) -> str:
    """5000 → "PT5S"; 500 → "PT0.5S"."""
    return iso_seconds(milliseconds / 1000)


def iso_minutes(minutes: int) -> str:
    """5 → "PT5M"."""
    return iso_seconds(minutes * 60)
