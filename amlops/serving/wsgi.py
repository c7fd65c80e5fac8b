"""The gunicorn target of `amlops serve` (`amlops.serving.wsgi:app`): the Azure ML inference
server's own Flask app, unchanged, behind the local front door.

Imported once per worker. The server's config module goes first (it installs the server's
logging configuration, which would drop handlers added before it); then telemetry starts,
so that score.py's init() messages are captured; importing the server's entry module
then loads score.py and runs init(). Once the app is built, log records stop carrying fields no
handler reads (amlops.serving.logfields), their timestamps' text is made once a second
(amlops.serving.logtime), and the start-up heap is frozen.
"""

from __future__ import annotations

import atexit
import gc
import os
from pathlib import Path

import azureml_inference_server_http.server.config  # noqa: F401  (logging config first)

from amlops.serving.admission import Gate
from amlops.serving.frontdoor import FrontDoor, KeySource
from amlops.serving.logfields import skip_unread_fields
from amlops.serving.logtime import cache_time_text
from amlops.serving.settings import FrontDoorSettings
from amlops.serving.telemetry.localfile import LocalFile
from amlops.serving.telemetry.wiring import Telemetry, build_exporters

settings = FrontDoorSettings.from_env(os.environ)
telemetry: Telemetry | None = None
if settings.telemetry_file is not None:
    telemetry = Telemetry(
        {
            "service.name": settings.endpoint,
            "service.instance.id": f"{settings.deployment}-{os.getpid()}",
            "deployment": settings.deployment,
            "model": settings.model,
        },
        build_exporters(LocalFile(settings.telemetry_file, settings.telemetry_max_bytes, settings.telemetry_backups), os.environ),
    )
    telemetry.capture_logging()
    atexit.register(telemetry.shutdown)

from azureml_inference_server_http.server.entry import app as server_app  # noqa: E402  (runs init())

app = FrontDoor(
    server_app,
    keys=KeySource(settings.keys_file) if settings.keys_file is not None else None,
    max_body_bytes=settings.max_body_bytes,
    timeout_ms=settings.timeout_ms,
    telemetry=telemetry,
    gate=Gate(settings.admission) if settings.admission is not None else None,
    app_root=Path(os.environ["AML_APP_ROOT"]) if os.environ.get("AML_APP_ROOT") else None,
)
# Once score.py's init() has run, the logging tree is complete: records skip what none of it reads,
# and the lines' timestamps are formatted once a second.
skip_unread_fields()
cache_time_text()
# The server, scikit-learn and the model stay alive for the worker's life: keep them out of
# full garbage collections, which the telemetry's queued spans and records would otherwise
# trigger every few thousand requests, each scanning the whole heap.
gc.collect()
gc.freeze()
