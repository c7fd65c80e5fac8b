"""What `amlops serve` hands its gunicorn workers, as environment variables (set before the
inference server is imported, as it reads its own configuration at import)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

KEYS_FILE = "AMLOPS_SERVE_KEYS_FILE"
MAX_BODY_BYTES = "AMLOPS_SERVE_MAX_BODY_BYTES"
TIMEOUT_MS = "AMLOPS_SERVE_TIMEOUT_MS"
TELEMETRY_FILE = "AMLOPS_SERVE_TELEMETRY_FILE"
ENDPOINT = "AMLOPS_SERVE_ENDPOINT"
DEPLOYMENT = "AMLOPS_SERVE_DEPLOYMENT"
MODEL = "AMLOPS_SERVE_MODEL"


@dataclass(frozen=True)
class FrontDoorSettings:
    """The local front end's settings: auth, limits and telemetry."""

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

    def to_env(self) -> dict[str, str]:
        env = {
            MAX_BODY_BYTES: str(self.max_body_bytes),
            TIMEOUT_MS: str(self.timeout_ms),
            ENDPOINT: self.endpoint,
            DEPLOYMENT: self.deployment,
            MODEL: self.model,
        }
        if self.keys_file is not None:
            env[KEYS_FILE] = str(self.keys_file)
        if self.telemetry_file is not None:
            env[TELEMETRY_FILE] = str(self.telemetry_file)
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "FrontDoorSettings":
        return cls(
            keys_file=Path(env[KEYS_FILE]) if env.get(KEYS_FILE) else None,
            max_body_bytes=int(env[MAX_BODY_BYTES]),
            timeout_ms=int(env[TIMEOUT_MS]),
            telemetry_file=Path(env[TELEMETRY_FILE]) if env.get(TELEMETRY_FILE) else None,
            endpoint=env.get(ENDPOINT, "local"),
            deployment=env.get(DEPLOYMENT, "local"),
            model=env.get(MODEL, ""),
        )
