"""Run one batch job locally with Azure's parallel-job semantics: plan, dispatch, retry, write, report.

The parent streams mini-batch plans to forked workers, retries a mini-batch whose run()
raised, timed out or whose worker died (up to max_retries), appends each worker's
ready-made CSV bytes to a hidden partial file, and renames it into place only when the
job succeeds. Thresholds are checked after every outcome; Ctrl-C or SIGTERM stops the
workers and removes the partial file.
"""

from __future__ import annotations

import collections
import importlib
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from rich.console import Console

from amlops.batching import planner, reports, worker
from amlops.batching.errors import EntryScriptFailed
from amlops.batching.output import OutputFile
from amlops.batching.pool import Lost, Message, WorkerPool
from amlops.batching.progress import JobProgress
from amlops.batching.settings import DEFAULT_SCRIPTS, BatchSettings
from amlops.errors import UsageError

PREIMPORT = ("numpy", "pandas", "pyarrow.csv", "sklearn.linear_model", "skops.io")
"""Imported by the parent before forking, so every worker starts with them loaded (the cheapest start)."""
POLL_SECONDS = 0.1
RESULT_FILES = (reports.SUMMARY_JSON, reports.PROCESSED_FILE, reports.ERRORS_FILE)


@dataclass
class JobSpec:
    """One local batch job: what to read, where to write, with which settings, script and model."""

    input: Path
    output_dir: Path
    settings: BatchSettings
    model_dir: Path
    model_label: str = ""
    """How the summary names the model (NAME:VERSION, or the folder)."""
    script: Path | None = None
    """The entry script; default batch/tabular_batch.py or batch/file_batch.py by mode."""
    overwrite: bool = False
    progress: bool = True


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


def _prepare_output(spec: JobSpec) -> Path:
    out = spec.output_dir
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output {out} is a file; pass a folder")
    taken = [n for n in (spec.settings.output_file_name, *RESULT_FILES) if (out / n).exists()]
    if taken and not spec.overwrite:
        raise UsageError(
            f"{out} already holds a batch job's results ({', '.join(taken)}); pass another --output or add --overwrite"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    for name in (spec.settings.output_file_name, *RESULT_FILES, reports.SUMMARY_TEXT):
        (out / name).unlink(missing_ok=True)
    for old in (out / "logs").glob("worker*.log"):  # workers append: start each job's logs afresh
        old.unlink()
    return out


def _preimport() -> None:
    for name in PREIMPORT:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def run_job(spec: JobSpec, console: Console | None = None) -> reports.JobResult:
    """Run the job; returns its result (also written under the output folder).

    Raises EntryScriptFailed when init() fails, DataError for an unreadable input, and
    re-raises KeyboardInterrupt after cleaning up. Threshold failures are in the result
    (status FAILED); `raise_for_status` turns them into BatchJobFailed.
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
    plan = planner.plan(spec.input, s.mode, s.mini_batch_size)
    out = _prepare_output(spec)
    _preimport()
    pool = WorkerPool(s.workers, worker.serve, (script, model_dir, s, out))
    ledger = reports.Ledger(out, s)
    sink = OutputFile(out / s.output_file_name) if s.output_action == "append_row" else None
    runner = _Dispatcher(plan, pool, ledger, sink, s)
    status, reason = "FAILED", None
    scoring_started = time.perf_counter()
    try:
        with _sigterm_as_interrupt():
            pool.start()
            label = f"{spec.input.name} → {s.output_file_name if sink else 'summary only'}"
            with JobProgress(console, plan.total_weight, label, enabled=spec.progress) as progress:
                reason = runner.run(progress)
            status = "FAILED" if reason else "SUCCEEDED"
    except EntryScriptFailed as exc:
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
        output_file = None
        if sink is not None:
            if status == "SUCCEEDED":
                output_file = str(sink.commit())
            else:
                sink.discard()
        ledger.close()
        finished = time.perf_counter()
        elapsed, scoring = finished - started, finished - scoring_started
        c = ledger.counts
        result = reports.JobResult(
            status=status, reason=reason, counts=c, elapsed_seconds=round(elapsed, 3),
            scoring_seconds=round(scoring, 3), rows_per_second=round(c.items_succeeded / scoring if scoring else 0.0, 1),
            output_dir=str(out), output_file=output_file, mode=s.mode, input=str(spec.input),
            script=str(script), model=spec.model_label or str(model_dir), workers=s.workers,
            instance_count=s.instance_count, settings=asdict(s), first_errors=ledger.first_errors,
            finished=reports.now(),
        )
        result.write(out)
    return result


class _Dispatcher:
    """The parent's loop: keep every ready worker busy, book every outcome, stop on a threshold."""

    def __init__(self, plan: planner.Plan, pool: WorkerPool, ledger: reports.Ledger, sink: OutputFile | None, s: BatchSettings):
        self.plan = plan
        self.pool = pool
        self.ledger = ledger
        self.sink = sink
        self.s = s
        self.retry: collections.deque = collections.deque()
        self.attempts: dict[int, int] = {}
        self.in_flight: dict[int, planner.MiniBatch] = {}
        self.exhausted = False
        self.script_name = Path(pool.args[0]).name
        self.parts: dict[int, Path | None] = {}

    def _next(self) -> planner.MiniBatch | None:
        if self.retry:
            return self.retry.popleft()
        if self.exhausted:
            return None
        mb = next(self.plan.mini_batches, None)
        if mb is None:
            self.exhausted = True
            return None
        self.ledger.created(mb)
        return mb

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
            if self.exhausted and not self.retry and not self.in_flight:
                progress.finish()
                return None
            for event in self.pool.poll(POLL_SECONDS):
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
            if self._failed(event.task, event.reason, why, "", event.worker.pid, event.seconds, None):
                progress.advance(event.task.weight, 0)
            return
        body = event.body
        kind = body[0]
        if kind == "ready":
            self.parts[event.worker.pid] = body[3]
            return
        if kind == "init_failed":
            trace = body[2].rstrip()
            self.ledger.note(f"init() failed in worker process {body[1]}:\n{trace}")
            raise EntryScriptFailed(
                f"{self.script_name}: {body[3]}; nothing was scored "
                f"(stack trace in {self.ledger.out_dir / reports.ERRORS_FILE})"
            )
        mb: planner.MiniBatch = event.task
        if kind == "done":
            _, _, items, rows, seconds = body
            del self.in_flight[mb.id]
            if self.sink is not None:
                self.sink.settle(mb.id, self.parts[event.worker.pid], rows.offset, rows.length)
            log = f"logs/worker{event.worker.slot}.log"
            self.ledger.succeeded(mb, items, rows, seconds, event.worker.pid, self.attempts[mb.id], log)
            progress.advance(mb.weight, min(rows.returned, items))
        else:
            _, _, status, items, message, trace, seconds = body
            if self._failed(mb, status, message, trace, event.worker.pid, seconds, items):
                progress.advance(mb.weight, 0)

    def _failed(self, mb: planner.MiniBatch, status: str, message: str, trace: str, pid: int, seconds: float, items: int | None) -> bool:
        """Book a failed attempt and queue a retry if any is left; True when the mini-batch has failed for good."""
        attempt = self.attempts[mb.id]
        retrying = status != worker.INPUT_ERROR and attempt <= self.s.max_retries
        self.ledger.attempt_failed(mb, attempt, status, message, trace, pid, seconds, retrying, items)
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
