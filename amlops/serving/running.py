"""Which local endpoints are being served: `amlops serve` records its URL and PID so that
`amlops invoke --stack S` finds it without being told the port."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from amlops.errors import UsageError
from amlops.paths import state_dir


@dataclass(frozen=True)
class Running:
    """A served endpoint: where it answers and the process that serves it."""

    url: str
    pid: int
    deployment: str
    model: str


def running_path(endpoint_name: str) -> Path:
    return state_dir() / "endpoints" / endpoint_name / "running.json"


def record(endpoint_name: str, running: Running) -> Path:
    path = running_path(endpoint_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(running.__dict__))
    return path


def clear(endpoint_name: str, pid: int) -> None:
    """Forget the record, if it is still this server's."""
    path = running_path(endpoint_name)
    found = _read(path)
    if found is not None and found.pid == pid:
        path.unlink(missing_ok=True)


def _read(path: Path) -> Running | None:
    try:
        doc = json.loads(path.read_text())
        return Running(str(doc["url"]), int(doc["pid"]), str(doc["deployment"]), str(doc["model"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def alive(pid: int) -> bool:
    """Whether a process with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find(endpoint_name: str, options: str) -> Running:
    """The running local endpoint; raises UsageError saying how to start one (`amlops serve OPTIONS`,
    e.g. `--stack dev --endpoint diabetes`)."""
    found = _read(running_path(endpoint_name))
    if found is None or not alive(found.pid):
        raise UsageError(
            f"no local endpoint {endpoint_name!r} is running; start one with `amlops serve {options}` "
            "or pass --url SCORING_URI --key KEY"
        )
    return found
