"""The job's books: per mini-batch outcomes, the error log (written as failures happen), the threshold and the summary.

Files in the job's reports folder, after Azure's job reports: `processed_mini-batches.csv`
(one row per mini-batch), `errors.log` (every failed attempt with its stack trace, and
every failed item with its mini-batch id), `job_summary.json` and `job_summary.txt`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from amlops.batching.errors import BatchJobFailed
from amlops.batching.output import Rows
from amlops.batching.planner import MiniBatch
from amlops.batching.settings import BatchSettings

SUCCEEDED = "SUCCEEDED"
ABORTED = "ABORTED"
PROCESSED_FILE = "processed_mini-batches.csv"
ERRORS_FILE = "errors.log"
SUMMARY_JSON = "job_summary.json"
SUMMARY_TEXT = "job_summary.txt"
COLUMNS = ("mini_batch_id", "source", "items", "succeeded", "failed", "attempts", "seconds", "process", "status")


@dataclass
class MiniBatchRecord:
    """One row of processed_mini-batches.csv."""

    mini_batch_id: int
    source: str
    items: int
    succeeded: int
    failed: int
    attempts: int
    seconds: float
    process: int
    status: str


@dataclass
class Counts:
    mini_batches_created: int = 0
    mini_batches_processed: int = 0
    mini_batches_failed: int = 0
    items_succeeded: int = 0
    items_failed: int = 0
    output_elements: int = 0
    output_lines: int = 0
    retries: int = 0
    timeouts: int = 0
    process_deaths: int = 0
    rows_counted: bool = False
    """Rows are counted for the shipped scripts only (a custom script's elements are not known to be rows)."""
    rows_in: int = 0
    """Rows read: the table's (when the job cut it) or the input files' records."""
    rows_scored: int = 0
    """Records in the output (append_row: lines outside quoted fields; files mode: the outputs' data records)."""
    rows_rejected: int = 0
    """Rows set aside when the job cut the table (rejects.csv), never given to the script."""
    header_only: int = 0
    """Input files with a header but no rows (counted when rows are): nothing to score, not an error."""
    header_only_failed: int = 0
    """Header-only files among the failed items: the shipped tabular script cannot count one as succeeded without
    a blank line when its mini-batch has fewer rows than files, and Azure counts a file left out as failed."""

    @property
    def rows_not_scored(self) -> int:
        return max(self.rows_in - self.rows_scored, 0)

    @property
    def files_failed(self) -> int:
        """Failed items that held rows or could not be read: the real failures (header-only ones apart)."""
        return self.items_failed - self.header_only_failed

    def header_only_note(self) -> str:
        """How the header-only files fared, for the summary and the threshold message ("" when there are none)."""
        if not self.header_only_failed:
            return f"{self.header_only:,} header-only file(s): no rows" if self.header_only else ""
        return (f"{self.header_only:,} header-only file(s): no rows, {self.header_only_failed:,} of them counted failed as "
                "Azure counts them: their mini-batch had fewer rows than files, and an empty element would be a blank line; "
                "leave such files out of the input, or raise miniBatchSize)")


def now() -> str:
    """UTC time as the reports write it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class Ledger:
    """Records every mini-batch's outcome; appends to errors.log as failures happen."""

    def __init__(self, out_dir: Path, settings: BatchSettings):
        self.out_dir = out_dir
        self.settings = settings
        self.records: dict[int, MiniBatchRecord] = {}
        self.counts = Counts()
        self.first_errors: list[str] = []
        self._errors = (out_dir / ERRORS_FILE).open("w")

    def created(self, mb: MiniBatch) -> None:
        self.counts.mini_batches_created += 1

    def succeeded(self, mb: MiniBatch, items: int, rows: Rows, seconds: float, pid: int, attempts: int, log: str = "",
                  rows_in: int | None = None, header_only: int = 0) -> None:
        ok = min(rows.returned, items)
        failed = items - ok
        c = self.counts
        tabular = self.settings.mode == "tabular"  # files mode: rows are the outputs' records, counted when the job ends
        if rows_in is not None:
            c.rows_in += rows_in
            c.rows_scored += rows.records if tabular else 0
        c.header_only += header_only
        if tabular:  # file_batch writes a header-only output and returns its path: never left out
            c.header_only_failed += _header_only_failed(header_only, failed, rows)
        c.mini_batches_processed += 1
        c.items_succeeded += ok
        c.items_failed += failed
        c.output_elements += rows.returned
        c.output_lines += rows.lines
        self.records[mb.id] = MiniBatchRecord(mb.id, mb.where(), items, ok, failed, attempts, round(seconds, 4), pid, SUCCEEDED)
        if failed:
            named = ", ".join(mb.locate(p) for p in rows.missing)
            more = "" if len(rows.missing) == failed else f" ({failed - len(rows.missing)} more not named)" if named else ""
            which = f": {named}{more}" if named else " (its elements do not name the files, so the entry script's log says which)"
            hint = f"; the entry script's own messages are in {log}" if log else ""
            self._log(
                f"mini-batch {mb.id} ({mb.where()}): {failed} of {items} items failed: "
                f"run() returned {rows.returned} elements{which}{hint}"
            )

    def attempt_failed(
        self, mb: MiniBatch, attempt: int, status: str, message: str, trace: str,
        pid: int, seconds: float, retrying: bool, items: int | None = None, rows_in: int | None = None,
    ) -> None:
        """One failed try; when not `retrying`, the mini-batch has failed and all its items with it."""
        c = self.counts
        if status == "RUN_TIMEOUT":
            c.timeouts += 1
        elif status == "PROCESS_DIED":
            c.process_deaths += 1
        tries = 1 + self.settings.max_retries
        then = "retrying" if retrying else "giving up"
        lines = [f"mini-batch {mb.id} ({mb.where()}) attempt {attempt}/{tries}: {status} in process {pid} after {seconds:.2f} s: {message}; {then}"]
        if trace:
            lines.append(trace.rstrip())
        if retrying:
            c.retries += 1
        else:
            items = mb.items if items is None else items
            if rows_in is not None:
                c.rows_in += rows_in
            c.mini_batches_failed += 1
            c.items_failed += items
            self.records[mb.id] = MiniBatchRecord(mb.id, mb.where(), items, 0, items, attempt, round(seconds, 4), pid, status)
            lines.append(f"mini-batch {mb.id} ({mb.where()}): {status}: all {items} items failed")
        self._log("\n".join(lines))

    def aborted(self, mb: MiniBatch, attempts: int) -> None:
        """A mini-batch in flight or queued when the job stopped: recorded, never run to the end."""
        self.records.setdefault(mb.id, MiniBatchRecord(mb.id, mb.where(), mb.items, 0, 0, attempts, 0.0, 0, ABORTED))

    def note(self, text: str) -> None:
        """Add an entry to the error log."""
        self._log(text)

    def _log(self, text: str) -> None:
        if len(self.first_errors) < 5:
            self.first_errors.append(text.splitlines()[0])
        self._errors.write(f"[{now()}] {text}\n")
        self._errors.flush()

    def exceeded(self) -> str | None:
        """Which threshold the failures so far exceed, and by how much; None while within both."""
        s, c = self.settings, self.counts
        if s.error_threshold != -1 and c.items_failed > s.error_threshold:
            among = f" (among them {c.header_only_note()})" if c.header_only_failed else ""
            return (
                f"error_threshold exceeded: {c.items_failed} files failed{among}, more than the {s.error_threshold} allowed "
                f"(amlops:batch.errorThreshold; -1 ignores all failures)"
            )
        return None

    def close(self) -> None:
        self._errors.close()
        with (self.out_dir / PROCESSED_FILE).open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for mb_id in sorted(self.records):
                writer.writerow(astuple_record(self.records[mb_id]))


def _header_only_failed(header_only: int, failed: int, rows: Rows) -> int:
    """Header-only files among a mini-batch's failed items, by the shipped tabular script's rule: it cuts rows into
    one element each to count them, so fewer elements than output records means every one was counted; none
    returned means all were left out; one element per record with failures: at most min(header-only, failed)
    (exact unless a file with rows failed in the same mini-batch)."""
    if not header_only or not failed or rows.returned < rows.records:
        return 0
    return min(header_only, failed)


def astuple_record(r: MiniBatchRecord) -> tuple:
    return tuple(getattr(r, c) for c in COLUMNS)


@dataclass
class JobResult:
    """What `amlops batch run` reports: status, why, counts, where the files are."""

    status: str
    """SUCCEEDED, FAILED or INTERRUPTED."""
    reason: str | None
    counts: Counts
    elapsed_seconds: float
    """From the start of the job (imports, planning checks) to the output renamed into place."""
    scoring_seconds: float
    """From starting the workers to the last mini-batch booked."""
    files_per_second: float
    """Files succeeded per second of scoring."""
    lines_per_second: float
    """Rows scored per second of scoring (output lines when rows are not counted)."""
    output_dir: str
    """The output location (what Azure's job output folder holds)."""
    output_file: str | None
    reports_dir: str
    mode: str
    input: str
    script: str
    model: str
    workers: int
    instance_count: int
    settings: dict = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)
    finished: str = ""
    rejects_file: str | None = None
    """Where the rows set aside when the job cut the table are (source, line, column, reason)."""
    parts: int = 0
    """Part files the job cut the table into (0: the input was given as files)."""

    def not_scored(self) -> str | None:
        """The loud line when any row read was not scored (None when every row was, or rows are not counted)."""
        c = self.counts
        if not c.rows_counted or self.status != "SUCCEEDED":
            return None
        missing = c.rows_not_scored + c.rows_rejected
        if not missing and not c.files_failed:
            return None
        why = []
        if c.rows_rejected:
            why.append(f"{c.rows_rejected:,} set aside as unscorable ({self.rejects_file})")
        errors = f"{self.reports_dir}/{ERRORS_FILE}"
        if c.files_failed:  # an unreadable file's rows cannot be counted: say so rather than print 0
            counted = f"{c.rows_not_scored:,} in" if c.rows_not_scored else "the rows of"
            why.append(f"{counted} {c.files_failed:,} failed file(s) ({errors})")
        elif c.rows_not_scored:
            why.append(f"{c.rows_not_scored:,} missing from the output ({errors})")
        head = f"{missing:,} of {c.rows_in + c.rows_rejected:,} rows" if missing else "rows"
        return f"{head} were NOT scored: " + "; ".join(why)

    def raise_for_status(self) -> None:
        """Raise BatchJobFailed when a threshold stopped the job."""
        if self.status == "FAILED":
            raise BatchJobFailed(f"batch job failed: {self.reason}; see {self.reports_dir}/{ERRORS_FILE}")

    def lines(self) -> list[str]:
        """The summary, as printed and as job_summary.txt."""
        c = self.counts
        loud = self.not_scored()
        if c.rows_counted:
            rows = (f"rows: {c.rows_in + c.rows_rejected:,} in, {c.rows_scored:,} scored, {c.rows_rejected:,} rejected, "
                    f"{c.rows_not_scored:,} in failed files; files failed: {c.files_failed:,}")
            if c.header_only:
                rows += f"; {c.header_only_note()}"
        else:
            rows = f"rows: not counted (a custom entry script's elements are not known to be rows); files failed: {c.items_failed:,}"
        cut = f" (cut into {self.parts} part files, as `amlops batch split` does)" if self.parts else ""
        out = [
            f"batch job {self.status}" + (f": {self.reason}" if self.reason else f" WITH ROWS NOT SCORED: {loud}" if loud else ""),
            f"input {self.input}{cut} ({self.mode}); script {self.script}; model {self.model}",
            f"ran {self.workers} worker process(es) on 1 local instance (the stack's instanceCount is {self.instance_count}; "
            f"each Azure node would run maxConcurrencyPerInstance={self.workers})",
            f"mini-batches: {c.mini_batches_created} created, {c.mini_batches_processed} processed, {c.mini_batches_failed} failed "
            f"({c.retries} retries, {c.timeouts} timeouts, {c.process_deaths} worker deaths)",
            rows,
            f"files: {c.items_succeeded:,} succeeded, {c.items_failed:,} failed; {c.output_elements:,} elements returned",
            f"elapsed {self.elapsed_seconds:.2f} s (scoring {self.scoring_seconds:.2f} s: {self.files_per_second:,.1f} files/s, {self.lines_per_second:,.0f} rows/s)",
            f"output: {self.output_file or self.output_dir if self.status == 'SUCCEEDED' else 'none (the job did not succeed; an earlier output is untouched)'}",
            f"reports: {self.reports_dir}/{PROCESSED_FILE}, {ERRORS_FILE}, {SUMMARY_JSON}"
            + (f"; rejected rows: {self.rejects_file}" if self.rejects_file else ""),
        ]
        return out

    def write(self, out_dir: Path) -> None:
        (out_dir / SUMMARY_JSON).write_text(json.dumps(asdict(self), indent=2) + "\n")
        (out_dir / SUMMARY_TEXT).write_text("\n".join(self.lines()) + "\n")

