"""A Rich progress bar for a batch job: share of the input done, rows scored, rows per second.

Refreshed by the job's own loop (no refresh thread), so forking a replacement worker
never happens while another thread holds a lock.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

REFRESH_SECONDS = 0.1


class JobProgress:
    """Context manager: `advance(weight, rows)` per finished mini-batch; `tick()` redraws at most 10 times a second."""

    def __init__(self, console: Console, total: int, label: str, enabled: bool = True):
        self.enabled = enabled
        self.rows = 0
        self._started = time.perf_counter()
        self._drawn = 0.0
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:>12,} rows"),
            TextColumn("{task.fields[rate]:>10,.0f} rows/s"),
            TimeElapsedColumn(),
            console=console,
            auto_refresh=False,
            disable=not enabled,
        )
        self._task = self._progress.add_task(label, total=max(total, 1), rows=0, rate=0.0)

    def __enter__(self) -> "JobProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.tick(force=True)
        self._progress.stop()

    def advance(self, weight: int, rows: int) -> None:
        self.rows += rows
        self._progress.advance(self._task, weight)

    def finish(self) -> None:
        """Every mini-batch is booked: show the bar full (the weights are the input's bytes, roughly)."""
        self._progress.update(self._task, completed=self._progress.tasks[0].total)

    def tick(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self._drawn < REFRESH_SECONDS):
            return
        self._drawn = now
        rate = self.rows / max(now - self._started, 1e-9)
        self._progress.update(self._task, rows=self.rows, rate=rate)
        self._progress.refresh()
