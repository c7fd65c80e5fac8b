"""One server's WSGI app called in process, for `python -m benchmarks.serving.instructions` (which runs
this under callgrind): `requests` requests of warm-up, then `requests` more inside one
`functools.reduce`, the C function callgrind's `--toggle-collect` counts within. Exits 1 unless every
answer was a 200.

    python -m benchmarks.serving.inproc plain|amlops REQUESTS

The environment is a worker's: `instructions.worker_env` takes it from a running `amlops serve`.
"""

from __future__ import annotations

import functools
import io
import json
import os
import sys

from benchmarks.serving.bench import ROWS

KEY_ENV = "BENCH_KEY"
"""The endpoint key `amlops serve`'s app is called with."""


def main() -> int:
    mode, requests = sys.argv[1], int(sys.argv[2])
    if mode == "plain":
        from azureml_inference_server_http.server.entry import app
    else:
        from amlops.serving.wsgi import app
    body = json.dumps({"data": ROWS}).encode()
    base = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/score", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
    }
    if os.environ.get(KEY_ENV):
        base["HTTP_AUTHORIZATION"] = f"Bearer {os.environ[KEY_ENV]}"
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)
        return lambda data: None

    def one(_=None, __=None) -> None:
        answer = app({**base, "wsgi.input": io.BytesIO(body)}, start_response)
        for _chunk in answer:
            pass
        if hasattr(answer, "close"):
            answer.close()  # as a WSGI server does (PEP 3333): the front door finishes its span here

    for _ in range(requests):
        one()
    functools.reduce(one, range(requests), None)
    bad = [s for s in statuses if not s.startswith("200")]
    if bad:
        print(f"{len(bad)} of {len(statuses)} answers were not 200: {bad[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
