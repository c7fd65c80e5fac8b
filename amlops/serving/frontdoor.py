"""The WSGI middleware in front of the inference server's Flask app: what Azure's front end
does for a managed online endpoint, done locally. Key auth (401), the body limit (413),
the request timeout's status (408), a request id, and a span and metrics per request.

score.py knows nothing of this: in Azure the endpoint's front end does the same.
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from amlops.serving.keys import EndpointKeys, read_keys
from amlops.serving.telemetry import Telemetry, current_request_id

HEALTH_PATH = "/"
ROUTES = frozenset({"/", "/score", "/swagger.json"})
DRAIN_LIMIT = 16 * 1024 * 1024
"""Bytes of an oversized body read and dropped before the 413, so the client sees the
answer instead of a reset connection; larger bodies are cut off."""
KEY_RECHECK_S = 1.0
SERVER_TIMEOUT_PREFIX = b'{"message": "Scoring timeout after'
"""How the inference server words its own SCORING_TIMEOUT_MS error (a 500)."""

StartResponse = Callable[..., object]


def _json(status: str, message: str, extra: list[tuple[str, str]] | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
    body = json.dumps({"message": message}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *(extra or [])]
    return status, headers, body


class KeySource:
    """The endpoint's keys, re-read when the key file changes (so `endpoint keys --regenerate` takes effect live)."""

    def __init__(self, path: Path):
        self.path = path
        self._mtime = os.stat(path).st_mtime_ns
        self._keys: EndpointKeys = read_keys(path)
        self._checked = time.monotonic()

    def current(self) -> EndpointKeys:
        now = time.monotonic()
        if now - self._checked >= KEY_RECHECK_S:
            self._checked = now
            try:
                mtime = os.stat(self.path).st_mtime_ns
                if mtime != self._mtime:
                    self._keys, self._mtime = read_keys(self.path), mtime
            except Exception:  # keep the last good keys while the file is being replaced
                pass
        return self._keys


class FrontDoor:
    """Wraps a WSGI app with the endpoint's auth, limits and telemetry."""

    def __init__(
        self,
        app: Callable,
        *,
        keys: KeySource | None,
        max_body_bytes: int,
        timeout_ms: int,
        telemetry: Telemetry | None = None,
    ):
        self.app = app
        self.keys = keys
        self.max_body_bytes = max_body_bytes
        self.timeout_ms = timeout_ms
        self.telemetry = telemetry

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:  # probes stay open and unrecorded, as in Azure
            return self.app(environ, start_response)
        request_id = environ.get("HTTP_X_REQUEST_ID")
        if not request_id:
            request_id = environ["HTTP_X_REQUEST_ID"] = str(uuid.uuid4())  # the server echoes this one
        if self.telemetry is None:
            status, headers, body = self._handle(environ)
        else:
            status, headers, body = self._traced(environ, path, request_id)
        start_response(status, headers)
        return body

    def _traced(self, environ: dict, path: str, request_id: str) -> tuple[str, list, Iterable[bytes]]:
        tel = self.telemetry
        assert tel is not None
        method = environ.get("REQUEST_METHOD", "")
        route = path if path in ROUTES else "unmatched"
        started = time.perf_counter()
        span = tel.tracer.start_span(
            f"{method} {route}",
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": route, "request.id": request_id},
        )
        token = context.attach(trace.set_span_in_context(span))
        rid_token = current_request_id.set(request_id)
        code = 500
        try:
            status, headers, body = self._handle(environ)
            code = int(status[:3])
            return status, headers, body
        finally:
            current_request_id.reset(rid_token)
            context.detach(token)
            span.set_attribute("http.response.status_code", code)
            if code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
            tel.record(route, code, (time.perf_counter() - started) * 1000)

    def _handle(self, environ: dict) -> tuple[str, list, Iterable[bytes]]:
        refused = self._refuse(environ)
        if refused is not None:
            status, headers, body = refused
            return status, headers, [body]
        captured: list = []

        def capture(status: str, headers: list, exc_info=None):
            captured[:] = [status, headers]
            return lambda data: None  # the inference server never uses write()

        body = self.app(environ, capture)
        status, headers = captured
        if status.startswith("500"):
            return self._rewrite_timeout(status, headers, body)
        return status, headers, body

    def _refuse(self, environ: dict) -> tuple[str, list, bytes] | None:
        if self.keys is not None:
            auth = environ.get("HTTP_AUTHORIZATION", "")
            scheme, _, token = auth.partition(" ")
            if not auth:
                return _json("401 Unauthorized", "missing key: send the header Authorization: Bearer <key>", [("WWW-Authenticate", "Bearer")])
            if scheme.lower() != "bearer" or not self.keys.current().accepts(token.strip()):
                return _json("401 Unauthorized", "invalid key", [("WWW-Authenticate", "Bearer")])
        length_text = environ.get("CONTENT_LENGTH") or ""
        if length_text:
            try:
                length = int(length_text)
            except ValueError:
                return _json("400 Bad Request", "invalid Content-Length header")
            if length > self.max_body_bytes:
                self._drain(environ, length)
                return self._too_large(length)
        elif environ.get("wsgi.input_terminated"):  # chunked: read at most one byte past the limit
            data = environ["wsgi.input"].read(self.max_body_bytes + 1)
            if len(data) > self.max_body_bytes:
                self._drain(environ, DRAIN_LIMIT)
                return self._too_large(None)
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
        return None

    def _too_large(self, length: int | None) -> tuple[str, list, bytes]:
        size = f"{length} bytes" if length is not None else f"more than {self.max_body_bytes} bytes"
        return _json(
            "413 Request Entity Too Large",
            f"request body of {size} exceeds the limit of {self.max_body_bytes} bytes",
            [("Connection", "close")],
        )

    @staticmethod
    def _drain(environ: dict, length: int) -> None:
        if length > DRAIN_LIMIT:
            return
        stream = environ["wsgi.input"]
        while stream.read(65536):
            pass

    def _rewrite_timeout(self, status: str, headers: list, body: Iterable[bytes]) -> tuple[str, list, Iterable[bytes]]:
        data = b"".join(body)
        if hasattr(body, "close"):
            body.close()  # type: ignore[union-attr]
        if data.startswith(SERVER_TIMEOUT_PREFIX):
            message = f"the request took longer than the deployment's request timeout of {self.timeout_ms} ms"
            new_status, new_headers, new_body = _json("408 Request Timeout", message)
            return new_status, new_headers, [new_body]
        return status, headers, [data]
