"""One worker process: import the entry script, call init() once, then run() each mini-batch it is sent.

Messages to the parent (tuples over a pipe): ("ready", pid, init_seconds, part file),
("init_failed", pid, traceback, summary), and per mini-batch ("done", id, items, Rows, seconds)
or ("failed", id, status, items, message, traceback, seconds). With append_row, the
rows' CSV bytes go to the worker's part file and Rows carries their byte range.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import sys
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType

from amlops.batching import output, reader
from amlops.batching.settings import BatchSettings

MODEL_DIR_ENV = "AZUREML_MODEL_DIR"
RUN_EXCEPTION = "RUN_EXCEPTION"
INPUT_ERROR = "INPUT_ERROR"


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


def _configure_logging(level: str, log_file: Path) -> None:
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def serve(conn: Connection, slot: int, script: Path, model_dir: Path, settings: BatchSettings, out_dir: Path) -> None:
    """The worker's whole life; returns when the parent sends None or closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    _configure_logging(settings.logging_level, out_dir / "logs" / f"worker{slot}.log")
    log = logging.getLogger("amlops.batch.worker")
    os.environ.update(settings.environment_variables)
    os.environ[MODEL_DIR_ENV] = str(model_dir)
    started = time.perf_counter()
    phase = "importing it"
    try:
        module = load_script(script)
        phase = "init()"
        module.init()
    except EntryScriptError as exc:
        conn.send(("init_failed", os.getpid(), traceback.format_exc(), str(exc)))
        return
    except BaseException as exc:
        conn.send(("init_failed", os.getpid(), traceback.format_exc(), f"{phase} failed: {type(exc).__name__}: {exc}"))
        return
    part = None
    if settings.output_action == "append_row":
        part = output.PartFile(output.part_path(out_dir, settings.output_file_name, slot, os.getpid()))
    conn.send(("ready", os.getpid(), time.perf_counter() - started, part.path if part else None))
    log.info("worker %d (pid %d) ready: %s init() took %.3f s", slot, os.getpid(), script.name, time.perf_counter() - started)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            break
        if task is None:
            break
        conn.send(_process(module, task, part, log))
    shutdown = getattr(module, "shutdown", None)
    if callable(shutdown):
        shutdown()


def _process(module: ModuleType, mb, part: output.PartFile | None, log: logging.Logger) -> tuple:
    t0 = time.perf_counter()
    try:
        given = reader.read(mb)
    except reader.InputError as exc:
        return ("failed", mb.id, INPUT_ERROR, mb.items, str(exc), "", time.perf_counter() - t0)
    items = len(given)
    try:
        rows = output.collect(module.run(given), given, formatted=part is not None)
    except Exception as exc:
        log.exception("mini-batch %d: run() raised", mb.id)
        return ("failed", mb.id, RUN_EXCEPTION, items, f"{type(exc).__name__}: {exc}", traceback.format_exc(), time.perf_counter() - t0)
    if part is not None:
        rows = part.store(rows)
    log.debug("mini-batch %d: %d items, %d rows returned", mb.id, items, rows.returned)
    return ("done", mb.id, items, rows, time.perf_counter() - t0)
