"""Run one batch job locally as an Azure batch model deployment runs it: plan, dispatch, retry, write, report.

The parent streams mini-batches (lists of files) to forked workers, retries a mini-batch
whose run() raised, timed out or whose worker died (up to max_retries), and checks
errorThreshold (failed files) after every outcome. A job in which no file succeeded has
failed, as in Azure ("No succeeded mini batch item returned from run()",
https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-batch-endpoints). Its outputs replace an earlier job's only when it succeeds: the
append_row file is assembled without a name, and the script's own outputs
(AZUREML_BI_OUTPUT_PATH) go to the job's reports folder first. Ctrl-C or SIGTERM stops
the workers; a SIGKILL of this process kills them too (see worker.die_with_parent).
"""

from __future__ import annotations

import collections
import importlib
import os
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from rich.console import Console

from amlops import gcpause
from amlops.batching import artifact, planner, records, reports, worker
from amlops.batching.errors import EntryScriptFailed
from amlops.batching.output import OutputFile
from amlops.batching.pool import Lost, Message, WorkerPool
from amlops.batching.progress import JobProgress
from amlops.batching.settings import DEFAULT_SCRIPTS, BatchSettings
from amlops.batching.split import BadRowLimit, PartStream
from amlops.errors import DataError, UsageError

PREIMPORT = ("pandas", "pyarrow.csv", "pyarrow.parquet", "sklearn.linear_model", "yaml")
"""Imported by the parent before forking, after skops.io (amlops.skopsimport), so every worker starts with them
loaded (the cheapest start)."""
POLL_SECONDS = 0.1
SCRIPT_OUTPUTS = "outputs"
"""The reports folder's subfolder the script writes to (AZUREML_BI_OUTPUT_PATH) until the job succeeds."""
PARTS = "parts"
"""The reports folder's subfolder a table given directly is cut into (removed when the job ends)."""
REJECTS = "rejects.csv"
"""The rows of a table given directly that the model cannot score: source, line, column, reason."""
DEFAULT_PART_SIZE = 1024 * 1024
"""1MB: the part size `amlops batch split` defaults to (measured fastest; see benchmarks/batch)."""
TABLES = (".csv", ".parquet")


@dataclass
class JobSpec:
    """One local batch job: what to read, where to write, with which settings, script and model."""

    input: Path
    output_dir: Path
    """The output location: what Azure's job output folder would hold."""
    reports_dir: Path
    """This job's own folder: reports, worker logs, and the script's outputs until the job succeeds."""
    settings: BatchSettings
    model_dir: Path
    model_label: str = ""
    """How the summary names the model (NAME:VERSION, or the folder)."""
    script: Path | None = None
    """The entry script; default batch/tabular_batch.py or batch/file_batch.py by mode."""
    overwrite: bool = False
    progress: bool = True
    max_bad: BadRowLimit = field(default_factory=BadRowLimit)
    """Rows of a table given directly that may be set aside as unscorable (`--max-bad-rows`)."""
    encoding: str = "utf-8"
    """The encoding of a CSV table given directly (`--encoding`); parts are written as UTF-8."""
    part_size: int = DEFAULT_PART_SIZE
    """About how large the parts are that a table given directly is cut into."""


class _Terminated(BaseException):
    """SIGTERM arrived: stop like Ctrl-C."""


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_output(spec: JobSpec) -> Path:
    """The output location, refused when it holds an earlier job's output and --overwrite was not given."""
    out = spec.output_dir
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output {out} is a file; pass a folder")
    if out.is_dir() and not spec.overwrite:
        taken = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        if taken:
            shown = ", ".join(taken[:3]) + (" …" if len(taken) > 3 else "")
            raise UsageError(
                f"{out} already holds a batch job's output ({shown}); pass another --output or add --overwrite "
                "(it replaces the earlier output only if the new job succeeds)"
            )
    out.mkdir(parents=True, exist_ok=True)
    return out


def _prepare_reports(spec: JobSpec) -> Path:
    folder = spec.reports_dir
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"reports folder {folder} is not empty; every job needs a folder of its own")
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    (folder / SCRIPT_OUTPUTS).mkdir(exist_ok=True)
    return folder


def _publish_script_outputs(staged: Path, out: Path) -> None:
    """Move what the script wrote into the output location, replacing same-named files of an earlier job."""
    for path in sorted(staged.rglob("*")):
        if path.is_file():
            target = out / path.relative_to(staged)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    shutil.rmtree(staged, ignore_errors=True)


def _cut(spec: JobSpec, model_dir: Path, folder: Path) -> PartStream:
    """A table given directly, cut into part files by `amlops batch split`'s rules (rows the model cannot score set
    aside into the reports folder's rejects.csv, within --max-bad-rows), so that every worker has parts to score.
    The parts are cut as the job runs: workers score the first while the parent cuts the next (a bounded few ahead)."""
    return PartStream(spec.input, folder / PARTS, spec.part_size, features=artifact.model_features(model_dir), max_bad=spec.max_bad,
                      encoding=spec.encoding, rejects=folder / REJECTS)


def _preimport() -> None:
    from amlops.skopsimport import import_skops

    import_skops()  # numpy and scikit-learn come with it
    for name in PREIMPORT:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def run_job(spec: JobSpec, console: Console | None = None) -> reports.JobResult:
    """Run the job; returns its result (also written to the reports folder).

    Raises EntryScriptFailed when init() fails, DataError for an unreadable input, and
    re-raises KeyboardInterrupt after cleaning up. Threshold failures, and a job in which
    no file succeeded, are in the result (status FAILED); `raise_for_status` turns them
    into BatchJobFailed.
    """
    console = console or Console(stderr=True)
    s = spec.settings
    script = (spec.script or DEFAULT_SCRIPTS[s.mode]).resolve()
    if not script.is_file():
        raise UsageError(f"entry script {script} does not exist; pass --script PATH")
    model_dir = spec.model_dir.resolve()
    if not model_dir.is_dir():
        raise UsageError(f"model folder {model_dir} does not exist")
    started = time.perf_counter()
    shipped = script in {p.resolve() for p in DEFAULT_SCRIPTS.values()}
    table = spec.input.is_file() and spec.input.suffix.lower() in TABLES and shipped
    if spec.encoding.lower().replace("_", "-") not in ("utf-8", "utf8") and not table:
        raise UsageError(
            "--encoding applies to a CSV table given directly (the job cuts it into UTF-8 parts); the entry scripts read "
            "part files as UTF-8, as in Azure: cut the table with `amlops batch split --encoding ENCODING` first"
        )
    if table:
        planner.check_id_columns([spec.input], s.id_columns)  # named on the table, not on a part cut from it
    else:
        plan = planner.plan(spec.input, s.mini_batch_size, s.id_columns)
    out = _check_output(spec)
    folder = _prepare_reports(spec)
    cut: PartStream | None = None
    if table:
        cut = _cut(spec, model_dir, folder)
        plan = planner.streamed(cut, s.mini_batch_size, spec.input.stat().st_size)
    _preimport()
    gcpause.resume()  # what the workers need is imported: collections restart, the `batch run` command paused them
    sink = OutputFile(out / s.output_file_name) if s.output_action == "append_row" else None
    ctx = worker.WorkerContext(
        script=script, model_dir=model_dir, settings=s, output_dir=folder / SCRIPT_OUTPUTS,
        log_dir=folder / "logs", part_dir=folder if sink else None, count_rows=shipped,
    )
    pool = WorkerPool(s.workers, worker.serve, (os.getpid(), ctx))
    ledger = reports.Ledger(folder, s)
    ledger.counts.rows_counted = shipped
    runner = _Dispatcher(plan, pool, ledger, sink, s, script.name, ahead=2 * s.workers if cut is not None else 0)
    status, reason = "FAILED", None
    scoring_started = time.perf_counter()
    try:
        with _sigterm_as_interrupt():
            pool.start()
            label = f"{spec.input.name} → {s.output_file_name if sink else 'per-file outputs'}"
            with JobProgress(console, plan.total_weight, label, enabled=spec.progress) as progress:
                reason = runner.run(progress)
            if reason is None and ledger.counts.items_succeeded == 0:
                reason = f"no file succeeded: all {ledger.counts.items_failed} failed (Azure fails such a job whatever errorThreshold says)"
            status = "FAILED" if reason else "SUCCEEDED"
    except (EntryScriptFailed, DataError) as exc:  # DataError: the table being cut holds more bad rows than allowed
        reason = str(exc).splitlines()[0]
        raise
    except (KeyboardInterrupt, _Terminated):
        status, reason = "INTERRUPTED", "interrupted (Ctrl-C or SIGTERM); no output written"
        raise KeyboardInterrupt from None
    finally:
        if status == "SUCCEEDED":
            pool.stop()
        else:
            pool.kill()
        runner.abort_pending()
        for part in folder.glob(".part-*"):  # a worker stopped before the parent claimed its part file
            part.unlink(missing_ok=True)
        cut_result = None
        if cut is not None:
            shutil.rmtree(cut.folder, ignore_errors=True)
            if cut.finished:  # a job stopped early may not have cut the whole table
                cut_result = cut.result()
                ledger.counts.rows_rejected = len(cut_result.rejected)
        output_file = None
        if status == "SUCCEEDED":
            if shipped and s.mode == "files":  # the rows scored are the outputs' data records (not the paths append_row wrote)
                ledger.counts.rows_scored = sum(records.file_records(p) or 0 for p in (folder / SCRIPT_OUTPUTS).rglob("*.csv"))
            _publish_script_outputs(folder / SCRIPT_OUTPUTS, out)
            if sink is not None:
                output_file = str(sink.commit())
        elif sink is not None:
            sink.discard()
        ledger.close()
        finished = time.perf_counter()
        elapsed, scoring = finished - started, finished - scoring_started
        c = ledger.counts
        result = reports.JobResult(
            status=status, reason=reason, counts=c, elapsed_seconds=round(elapsed, 3),
            scoring_seconds=round(scoring, 3), files_per_second=round(c.items_succeeded / scoring if scoring else 0.0, 2),
            lines_per_second=round((c.rows_scored if c.rows_counted else c.output_lines) / scoring if scoring else 0.0, 1),
            output_dir=str(out), output_file=output_file, reports_dir=str(folder), mode=s.mode, input=str(spec.input),
            script=str(script), model=spec.model_label or str(model_dir), workers=s.workers,
            instance_count=s.instance_count, settings=asdict(s), first_errors=ledger.first_errors,
            finished=reports.now(), rejects_file=str(cut_result.rejects_file) if cut_result and cut_result.rejects_file else None,
            parts=len(plan.files) if cut else 0,
        )
        result.write(folder)
    return result


class _Dispatcher:
    """The parent's loop: keep every ready worker busy, book every outcome, stop on a threshold."""

    def __init__(self, plan: planner.Plan, pool: WorkerPool, ledger: reports.Ledger, sink: OutputFile | None, s: BatchSettings,
                 script_name: str, ahead: int = 0):
        self.plan = plan
        self.ahead = ahead
        """Mini-batches to take from the plan before a worker asks (a table being cut: the parent cuts while workers score)."""
        self.ready: collections.deque = collections.deque()
        self.pool = pool
        self.ledger = ledger
        self.sink = sink
        self.s = s
        self.retry: collections.deque = collections.deque()
        self.attempts: dict[int, int] = {}
        self.in_flight: dict[int, planner.MiniBatch] = {}
        self.exhausted = False
        self.script_name = script_name
        self.parts: dict[int, Path | None] = {}

    def _take(self) -> planner.MiniBatch | None:
        mb = next(self.plan.mini_batches, None)
        if mb is None:
            self.exhausted = True
        return mb

    def _next(self) -> planner.MiniBatch | None:
        if self.retry:
            return self.retry.popleft()
        mb = self.ready.popleft() if self.ready else None if self.exhausted else self._take()
        if mb is not None:
            self.ledger.created(mb)
        return mb

    def _prepare(self) -> bool:
        """Take one more mini-batch from the plan while the workers are busy (cutting a part), up to `ahead`;
        True when it did (the caller then only glances at the workers before preparing the next)."""
        if self.exhausted or len(self.ready) >= self.ahead:
            return False
        mb = self._take()
        if mb is not None:
            self.ready.append(mb)
        return True

    def run(self, progress: JobProgress) -> str | None:
        """Dispatch until every mini-batch is booked; returns why the job failed, or None."""
        while True:
            for w in self.pool.idle():
                mb = self._next()
                if mb is None:
                    break
                self.attempts[mb.id] = self.attempts.get(mb.id, 0) + 1
                self.in_flight[mb.id] = mb
                self.pool.submit(w, mb, self.s.timeout)
            if self.exhausted and not self.ready and not self.retry and not self.in_flight:
                progress.finish()
                return None
            for event in self.pool.poll(0.0 if self._prepare() else POLL_SECONDS):
                self._book(event, progress)
                reason = self.ledger.exceeded()
                if reason:
                    return reason
            progress.tick()

    def _book(self, event: Message | Lost, progress: JobProgress) -> None:
        if isinstance(event, Lost):
            if event.task is None:
                if not event.worker.ready:
                    raise EntryScriptFailed(
                        f"{self.script_name}: a worker died in init() (exit code {event.exitcode}) before it could take work"
                    )
                return
            why = (
                f"worker exit code {event.exitcode}" if event.reason == "PROCESS_DIED"
                else f"run() did not return within retry_settings.timeout={self.s.timeout:g} s; worker killed and replaced"
            )
            counted = worker.rows_in(event.task.paths) if self.ledger.counts.rows_counted else None
            if self._failed(event.task, event.reason, why, "", event.worker.pid, event.seconds, None, counted):
                progress.advance(event.task.weight, 0)
            return
        body = event.body
        if isinstance(body, worker.Ready):
            self.parts[event.worker.pid] = body.part
            if self.sink is not None and body.part is not None:
                self.sink.claim(body.part)
            return
        if isinstance(body, worker.InitFailed):
            self.ledger.note(f"init() failed in worker process {body.pid}:\n{body.trace.rstrip()}")
            raise EntryScriptFailed(
                f"{self.script_name}: {body.summary}; nothing was scored "
                f"(stack trace in {self.ledger.out_dir / reports.ERRORS_FILE})"
            )
        mb: planner.MiniBatch = event.task
        if isinstance(body, worker.Done):
            del self.in_flight[mb.id]
            if self.sink is not None:
                self.sink.settle(mb.id, self.parts[event.worker.pid], body.rows.offset, body.rows.length)
            log = f"logs/worker{event.worker.slot}.log"
            self.ledger.succeeded(mb, body.items, body.rows, body.seconds, event.worker.pid, self.attempts[mb.id], log, body.rows_in,
                                  body.header_only)
            progress.advance(mb.weight, body.rows.lines)
        elif self._failed(mb, body.status, body.message, body.trace, event.worker.pid, body.seconds, body.items, body.rows_in):
            progress.advance(mb.weight, 0)

    def _failed(self, mb: planner.MiniBatch, status: str, message: str, trace: str, pid: int, seconds: float,
                items: int | None, rows_in: int | None) -> bool:
        """Book a failed attempt and queue a retry if any is left; True when the mini-batch has failed for good."""
        attempt = self.attempts[mb.id]
        retrying = attempt <= self.s.max_retries
        self.ledger.attempt_failed(mb, attempt, status, message, trace, pid, seconds, retrying, items, rows_in)
        if retrying:
            self.retry.append(mb)
        else:
            del self.in_flight[mb.id]
            if self.sink is not None:
                self.sink.settle(mb.id)
        return not retrying

    def abort_pending(self) -> None:
        """Book whatever was in flight or queued when the job stopped early."""
        for mb in list(self.in_flight.values()) + list(self.retry):
            self.ledger.aborted(mb, self.attempts.get(mb.id, 0))
