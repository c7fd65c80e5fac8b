"""One worker process: import the entry script, call init() once, then run() on each mini-batch of file paths.

It sets what Azure sets for a batch model deployment's scoring script: AZUREML_MODEL_DIR
(the model folder), AZUREML_BI_OUTPUT_PATH (the job's output folder) and the deployment's
environment variables (https://learn.microsoft.com/azure/machine-learning/how-to-batch-scoring-script,
https://learn.microsoft.com/azure/machine-learning/how-to-deploy-model-custom-output).
Messages to the parent are the dataclasses below; with append_row, the rendered output
goes to the worker's part file and `Done.rows` carries its byte range.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType

from amlops.batching import output, records
from amlops.batching.planner import MiniBatch
from amlops.batching.settings import BatchSettings

MODEL_DIR_ENV = "AZUREML_MODEL_DIR"
OUTPUT_PATH_ENV = "AZUREML_BI_OUTPUT_PATH"
RUN_EXCEPTION = "RUN_EXCEPTION"
_PR_SET_PDEATHSIG = 1
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
"""glibc's mallopt(3) parameters (malloc.h)."""
KEPT_ALLOCATION_BYTES = 32 << 20
"""Allocations up to this size come from the worker's heap, not from a mapping of their own (glibc's ceiling for M_MMAP_THRESHOLD on 64-bit)."""
KEPT_FREE_BYTES = 256 << 20
"""Freed memory the worker's heap keeps for the next mini-batch instead of returning it to the kernel."""


@dataclass(frozen=True)
class Ready:
    """init() returned; the worker takes mini-batches (its output goes to `part`, if any)."""

    pid: int
    init_seconds: float
    part: Path | None


@dataclass(frozen=True)
class InitFailed:
    """Importing the script or init() failed: nothing can run."""

    pid: int
    trace: str
    summary: str


@dataclass(frozen=True)
class Done:
    """run() returned for mini-batch `mini_batch_id`."""

    mini_batch_id: int
    items: int
    rows: output.Rows
    seconds: float
    rows_in: int | None = None
    """Records in the mini-batch's files (when the job counts rows)."""
    header_only: int = 0
    """Files of the mini-batch that hold a header but no rows (when the job counts rows)."""


@dataclass(frozen=True)
class Failed:
    """run() raised (or returned something append_row cannot write) for mini-batch `mini_batch_id`."""

    mini_batch_id: int
    status: str
    items: int
    message: str
    trace: str
    seconds: float
    rows_in: int | None = None
    header_only: int = 0


@dataclass(frozen=True)
class WorkerContext:
    """What every worker needs: the script, the model, the settings, where outputs and logs go."""

    script: Path
    model_dir: Path
    settings: BatchSettings
    output_dir: Path
    """AZUREML_BI_OUTPUT_PATH: where the script may write its own outputs."""
    log_dir: Path
    part_dir: Path | None
    """Where the worker's part file goes (append_row), else None."""
    count_rows: bool = False
    """Count the records of each input file (the shipped scripts: their output rows are input rows)."""


class EntryScriptError(ImportError):
    """The entry script cannot be imported or lacks init()/run()."""


def load_script(path: Path) -> ModuleType:
    """Import the entry script by path, with its folder importable (as Azure runs it from the code folder)."""
    folder = str(path.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise EntryScriptError("cannot be imported as a Python module (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    missing = [f for f in ("init", "run") if not callable(getattr(module, f, None))]
    if missing:
        raise EntryScriptError(
            f"defines no {' or '.join(f + '()' for f in missing)}; Azure calls init() once and run(mini_batch) per mini-batch"
        )
    return module


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to kill this process when its parent dies (even by SIGKILL), so no worker outlives the job."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the closed pipe still ends the worker once run() returns
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep what the worker frees for the next mini-batch (mallopt(3): M_MMAP_THRESHOLD,
    M_TRIM_THRESHOLD); True when it took both settings.

    Each mini-batch allocates and frees the same large buffers (a file's bytes, its arrays, the output
    text). With glibc's defaults each of them is a mapping of its own, returned to the kernel when freed,
    so the next mini-batch faults every page in again and the kernel zeroes it. A worker's peak is bounded
    by its largest mini-batch, so keeping that memory costs nothing the job would not use again. Not glibc
    (another libc, another OS): nothing changes."""
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, KEPT_ALLOCATION_BYTES)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, KEPT_FREE_BYTES))
    except (OSError, AttributeError):
        return False


def _configure_logging(level: str, log_file: Path) -> None:
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def serve(conn: Connection, slot: int, parent_pid: int, ctx: WorkerContext) -> None:
    """The worker's whole life; returns when the parent sends None or closes the pipe."""
    die_with_parent(parent_pid)
    keep_freed_memory()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    _configure_logging(ctx.settings.logging_level, ctx.log_dir / f"worker{slot}.log")
    log = logging.getLogger("amlops.batch.worker")
    os.environ.update(ctx.settings.environment_variables)
    os.environ[MODEL_DIR_ENV] = str(ctx.model_dir)
    os.environ[OUTPUT_PATH_ENV] = str(ctx.output_dir)
    # A batch deployment passes the script none of our program arguments: the CLI's own (--model, --output …) must not reach it.
    sys.argv = [str(ctx.script)]
    started = time.perf_counter()
    phase = "importing it"
    try:
        module = load_script(ctx.script)
        phase = "init()"
        module.init()
    except EntryScriptError as exc:
        conn.send(InitFailed(os.getpid(), traceback.format_exc(), str(exc)))
        return
    except BaseException as exc:
        conn.send(InitFailed(os.getpid(), traceback.format_exc(), f"{phase} failed: {type(exc).__name__}: {exc}"))
        return
    part = output.PartFile(output.part_path(ctx.part_dir, slot, os.getpid())) if ctx.part_dir else None
    conn.send(Ready(os.getpid(), time.perf_counter() - started, part.path if part else None))
    log.info("worker %d (pid %d) ready: %s init() took %.3f s", slot, os.getpid(), ctx.script.name, time.perf_counter() - started)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            break
        if task is None:
            break
        conn.send(_process(module, task, part, log, ctx.count_rows))
    shutdown = getattr(module, "shutdown", None)
    if callable(shutdown):
        shutdown()


def rows_in(paths: tuple[str, ...] | list[str]) -> int:
    """Records in the files (an unreadable one counts none: its rows are unknown)."""
    return sum(records.file_records(p) or 0 for p in paths)


def _counted(paths: list[str]) -> tuple[int, int]:
    """(records in the files, files that hold a header but no rows); an unreadable file counts in neither."""
    found = [records.file_records(p) for p in paths]
    return sum(n or 0 for n in found), sum(1 for p, n in zip(paths, found) if n == 0 and records.has_header(p))


def _process(module: ModuleType, mb: MiniBatch, part: output.PartFile | None, log: logging.Logger, count_rows: bool) -> Done | Failed:
    t0 = time.perf_counter()
    given = list(mb.paths)
    read, empty = _counted(given) if count_rows else (None, 0)
    try:
        rows = output.collect(module.run(given), given, formatted=part is not None)
    except Exception as exc:
        log.exception("mini-batch %d: run() raised", mb.id)
        return Failed(mb.id, RUN_EXCEPTION, len(given), f"{type(exc).__name__}: {exc}", traceback.format_exc(),
                      time.perf_counter() - t0, read, empty)
    if part is not None:
        rows = part.store(rows)
    log.debug("mini-batch %d: %d files, %d elements returned", mb.id, len(given), rows.returned)
    return Done(mb.id, len(given), rows, time.perf_counter() - t0, read, empty)
