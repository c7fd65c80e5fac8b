"""A small real HTTP scoring endpoint on 127.0.0.1 for the profiler's tests: told to be slow, fail, refuse or hang."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Behaviour:
    """What the fake endpoint does per request."""

    delay_s: float = 0.0
    serialize: bool = False  # one request at a time: latency grows with concurrency (a queue)
    status: int = 200
    key: str | None = None
    close: bool = False  # answer with Connection: close
    ok_requests: int | None = None  # answer 429 after this many requests (as a full endpoint does)
    hang: bool = False  # never answer until the endpoint stops (a client timeout, without a race)


class FakeEndpoint:
    """ThreadingHTTPServer on 127.0.0.1 speaking HTTP/1.1 keep-alive; records what it received."""

    def __init__(self, behaviour: Behaviour):
        self.behaviour = behaviour
        self.bodies: list[bytes] = []
        self.in_flight = 0
        self._lock = threading.Lock()
        self._serial = threading.Lock()
        self._stopped = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers and body wait 40 ms for a delayed ACK

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, payload = fake.handle(self.headers.get("Authorization"), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if fake.behaviour.close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/score"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, auth: str | None, body: bytes) -> tuple[int, dict]:
        b = self.behaviour
        with self._lock:
            self.bodies.append(body)
            self.in_flight += 1
            count = len(self.bodies)
        try:
            if b.key is not None and auth != f"Bearer {b.key}":
                return 401, {"message": "missing or wrong key"}
            if b.ok_requests is not None and count > b.ok_requests:
                return 429, {"message": "too many requests"}
            if b.hang:
                self._stopped.wait()
            if b.serialize:
                with self._serial:
                    time.sleep(b.delay_s)
            else:
                time.sleep(b.delay_s)
            if b.status != 200:
                return b.status, {"message": "model exploded"}
            return 200, {"predict": [1]}
        finally:
            with self._lock:
                self.in_flight -= 1

    def __enter__(self) -> "FakeEndpoint":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopped.set()
        self.server.shutdown()
        self.server.server_close()
