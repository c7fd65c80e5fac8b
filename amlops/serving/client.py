"""Call a scoring endpoint, local or in Azure, the way a client would: POST JSON with the key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from amlops.errors import AmlopsError, UsageError


class InvokeError(AmlopsError):
    """The endpoint answered with an error status or could not be reached."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: object
    request_id: str | None
    elapsed_ms: float


def load_payload(data: str | None, file: Path | None) -> bytes:
    """The request body from --data JSON or --file F, checked to be JSON before it is sent."""
    if (data is None) == (file is None):
        raise UsageError("pass exactly one of --data JSON or --file F")
    if file is not None:
        try:
            text = file.read_text()
        except OSError as exc:
            raise UsageError(f"--file {file}: cannot read it: {exc.strerror}") from None
        where = f"--file {file}"
    else:
        text, where = data or "", "--data"
    try:
        json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where}: not JSON: {exc}") from None
    return text.encode()


def invoke(scoring_url: str, body: bytes, key: str | None = None, timeout_s: float = 30.0) -> Answer:
    """POST `body` to the scoring URI; raises InvokeError with the endpoint's own message on a 4xx/5xx."""
    import httpx

    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        resp = httpx.post(scoring_url, content=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise InvokeError(f"cannot reach {scoring_url}: {exc}") from None
    try:
        parsed: object = resp.json()
    except ValueError:
        parsed = resp.text
    if resp.status_code >= 400:
        message = parsed.get("message", parsed) if isinstance(parsed, dict) else parsed
        raise InvokeError(f"{scoring_url} answered {resp.status_code}: {message}")
    return Answer(resp.status_code, parsed, resp.headers.get("x-request-id"), resp.elapsed.total_seconds() * 1000)
