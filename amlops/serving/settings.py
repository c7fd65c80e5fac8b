"""What `amlops serve` hands its gunicorn workers, as environment variables (set before the
inference server is imported, as it reads its own configuration at import)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from amlops.errors import UsageError

KEYS_FILE = "AMLOPS_SERVE_KEYS_FILE"
MAX_BODY_BYTES = "AMLOPS_SERVE_MAX_BODY_BYTES"
TIMEOUT_MS = "AMLOPS_SERVE_TIMEOUT_MS"
TELEMETRY_FILE = "AMLOPS_SERVE_TELEMETRY_FILE"
TELEMETRY_MAX_BYTES = "AMLOPS_SERVE_TELEMETRY_MAX_BYTES"
TELEMETRY_BACKUPS = "AMLOPS_SERVE_TELEMETRY_BACKUPS"
ENDPOINT = "AMLOPS_SERVE_ENDPOINT"
DEPLOYMENT = "AMLOPS_SERVE_DEPLOYMENT"
MODEL = "AMLOPS_SERVE_MODEL"
MAX_CONCURRENT = "AMLOPS_SERVE_MAX_CONCURRENT_REQUESTS_PER_INSTANCE"
MAX_QUEUE_WAIT_MS = "AMLOPS_SERVE_MAX_QUEUE_WAIT_MS"
WORKERS = "AMLOPS_SERVE_WORKERS"
BUILD_PACKAGE = "AMLOPS_SERVE_BUILD_PACKAGE"
"""JSON: the scoring package the gunicorn master builds before it forks the workers (amlops.serving.preload), when not yet built."""
LISTENER_FD = "AMLOPS_SERVE_LISTENER_FD"
"""A copy of the listening socket's descriptor, set by GunicornServer (the admission's dispatcher accepts on it)."""

TELEMETRY_MAX_BYTES_RANGE = (64 * 1024, 1024**3)
TELEMETRY_BACKUPS_RANGE = (1, 100)
MAX_CONCURRENT_RANGE = (1, 1000)
"""Azure's range for max_concurrent_requests_per_instance (as infra.config.RequestSettings)."""


@dataclass(frozen=True)
class Admission:
    """The managed endpoint's per-instance admission, imitated: at most 2 × max_concurrent_requests_per_instance
    requests in flight (more → 429), and, where Azure still reads it, a longest queue wait (→ 429)."""

    max_concurrent_requests_per_instance: int
    max_queue_wait_ms: int | None
    """None where Azure does not read it: deprecated for managed online endpoints."""
    workers: int

    def __post_init__(self) -> None:
        lo, hi = MAX_CONCURRENT_RANGE
        if not lo <= self.max_concurrent_requests_per_instance <= hi:
            raise UsageError(f"max concurrent requests per instance must be between {lo} and {hi}, got {self.max_concurrent_requests_per_instance}")
        if self.max_queue_wait_ms is not None and self.max_queue_wait_ms < 0:
            raise UsageError(f"max queue wait must be ≥ 0 ms, got {self.max_queue_wait_ms}")
        if self.workers < 1:
            raise UsageError(f"workers must be ≥ 1, got {self.workers}")

    @property
    def in_flight_limit(self) -> int:
        return 2 * self.max_concurrent_requests_per_instance


@dataclass(frozen=True)
class FrontDoorSettings:
    """The local front end's settings: auth, limits, admission and telemetry."""

    keys_file: Path | None
    """The endpoint's key file; None serves without auth."""
    max_body_bytes: int
    timeout_ms: int
    telemetry_file: Path | None
    """Where spans, logs and metrics go; None turns telemetry off."""
    endpoint: str
    deployment: str
    model: str
    """`NAME:VERSION` of the served model (a resource attribute of the telemetry)."""
    admission: Admission | None = None
    """None admits every request (no 429)."""
    telemetry_max_bytes: int = 16 * 1024 * 1024
    """Size at which telemetry.jsonl is rotated (to telemetry.jsonl.1, …)."""
    telemetry_backups: int = 4
    """Rotated telemetry files kept; older ones are deleted."""

    def __post_init__(self) -> None:
        lo, hi = TELEMETRY_MAX_BYTES_RANGE
        if not lo <= self.telemetry_max_bytes <= hi:
            raise UsageError(f"the telemetry file's size limit must be between {lo} and {hi} bytes, got {self.telemetry_max_bytes}")
        lo, hi = TELEMETRY_BACKUPS_RANGE
        if not lo <= self.telemetry_backups <= hi:
            raise UsageError(f"the number of rotated telemetry files must be between {lo} and {hi}, got {self.telemetry_backups}")

    def to_env(self) -> dict[str, str]:
        env = {
            MAX_BODY_BYTES: str(self.max_body_bytes),
            TIMEOUT_MS: str(self.timeout_ms),
            ENDPOINT: self.endpoint,
            DEPLOYMENT: self.deployment,
            MODEL: self.model,
            TELEMETRY_MAX_BYTES: str(self.telemetry_max_bytes),
            TELEMETRY_BACKUPS: str(self.telemetry_backups),
        }
        if self.keys_file is not None:
            env[KEYS_FILE] = str(self.keys_file)
        if self.telemetry_file is not None:
            env[TELEMETRY_FILE] = str(self.telemetry_file)
        if self.admission is not None:
            env[MAX_CONCURRENT] = str(self.admission.max_concurrent_requests_per_instance)
            env[WORKERS] = str(self.admission.workers)
            if self.admission.max_queue_wait_ms is not None:
                env[MAX_QUEUE_WAIT_MS] = str(self.admission.max_queue_wait_ms)
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "FrontDoorSettings":
        admission = None
        if env.get(MAX_CONCURRENT):
            admission = Admission(
                max_concurrent_requests_per_instance=int(env[MAX_CONCURRENT]),
                max_queue_wait_ms=int(env[MAX_QUEUE_WAIT_MS]) if env.get(MAX_QUEUE_WAIT_MS) else None,
                workers=int(env[WORKERS]),
            )
        return cls(
            keys_file=Path(env[KEYS_FILE]) if env.get(KEYS_FILE) else None,
            max_body_bytes=int(env[MAX_BODY_BYTES]),
            timeout_ms=int(env[TIMEOUT_MS]),
            telemetry_file=Path(env[TELEMETRY_FILE]) if env.get(TELEMETRY_FILE) else None,
            endpoint=env.get(ENDPOINT, "local"),
            deployment=env.get(DEPLOYMENT, "local"),
            model=env.get(MODEL, ""),
            admission=admission,
            telemetry_max_bytes=int(env.get(TELEMETRY_MAX_BYTES) or cls.telemetry_max_bytes),
            telemetry_backups=int(env.get(TELEMETRY_BACKUPS) or cls.telemetry_backups),
        )
