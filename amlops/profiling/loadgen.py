"""A bounded load generator: N client threads on keep-alive connections for one step of a profile.

Each step stops by itself: when its request budget is spent or its time is up, whichever
comes first. http.client is used directly (not httpx/requests): it is the cheapest
per-request path in Python, sets TCP_NODELAY on every socket it opens, and reconnects
by itself after a server's `Connection: close`.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence
from urllib.parse import urlsplit

from amlops.errors import UsageError

# Errors a reused keep-alive connection raises when the server closed it meanwhile;
# the request is retried once on a fresh connection instead of being counted as an error.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
_BODY_EXCERPT = 300


@dataclass(frozen=True)
class Target:
    """Where to send requests: a scoring URL and its key (sent as `Authorization: Bearer`)."""

    url: str
    key: str | None = None
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--url must be an http:// or https:// URL with a host, got {self.url!r}")

    @property
    def redacted(self) -> str:
        """The URL without credentials or query string (it may carry a token)."""
        p = urlsplit(self.url)
        port = f":{p.port}" if p.port else ""
        return f"{p.scheme}://{p.hostname}{port}{p.path or '/'}"


@dataclass(frozen=True)
class Reply:
    """One request's outcome: the HTTP status (None for a connection error) and its latency."""

    status: int | None
    latency_s: float
    error: str | None = None  # "connection refused", "timeout", … when status is None
    body: bytes = b""


class Client:
    """One keep-alive connection to a target; sends a body, reconnects when the server closes."""

    def __init__(self, target: Target):
        self.target = target
        parts = urlsplit(target.url)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._conn = cls(parts.hostname, parts.port, timeout=target.timeout_s)
        self._headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        if target.key:
            self._headers["Authorization"] = f"Bearer {target.key}"
        self.connects = 0

    def _exchange(self, body: bytes) -> tuple[int, bytes]:
        if self._conn.sock is None:
            self.connects += 1
        self._conn.request("POST", self._path, body=body, headers=self._headers)
        response = self._conn.getresponse()
        return response.status, response.read()

    def send(self, body: bytes) -> Reply:
        """POST one body; connection errors become a Reply with status None, never an exception."""
        start = time.perf_counter()
        reused = self._conn.sock is not None
        try:
            try:
                status, data = self._exchange(body)
            except _STALE:
                if not reused:
                    raise
                self._conn.close()
                status, data = self._exchange(body)
        except (OSError, http.client.HTTPException) as exc:
            self._conn.close()
            return Reply(None, time.perf_counter() - start, _describe(exc))
        return Reply(status, time.perf_counter() - start, body=data[:_BODY_EXCERPT] if status >= 300 else b"")

    def close(self) -> None:
        self._conn.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, _STALE):
        return "connection closed by the server"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


@dataclass
class StepSample:
    """The raw outcome of one step: latencies of 2xx replies, every status and error, the clock."""

    concurrency: int
    duration_s: float
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # connection errors by kind
    connects: int = 0
    first_failure: str | None = None  # "500: {...}" or "timeout", for the error message

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())

    @property
    def failed(self) -> int:
        return self.requests - len(self.latencies_s)


def describe_failure(reply: Reply) -> str:
    """`401: {"message": …}` or `connection refused`: what one failed request got."""
    if reply.status is None:
        return reply.error or "connection error"
    text = reply.body.decode("utf-8", "replace").strip()
    return f"HTTP {reply.status}" + (f": {text}" if text else "")


def run_step(
    target: Target,
    payloads: Sequence[bytes],
    concurrency: int,
    *,
    max_seconds: float,
    max_requests: int,
) -> StepSample:
    """Keep `concurrency` requests in flight until `max_requests` are sent or `max_seconds` pass.

    Payloads are taken in order and wrap around. The step's clock starts when every
    client thread is ready, and the step ends when the last reply arrives.
    """
    if concurrency < 1 or max_requests < 1 or max_seconds <= 0:
        raise UsageError(
            f"a step needs concurrency ≥ 1, requests ≥ 1 and seconds > 0, got {concurrency}, {max_requests}, {max_seconds}"
        )
    tickets = itertools.count()  # next() on a count is atomic under the GIL: one ticket per request
    lock = threading.Lock()
    sample = StepSample(concurrency, 0.0)
    clock = {"start": 0.0, "deadline": 0.0}

    def start_clock() -> None:
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + max_seconds

    ready = threading.Barrier(concurrency + 1, action=start_clock)

    def worker() -> None:
        client = Client(target)
        latencies: list[float] = []
        statuses: Counter = Counter()
        errors: Counter = Counter()
        first: str | None = None
        ready.wait()
        try:
            while time.perf_counter() < clock["deadline"]:
                n = next(tickets)
                if n >= max_requests:
                    break
                reply = client.send(payloads[n % len(payloads)])
                if reply.status is None:
                    errors[reply.error] += 1
                else:
                    statuses[reply.status] += 1
                    if 200 <= reply.status < 300:
                        latencies.append(reply.latency_s)
                        continue
                if first is None:
                    first = describe_failure(reply)
        finally:
            client.close()
            with lock:
                sample.latencies_s.extend(latencies)
                sample.statuses.update(statuses)
                sample.errors.update(errors)
                sample.connects += client.connects
                if sample.first_failure is None:
                    sample.first_failure = first

    threads = [threading.Thread(target=worker, name=f"amlops-load-{i}", daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    ready.wait()
    # A request in flight at the deadline may take up to the client timeout to finish.
    for t in threads:
        t.join(max(0.0, clock["deadline"] - time.perf_counter()) + target.timeout_s + 1.0)
    sample.duration_s = time.perf_counter() - clock["start"]
    return sample
