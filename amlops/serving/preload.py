"""gunicorn's config module for `amlops serve` (`--config python:amlops.serving.preload`): what the
master does before and while it runs the workers.

It imports, once, the libraries every worker then needs, before it forks them. Without that each
worker imports numpy, scikit-learn and scipy (through skops.io, which score.py's init() loads the
model with), Flask and the OpenTelemetry SDK on its own, all at once on a machine of a few cores;
forked after the master imported them, the workers share them copy-on-write and init() only loads
the model. Nothing here runs score.py or configures logging: init() still runs in every worker, as
in Azure. The imports are the model-independent ones: skops imports the estimator's own modules
when init() loads it.

With admission on (the front door's settings carry it), the master also runs the admission's
dispatcher (amlops.serving.admission): started before the first fork, told which worker slot each
fork gets, given back the unit of a worker that died, and stopped first on SIGTERM/SIGINT/SIGQUIT,
so that the workers see the end of the hand-over queue only after every queued connection is in it.
Hooks as documented: https://docs.gunicorn.org/en/stable/settings.html#server-hooks
"""

from __future__ import annotations

import importlib
import os

SHARED = ("numpy", "skops.io", "flask", "opentelemetry.sdk.trace", "amlops.serving.frontdoor", "amlops.serving.telemetry.wiring")
"""What a worker of `amlops serve` imports before and in init(), whatever the model."""


def on_starting(server) -> None:  # noqa: ARG001  (gunicorn's hook: the Arbiter)
    """gunicorn calls this in the master before it starts the workers."""
    for name in SHARED:
        importlib.import_module(name)


def when_ready(server) -> None:
    """The listener is open, no worker forked yet: start the admission, and stop it first on the stop signals."""
    from amlops.serving import admission
    from amlops.serving.settings import LISTENER_FD, FrontDoorSettings

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
