"""gunicorn's config module for `amlops serve` (`--config python:amlops.serving.preload`): the master
imports, once, the libraries every worker then needs, before it forks the workers.

Without it each worker imports numpy, scikit-learn and scipy (through skops.io, which score.py's
init() loads the model with), Flask and the OpenTelemetry SDK on its own, all at once on a
machine of a few cores; forked after the master imported them, the workers share them
copy-on-write and init() only loads the model. Nothing here runs score.py or configures logging:
init() still runs in every worker, as in Azure. The imports are the model-independent ones: skops
imports the estimator's own modules when init() loads it.
"""

from __future__ import annotations

import importlib

SHARED = ("numpy", "skops.io", "flask", "opentelemetry.sdk.trace", "amlops.serving.frontdoor", "amlops.serving.telemetry.wiring")
"""What a worker of `amlops serve` imports before and in init(), whatever the model."""


def on_starting(server) -> None:  # noqa: ARG001  (gunicorn's hook: the Arbiter)
    """gunicorn calls this in the master before it starts the workers."""
    for name in SHARED:
        importlib.import_module(name)
