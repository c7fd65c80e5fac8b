"""The WSGI middleware in front of the inference server's Flask app: what Azure's front end
does for a managed online endpoint, done locally. The queue wait's 429 on Kubernetes targets (the
in-flight limit's 429 is answered by the master: amlops.serving.admission), key auth (401), the
methods and media type of each route (405 with Allow, 415), the body limit (413), a
malformed chunked body or a JSON integer too long for Python (400), the request timeout's
status (408), a request id, and a span and
metrics per request. Whatever a client sent that is written back (in a body, a span, a log
line) is bounded.

score.py knows nothing of this: in Azure the endpoint's front end does the same.

With telemetry on, a request's span is started before the app runs (it is the current span
while score.py runs, so log lines carry its trace id) and finished, with the latency
histogram, when the server closes the response after sending it (`_Finishing`), so that this
work stays off the client's critical path. Without a connection string the span is the local
file's line (Telemetry.local_server_spans).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from amlops.serving.admission import Gate, Refusal
from amlops.serving.keys import EndpointKeys, read_keys
from amlops.serving.telemetry.lines import server_span_line
from amlops.serving.telemetry.scope import current_request
from amlops.serving.telemetry.wiring import Telemetry
from infra.swagger import VERSION_FILES

HEALTH_PATH = "/"
SCORE_PATH = "/score"
SWAGGER_PATH = "/swagger.json"
ALLOWED_METHODS = {HEALTH_PATH: ("GET", "HEAD"), SCORE_PATH: ("POST",), SWAGGER_PATH: ("GET", "HEAD")}
"""The methods each route answers (the swagger's operations, and HEAD beside GET); others get a 405 with Allow."""
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
"""HTTP methods a span names as they are; any other is `_OTHER` (OpenTelemetry's HTTP semantic conventions)."""
SWAGGER_FILES = VERSION_FILES
"""The inference server's swagger versions and the file beside score.py it serves for each (its
Swagger2/3/3.1 builders; the specs' `version` enum lists the same); a version without its file would
get the server's generic spec."""
MAX_REQUEST_ID = 100
"""The inference server's HEADER_LIMIT for x-request-id (it answers 431 above)."""
MAX_ERROR_MESSAGE = 1000
"""Most characters of an error message passed on to a client; the rest is cut."""
SHOWN = 60
"""Most characters of a client's value quoted in the front door's own messages."""
DRAIN_LIMIT = 16 * 1024 * 1024
"""Bytes of an oversized body read and dropped before the 413, so the client sees the
answer instead of a reset connection; larger bodies are cut off."""
KEY_RECHECK_S = 1.0
SERVER_TIMEOUT_PREFIX = b'{"message": "Scoring timeout after'
"""How the inference server words its own SCORING_TIMEOUT_MS error (a 500)."""
JSON_TYPE = "application/json"
MAX_DIGITS = sys.get_int_max_str_digits()
"""Python refuses to parse longer integers (a ValueError a script may not expect): a 400 here,
as score.py answers too; only a body longer than this can hold one, so small bodies are not scanned."""
_TOO_MANY_DIGITS = re.compile(rb"[0-9]{%d}" % (MAX_DIGITS + 1))

StartResponse = Callable[..., object]
SAMPLED = TraceFlags(TraceFlags.SAMPLED)
Answer = tuple[str, list, Iterable[bytes]]


class RequestIds:
    """Request ids for requests sent without one: UUID-shaped (36 characters, RFC 9562's version 8, whose
    bits are the maker's to define: https://www.rfc-editor.org/rfc/rfc9562#section-5.8), made of 74 random
    bits drawn once per process and a 48-bit counter, so that a request costs a counter step instead of
    reading 16 bytes from the OS (uuid4) and building a UUID object. Ids are unique per process by the
    counter and across processes by the random part, drawn again in a forked child
    (`os.register_at_fork`), so that workers forked from one master never share it."""

    def __init__(self) -> None:
        self._draw()
        os.register_at_fork(after_in_child=self._draw)

    def _draw(self) -> None:
        r = int.from_bytes(os.urandom(10), "big")  # 80 bits; 74 used
        version, variant = 0x8000 | (r >> 64 & 0x0FFF), 0x8000 | (r >> 50 & 0x3FFF)
        self._prefix = f"{r >> 16 & 0xFFFFFFFF:08x}-{r & 0xFFFF:04x}-{version:04x}-{variant:04x}-"
        self._counter = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFF_FFFF_FFFF:012x}"


request_ids = RequestIds()
"""This process's request ids (one at-fork hook for the process, not one per front door)."""


def _shown(text: str) -> str:
    """A client's value for a message: quoted, and cut to SHOWN characters."""
    return repr(text) if len(text) <= SHOWN else repr(text[:SHOWN]) + f"… ({len(text)} characters)"


def _json(status: str, message: str, extra: list[tuple[str, str]] | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
    body = json.dumps({"message": message}).encode()
    headers = [("Content-Type", JSON_TYPE), ("Content-Length", str(len(body))), *(extra or [])]
    return status, headers, body


def _answer(status: str, message: str, extra: list[tuple[str, str]] | None = None) -> Answer:
    status, headers, body = _json(status, message, extra)
    return status, headers, [body]


def route_of(path: str) -> str:
    """The route a path is served by, as the server matches it (repeated slashes count as one), or `unmatched`."""
    if "//" in path:
        path = "/" + "/".join(part for part in path.split("/") if part) + ("/" if path.endswith("/") and path.strip("/") else "")
    return path if path in ALLOWED_METHODS else "unmatched"


def _finish(
    tel: Telemetry, span: Span | None, name: str, trace_id: int, span_id: int,
    method: str, route: str, request_id: str, started_ns: int, code: int, ended_ns: int,
) -> None:
    """End the request's span (an SDK span, or the local file's line: Telemetry.local_server_spans) and record its metrics."""
    if span is None:
        assert tel.writer is not None
        tel.writer.put(server_span_line, name, trace_id, span_id, started_ns, ended_ns, (method, route, request_id, code))
    else:
        span.set_attribute("http.response.status_code", code)
        if code >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=ended_ns)
    tel.record(route, code, (ended_ns - started_ns) / 1e6)


class _Finishing:
    """A response body that finishes the request's span and metrics when the server closes it.

    WSGI servers close the body after sending it (PEP 3333; gunicorn's sync worker does so
    before it reads the next request). The span's end time and the recorded duration are
    taken when the app returned, not at close."""

    __slots__ = ("body", "args", "finished")

    def __init__(self, body: Iterable[bytes], *args: object):
        self.body = body
        self.args = args
        self.finished = False

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        if self.finished:
            return
        self.finished = True
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            _finish(*self.args)  # type: ignore[arg-type]


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
    """Wraps a WSGI app with the endpoint's admission, auth, limits and telemetry."""

    def __init__(
        self,
        app: Callable,
        *,
        keys: KeySource | None,
        max_body_bytes: int,
        timeout_ms: int,
        telemetry: Telemetry | None = None,
        gate: Gate | None = None,
        app_root: Path | None = None,
    ):
        self.app = app
        self.keys = keys
        self.max_body_bytes = max_body_bytes
        self.timeout_ms = timeout_ms
        self.telemetry = telemetry
        self.gate = gate
        self.swagger_versions = (
            {v for v, name in SWAGGER_FILES.items() if (app_root / name).is_file()} if app_root is not None else set(SWAGGER_FILES)
        )
        """The versions whose file is beside the script (all of them when the app root is not known)."""

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if self.gate is None:
            return self._serve(environ, start_response, None)
        refusal = self.gate.refusal()
        try:
            return self._serve(environ, start_response, refusal)
        finally:
            self.gate.done()

    def _serve(self, environ: dict, start_response: StartResponse, refusal: Refusal | None) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        route = route_of(path) if path != HEALTH_PATH else HEALTH_PATH
        if route == HEALTH_PATH:  # probes stay open and unrecorded, as in Azure
            return self._health(environ, start_response)
        request_id = environ.get("HTTP_X_REQUEST_ID")
        too_long = request_id is not None and len(request_id) > MAX_REQUEST_ID
        if not request_id or too_long:
            request_id = environ["HTTP_X_REQUEST_ID"] = request_ids.new()  # the server echoes this one
        if too_long:
            refused: Answer | None = _answer("431 Request Header Fields Too Large", f"x-request-id must not exceed {MAX_REQUEST_ID} characters")
        elif refusal is not None:
            refused = _answer("429 Too Many Requests", refusal.message, [("Retry-After", "1")])
        else:
            refused = None
        if self.telemetry is None:
            status, headers, body = refused or self._handle(environ, route)
            start_response(status, headers)
            return body
        return self._traced(environ, start_response, route, request_id, refused)

    def _health(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        """`GET /`: the server's own answer, with the media type the swagger declares (text/plain)."""
        method = environ.get("REQUEST_METHOD", "")
        if method not in ALLOWED_METHODS[HEALTH_PATH]:
            status, headers, body = self._not_allowed(HEALTH_PATH)
            start_response(status, headers)
            return body

        def plain_text(status: str, headers: list, exc_info=None):
            headers = [(k, "text/plain; charset=utf-8" if k.lower() == "content-type" else v) for k, v in headers]
            return start_response(status, headers, exc_info) if exc_info is not None else start_response(status, headers)

        return self.app(environ, plain_text)

    def _traced(self, environ: dict, start_response: StartResponse, route: str, request_id: str, refused: Answer | None) -> Iterable[bytes]:
        """Serve one request inside its span; the span and the metrics are finished when the
        server closes the response (after sending it), so that neither adds to its latency."""
        tel = self.telemetry
        assert tel is not None
        method = environ.get("REQUEST_METHOD", "")
        if method not in KNOWN_METHODS:
            method = "_OTHER"
        name = f"{method} {route}"
        started = time.time_ns()
        span: Span | None = None
        if tel.local_server_spans:
            trace_id, span_id = tel.id_generator.generate_trace_id(), tel.id_generator.generate_span_id()
            current: Span = NonRecordingSpan(SpanContext(trace_id, span_id, is_remote=False, trace_flags=SAMPLED))
        else:
            span = current = tel.tracer.start_span(
                name,
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "http.route": route, "request.id": request_id},
                start_time=started,
            )
            trace_id, span_id = span.get_span_context().trace_id, span.get_span_context().span_id
        token = context.attach(trace.set_span_in_context(current))
        rid_token = current_request.set((request_id, trace_id))
        finish = (tel, span, name, trace_id, span_id, method, route, request_id, started)
        try:
            status, headers, body = refused or self._handle(environ, route)
        except BaseException:
            _finish(*finish, 500, time.time_ns())
            raise
        finally:
            current_request.reset(rid_token)
            context.detach(token)
        start_response(status, headers)
        return _Finishing(body, *finish, int(status[:3]), time.time_ns())

    def _handle(self, environ: dict, route: str) -> Answer:
        refused = self._refuse(environ, route)
        if refused is not None:
            return refused
        captured: list = []

        def capture(status: str, headers: list, exc_info=None):
            captured[:] = [status, headers]
            return lambda data: None  # the inference server never uses write()

        body = self.app(environ, capture)
        status, headers = captured
        if status[0] == "4":
            return self._bounded(status, headers, body)
        if status.startswith("500"):
            return self._rewrite_timeout(status, headers, body)
        return status, headers, body

    def _refuse(self, environ: dict, route: str) -> Answer | None:
        if self.keys is not None:
            auth = environ.get("HTTP_AUTHORIZATION", "")
            scheme, _, token = auth.partition(" ")
            if not auth:
                return _answer("401 Unauthorized", "missing key: send the header Authorization: Bearer <key>", [("WWW-Authenticate", "Bearer")])
            if scheme.lower() != "bearer" or not self.keys.current().accepts(token.strip()):
                return _answer("401 Unauthorized", "invalid key", [("WWW-Authenticate", "Bearer")])
        allowed = ALLOWED_METHODS.get(route)
        if allowed is not None and environ.get("REQUEST_METHOD", "") not in allowed:
            return self._not_allowed(route)
        if route == SWAGGER_PATH:
            return self._swagger_version(environ)
        if route == SCORE_PATH:
            unsupported = self._media_type(environ)
            if unsupported is not None:
                return unsupported
        return self._body(environ)

    @staticmethod
    def _not_allowed(route: str) -> Answer:
        allowed = ", ".join(ALLOWED_METHODS[route])
        return _answer("405 Method Not Allowed", f"{route} answers {allowed}", [("Allow", allowed)])

    def _swagger_version(self, environ: dict) -> Answer | None:
        """A 404 for a swagger version this script has no file for (the server would serve its generic spec)."""
        from urllib.parse import parse_qs

        versions = parse_qs(environ.get("QUERY_STRING", "")).get("version")
        if not versions:
            return None if "2" in self.swagger_versions else _answer("404 Not Found", "no swagger is available")
        if len(versions) == 1 and versions[0] in self.swagger_versions:
            return None
        available = ", ".join(sorted(self.swagger_versions)) or "none"
        return _answer("404 Not Found", f"swagger version {_shown(versions[-1])} is not available; available: {available}")

    @staticmethod
    def _media_type(environ: dict) -> Answer | None:
        """A 415 unless the body is uncompressed JSON (no Content-Type is taken as JSON)."""
        encoding = environ.get("HTTP_CONTENT_ENCODING")
        if encoding is not None and encoding.strip().lower() not in ("", "identity"):
            return _answer("415 Unsupported Media Type", f"Content-Encoding {_shown(encoding.strip())} is not supported; send the JSON body uncompressed")
        content_type = environ.get("CONTENT_TYPE")
        if not content_type or content_type == JSON_TYPE:
            return None
        media, _, params = content_type.partition(";")
        if media.strip().lower() != JSON_TYPE:
            return _answer(
                "415 Unsupported Media Type",
                f"Content-Type {_shown(content_type)} is not supported; send the header Content-Type: {JSON_TYPE}",
            )
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
                return _answer("415 Unsupported Media Type", f"charset {_shown(value.strip())} is not supported; send UTF-8 JSON")
        return None

    def _body(self, environ: dict) -> Answer | None:
        length_text = environ.get("CONTENT_LENGTH") or ""
        if length_text:
            try:
                length = int(length_text)
            except ValueError:
                return _answer("400 Bad Request", "invalid Content-Length header")
            if length > self.max_body_bytes:
                self._drain(environ, length)
                return self._too_large(length)
            if length > MAX_DIGITS:
                data = environ["wsgi.input"].read(length)
                environ["wsgi.input"] = io.BytesIO(data)
                return self._digits(data)
        elif environ.get("wsgi.input_terminated"):  # chunked: read at most one byte past the limit
            try:
                data = environ["wsgi.input"].read(self.max_body_bytes + 1)
            except OSError as exc:  # gunicorn's InvalidChunkSize, ChunkMissingTerminator, NoMoreData, …
                return _answer("400 Bad Request", f"malformed chunked request body ({type(exc).__name__})", [("Connection", "close")])
            if len(data) > self.max_body_bytes:
                self._drain(environ, DRAIN_LIMIT)
                return self._too_large(None)
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
            if len(data) > MAX_DIGITS:
                return self._digits(data)
        return None

    @staticmethod
    def _digits(data: bytes) -> Answer | None:
        if _TOO_MANY_DIGITS.search(data) is None:
            return None
        return _answer("400 Bad Request", f"invalid JSON: a number has more than {MAX_DIGITS} digits")

    def _too_large(self, length: int | None) -> Answer:
        size = f"{length} bytes" if length is not None else f"more than {self.max_body_bytes} bytes"
        return _answer(
            "413 Request Entity Too Large",
            f"request body of {size} exceeds the limit of {self.max_body_bytes} bytes",
            [("Connection", "close")],
        )

    @staticmethod
    def _drain(environ: dict, length: int) -> None:
        if length > DRAIN_LIMIT:
            return
        stream = environ["wsgi.input"]
        try:
            while stream.read(65536):
                pass
        except OSError:
            pass

    @staticmethod
    def _bounded(status: str, headers: list, body: Iterable[bytes]) -> Answer:
        """A 4xx as the app gave it, with its message cut to MAX_ERROR_MESSAGE characters."""
        length = next((int(v) for k, v in headers if k.lower() == "content-length" and v.isdigit()), None)
        if length is None or length <= MAX_ERROR_MESSAGE + 100:
            return status, headers, body
        data = b"".join(body)
        if hasattr(body, "close"):
            body.close()  # type: ignore[union-attr]
        try:
            doc = json.loads(data)
            message = doc["message"]
        except (ValueError, TypeError, KeyError):
            return status, headers, [data]
        if not isinstance(message, str) or len(message) <= MAX_ERROR_MESSAGE:
            return status, headers, [data]
        doc["message"] = f"{message[:MAX_ERROR_MESSAGE]}… ({len(message) - MAX_ERROR_MESSAGE} more characters cut)"
        new = json.dumps(doc).encode()
        headers = [(k, str(len(new)) if k.lower() == "content-length" else v) for k, v in headers]
        return status, headers, [new]

    def _rewrite_timeout(self, status: str, headers: list, body: Iterable[bytes]) -> Answer:
        data = b"".join(body)
        if hasattr(body, "close"):
            body.close()  # type: ignore[union-attr]
        if data.startswith(SERVER_TIMEOUT_PREFIX):
            return _answer("408 Request Timeout", f"the request took longer than the deployment's request timeout of {self.timeout_ms} ms")
        return status, headers, [data]
