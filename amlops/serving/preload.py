"""gunicorn's config module for `amlops serve` (`--config python:amlops.serving.preload`): what the
master does before and while it runs the workers.

It imports, once, the libraries every worker then needs, before it forks them, then builds the
scoring package of a model not served before in a child forked from it (`start_build`: the specs
are generated from the model, which score.py's own load() reads). Without that each worker imports numpy,
scikit-learn and scipy (through skops.io, which score.py's init() loads the model with), Flask
and the OpenTelemetry SDK on its own, all at once on a machine of a few cores; forked after the
master imported them, the workers share them copy-on-write and init() only loads the model.
init() still runs in every worker, as in Azure, never here. The imports are the
model-independent ones: skops imports the estimator's own modules when init() loads it.

With admission on (the front door's settings carry it), the master also runs the admission's
dispatcher (amlops.serving.admission): started before the first fork, told which worker slot each
fork gets, given back the unit of a worker that died, and stopped first on SIGTERM/SIGINT/SIGQUIT,
so that the workers see the end of the hand-over queue only after every queued connection is in it.
Hooks as documented: https://docs.gunicorn.org/en/stable/settings.html#server-hooks
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

from amlops import gcpause
from amlops.serving.settings import BUILD_PACKAGE
from amlops.skopsimport import import_skops

SERVER_LIBRARIES = ("flask", "opentelemetry.sdk.trace", "amlops.serving.frontdoor", "amlops.serving.telemetry.wiring")
"""What a worker of `amlops serve` imports besides the model's libraries (numpy, scikit-learn and scipy come with
skops.io, imported before the build by import_skops), whatever the model."""


PACKAGE_ERROR_EXIT = 3
"""The master's exit code when the scoring package cannot be built (its message is in the spec's error file)."""


def on_starting(server) -> None:  # noqa: ARG001  (gunicorn's hook: the Arbiter)
    """gunicorn calls this in the master before it starts the workers (and before it opens the listener or starts
    any thread): the shared imports, and the package of a model not served before, built by a child forked once
    the model's libraries are imported, while the master imports the server's."""
    gcpause.pause()  # the master's imports: collected never, frozen before the workers fork (amlops.gcpause)
    try:
        import_skops()  # what loading a model needs, with numpy and scipy listed first (amlops.skopsimport)
        build = os.environ.get(BUILD_PACKAGE)
        child = start_build(json.loads(build)) if build else None
        for name in SERVER_LIBRARIES:
            importlib.import_module(name)
        if child is not None:
            child.wait()
    finally:
        gcpause.resume()


class _Build:
    """The child process building a package: its pid and the spec's error file."""

    def __init__(self, pid: int, spec: dict):
        self.pid, self.spec = pid, spec

    def wait(self) -> None:
        """Until the child exits; SystemExit(PACKAGE_ERROR_EXIT) when the build failed."""
        returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        if returncode != 0:
            error_file = Path(self.spec["error_file"])
            if not error_file.exists():
                error_file.write_text(f"building the scoring package failed (exit code {returncode}); see the lines above")
            raise SystemExit(PACKAGE_ERROR_EXIT)


def start_build(spec: dict) -> _Build:
    """Build the scoring package of a model not served before (infra.scoring_package: it loads the model
    to generate the specs). Started by the master rather than by `amlops serve`'s own process, which then
    never imports scikit-learn, pandas or the inference server.

    The build runs in a child forked from the master once skops.io is imported, as the workers
    are, never in the master itself: generating the specs scores the model, and a model that scores on OpenMP
    threads (a brute-force KNeighbors, a HistGradientBoosting) leaves the process's thread pool in a state a
    later fork deadlocks on at its first predict (a fork copies the pool's lock but not its threads). Forked
    rather than started afresh, the child imports nothing the master already has (numpy, scikit-learn, scipy
    through skops.io): only the packager's own modules."""
    import sys
    import traceback

    pid = os.fork()
    if pid == 0:  # the child: build, then leave without running the master's exit handlers
        code = 1
        try:
            build_here(spec)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - reported on stderr, then the exit code says it failed
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return _Build(pid, spec)


def build_here(spec: dict) -> None:
    """The build itself, in the child process `start_build` forks."""
    from infra import scoring_package
    from infra.errors import ScoringPackageError

    try:
        scoring_package.package_scoring(
            Path(spec["model_dir"]), max_rows=spec["max_rows"], title=spec["title"], scoring_dir=Path(spec["scoring_dir"]),
        )
    except ScoringPackageError as exc:
        Path(spec["error_file"]).write_text(str(exc))
        raise SystemExit(PACKAGE_ERROR_EXIT) from None


def when_ready(server) -> None:
    """The listener is open, no worker forked yet: start the admission, and stop it first on the stop signals;
    the master leaves without tearing down its interpreter (`_exit_at_halt`)."""
    from amlops.serving import admission
    from amlops.serving.settings import LISTENER_FD, FrontDoorSettings

    _exit_at_halt(server)
    settings = FrontDoorSettings.from_env(os.environ).admission
    if settings is None:
        return
    installed = admission.install(settings, int(os.environ[LISTENER_FD]))
    for signame, drain in (("term", True), ("int", False), ("quit", False)):
        handler = getattr(server, f"handle_{signame}")

        def stopping(handler=handler, drain=drain) -> None:
            installed.stop(drain)
            handler()

        setattr(server, f"handle_{signame}", stopping)  # the Arbiter looks its handlers up by name on itself


def pre_fork(server, worker) -> None:  # noqa: ARG001
    from amlops.serving import admission

    installed = admission.installed()
    if installed is not None:
        worker.admission_slot = installed.worker_forking(id(worker))


def child_exit(server, worker) -> None:  # noqa: ARG001
    from amlops.serving import admission

    installed = admission.installed()
    if installed is not None:
        installed.worker_exited(id(worker))


def _exit_at_halt(server) -> None:
    """Once gunicorn's halt() has stopped the workers and logged, flush and leave with its exit status.

    Measured (benchmarks/serving/start.py): tearing down the master's interpreter — numpy,
    scikit-learn, Flask, OpenTelemetry, imported for the workers — took 1.5-2 s of a SIGTERM's
    2-3 s on a loaded 2-core machine, after the last worker had exited; nothing in the master
    needs it (the workers flush their own telemetry before they exit)."""
    import logging
    import sys

    halt = server.halt

    def halting(reason=None, exit_status=0) -> None:
        try:
            halt(reason, exit_status)
        except SystemExit as exc:
            exit_status = exc.code if isinstance(exc.code, int) else 1
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exit_status)

    server.halt = halting
