"""Reading the local telemetry file back, rotated files included: what `amlops endpoint logs` shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator



def log_files(path: Path) -> list[Path]:
    """The file and its rotated files (`NAME.1` newest … `NAME.N` oldest), oldest first."""
    rotated = []
    for p in path.parent.glob(f"{path.name}.*"):
        suffix = p.name[len(path.name) + 1 :]
        if suffix.isdigit():
            rotated.append((int(suffix), p))
    return [p for _, p in sorted(rotated, reverse=True)] + ([path] if path.is_file() else [])


def read_records(path: Path) -> Iterator[dict]:
    """The records of the file and its rotated files, oldest first; lines that are not JSON objects are skipped."""
    for path in log_files(path):
        try:
            f = path.open(encoding="utf-8", errors="replace")
        except FileNotFoundError:  # rotated away meanwhile
            continue
        with f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a killed worker
                if isinstance(rec, dict):
                    yield rec


def recent(path: Path, tail: int, request_id: str | None = None) -> tuple[list[dict], list[dict]]:
    """The last `tail` request spans (oldest first) and the log records of those requests
    (or of `request_id` only), plus log records outside any request (start-up)."""
    spans: list[dict] = []
    logs: list[dict] = []
    for rec in read_records(path):
        kind = rec.get("kind")
        if kind == "span":
            spans.append(rec)
        elif kind == "log":
            logs.append(rec)
    if request_id is not None:
        spans = [s for s in spans if (s.get("attributes") or {}).get("request.id") == request_id]
        logs = [r for r in logs if r.get("request_id") == request_id]
    else:
        spans = spans[-tail:] if tail > 0 else []
        shown = {(s.get("attributes") or {}).get("request.id") for s in spans}
        logs = [r for r in logs if r.get("request_id") in shown or r.get("request_id") is None][-tail:]
    spans.sort(key=lambda s: s.get("time") or "")
    logs.sort(key=lambda r: r.get("time") or "")
    return spans, logs
