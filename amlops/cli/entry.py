"""The `amlops` console script: run the CLI, then end the process without tearing its modules down.

A Python process that exits normally finalizes the interpreter: it clears every module it imported and
frees every object they hold, one by one. After `amlops batch run` has imported pandas, pyarrow,
scikit-learn and skops (about 2,000 modules), that costs a noticeable part of a small job's wall time
and does nothing for the user: the output has been written, fsynced and renamed by then
(benchmarks/batch measures whole processes, this included).

So once a command has returned, `run()` does what a normal exit does that has an effect outside the
process, in the same order as the interpreter's own shutdown (Py_FinalizeEx): it waits for non-daemon
threads (`threading._shutdown`), runs the atexit handlers (logging's flush and close, multiprocessing's,
pyarrow's), flushes stdout and stderr, and then ends with `os._exit` and the command's exit code.
Python's multiprocessing ends its forked children the same way. What is skipped is the freeing of
memory the kernel reclaims anyway, and `__del__` methods of objects still alive at exit, which Python
does not promise to run either (the note under object.__del__ in the data model docs). So a file
object a command leaves open keeps what it has not flushed: amlops' own writers close or flush theirs
before the command returns (the batch output and reports, the telemetry file's appends, the keys).

An exception that escapes main() is not a command's result: it takes the normal exit, traceback and
all. Tests call main() in process and never reach this.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

FLUSH_FAILED = 120
"""Python's own exit status when flushing stdout or stderr fails at exit (a closed pipe, a full disk)."""


def run() -> None:
    """`amlops ARGS` as the console script runs it: main(), then `finish` with its exit code."""
    from amlops.cli import main

    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise  # a message for the interpreter to print: its normal exit does that
        code = exc.code or 0
    finish(code)


def finish(code: int) -> NoReturn:
    """End the process as a normal exit would, minus the interpreter's teardown of its modules and objects."""
    threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads, as the interpreter's exit does
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is None or stream.closed:  # as the interpreter's own flush at exit, which passes these by
            continue
        try:
            stream.flush()
        except OSError:
            code = code or FLUSH_FAILED
    os._exit(code)
