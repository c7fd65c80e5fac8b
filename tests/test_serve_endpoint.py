"""Acceptance: the real inference server on a free loopback port, with dev's deployment settings,
exercised over HTTP: both payloads and methods, the 4xx answers, key auth, the body limit,
the swagger, and the telemetry of every request."""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path

import psutil
import pytest

from amlops.paths import STATE_ENV
from amlops.serving import keys as keys_mod
from amlops.serving.endpoint import LocalEndpoint
from amlops.serving.telemetry.reader import read_records
from amlops.stackfile import load_stack
from serve_support import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def endpoint(trained_model_dir, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv(STATE_ENV, str(tmp_path_factory.mktemp("serve-state")))
    mp.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # export spans and logs within 0.1 s, so tests need not stop the server
    mp.setenv("OTEL_BLRP_SCHEDULE_DELAY", "100")
    mp.setenv("OTEL_METRIC_EXPORT_INTERVAL", "300")
    mp.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    ep = LocalEndpoint(load_stack("dev"), trained_model_dir)
    ep.start()
    yield ep
    ep.stop()
    mp.undo()


def request(ep, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def score(ep, payload, headers: dict | None = None) -> tuple[int, dict]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    status, _, data = request(ep, "POST", "/score", body, {"Content-Type": "application/json", **(ep.headers if headers is None else headers)})
    return status, json.loads(data)


def test_serve_uses_the_stacks_deployment_settings(endpoint):
    assert (endpoint.deployment, endpoint.workers) == ("blue", 2)
    assert endpoint.url == f"http://127.0.0.1:{endpoint.port}"
    assert endpoint.scoring_url == endpoint.url + "/score"


def _held_by_the_server(ep, client_port: int) -> bool:
    """Whether a process of the server still holds its end of the connection from `client_port`."""
    tree = [psutil.Process(ep.pid), *psutil.Process(ep.pid).children(recursive=True)]
    for proc in tree:
        try:
            if any(c.raddr and c.raddr.port == client_port for c in proc.net_connections("tcp")):
                return True
        except psutil.NoSuchProcess:
            pass
    return False


def test_serve_closes_an_answered_connection_without_waiting_for_the_client_to_close(endpoint):
    """RFC 9112 section 9.6: the response acknowledged, the worker closes at once (amlops.serving.worker) instead of
    holding the connection until the client closes or gunicorn's 2 s pass. The client here reads to the server's
    FIN and keeps its end open; the acknowledgement may come late on a loaded machine (then gunicorn's close is
    right), so one of three connections is enough."""
    body = json.dumps({"data": [[2000, 2, 45]]}).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Content-Type": "application/json", **endpoint.headers}.items())
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", endpoint.port), timeout=30) as sock:
            sock.sendall(f"POST /score HTTP/1.1\r\nHost: local\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            answer = b"".join(iter(lambda: sock.recv(65536), b""))
            assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b'{"predict": [0]}'), answer[:300]
            port, deadline = sock.getsockname()[1], time.monotonic() + 1.5
            while _held_by_the_server(endpoint, port) and time.monotonic() < deadline:
                time.sleep(0.02)
            if not _held_by_the_server(endpoint, port):
                return
    raise AssertionError("the server held each answered connection while its client kept it open")


def test_serve_health_route_is_open_without_a_key(endpoint):
    status, _, body = request(endpoint, "GET", "/")
    assert (status, body) == (200, b"Healthy")


def test_serve_rows_predict_answers_200(endpoint):
    assert score(endpoint, {"data": [[2000, 2, 45], [9000, 1, 60]]}) == (200, {"predict": [0, 1]})


def test_serve_records_predict_proba_answers_200(endpoint):
    status, body = score(endpoint, {"data": [{"income": 2000, "credit_cards": 2, "age": 45}], "method": "predict_proba"})
    assert status == 200 and list(body) == ["predict_proba"]
    assert len(body["predict_proba"]) == 1 and abs(sum(body["predict_proba"][0]) - 1) < 1e-9


@pytest.mark.parametrize(
    "payload,message",
    [
        (b"{not json", "invalid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
        ({"rows": []}, "unknown field 'rows'; expected data and optionally method, or Inputs and optionally GlobalParameters"),
        ({"data": [[1, 2]]}, "data[0]: expected 3 values (income, credit_cards, age), got 2"),
        ({"data": [{"income": 1, "credit_cards": 2, "agee": 3}]}, "data[0]: missing column 'age' (columns: income, credit_cards, age)"),
        ({"data": [[1, "x", 3]]}, "data[0][1] (credit_cards): expected an integer from -2^63 to 2^63-1, got a string"),
        ({"data": [[1, 2, 3]], "method": "explain"}, "method: unknown method 'explain'; expected predict or predict_proba"),
        ({"data": [[1, 2, 3]] * 1001}, "data has 1001 rows; at most 1000 per request"),
    ],
    ids=["json", "field", "width", "column", "number", "method", "rows"],
)
def test_serve_bad_input_answers_400_with_the_message(endpoint, payload, message):
    assert score(endpoint, payload) == (400, {"message": message})


def test_serve_without_key_answers_401(endpoint):
    status, headers, body = request(endpoint, "POST", "/score", b'{"data": [[1, 2, 3]]}')
    assert (status, json.loads(body)) == (401, {"message": "missing key: send the header Authorization: Bearer <key>"})
    assert headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer not-the-key", "Basic {primary}", "Bearer"])
def test_serve_wrong_key_answers_401(endpoint, header):
    headers = {"Authorization": header.format(primary=endpoint.key)}
    assert score(endpoint, {"data": [[1, 2, 3]]}, headers) == (401, {"message": "invalid key"})


def test_serve_secondary_key_is_accepted(endpoint):
    assert score(endpoint, {"data": [[2000, 2, 45]]}, {"Authorization": f"Bearer {endpoint.secondary_key}"}) == (200, {"predict": [0]})


def test_serve_swagger_needs_the_key(endpoint):
    status, _, _ = request(endpoint, "GET", "/swagger.json")
    assert status == 401


def test_serve_body_over_the_limit_answers_413(endpoint):
    body = b'{"data": [' + b"[1, 2, 3]," * 110_000 + b"[1, 2, 3]]}"
    assert score(endpoint, body) == (413, {"message": f"request body of {len(body)} bytes exceeds the limit of 1048576 bytes"})


def test_serve_chunked_body_over_the_limit_answers_413(endpoint):
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=30)
    chunks = (b"[1, 2, 3]," * 10_000 for _ in range(12))  # 1.2 MB without a Content-Length
    conn.request("POST", "/score", body=chunks, headers=endpoint.headers, encode_chunked=True)
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())) == (413, {"message": "request body of more than 1048576 bytes exceeds the limit of 1048576 bytes"})
    conn.close()


def test_serve_chunked_body_under_the_limit_is_scored(endpoint):
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=30)
    parts = iter([b'{"data": [[2000, 2, 45],', b" [9000, 1, 60]]}"])
    conn.request("POST", "/score", body=parts, headers=endpoint.headers, encode_chunked=True)
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())) == (200, {"predict": [0, 1]})
    conn.close()


@pytest.mark.parametrize("query,name", [("", "swagger.json"), ("?version=3", "swagger3.json"), ("?version=3.1", "swagger3.1.json")])
def test_serve_swagger_is_the_generated_file(endpoint, query, name):
    status, _, body = request(endpoint, "GET", "/swagger.json" + query, headers=endpoint.headers)
    assert status == 200
    assert json.loads(body) == json.loads((endpoint.app_root / name).read_text())  # the package's, generated for this model


def test_serve_records_a_span_and_the_scripts_log_line_with_the_request_id(endpoint):
    rid = "test-telemetry-0001"
    status, headers, _ = request(endpoint, "POST", "/score", b'{"data": [[1, 2]]}', {**endpoint.headers, "x-request-id": rid})
    assert status == 400 and headers["x-request-id"] == rid

    def span_and_log():
        recs = list(read_records(endpoint.telemetry_path))
        spans = [r for r in recs if r["kind"] == "span" and r["attributes"].get("request.id") == rid]
        logs = [r for r in recs if r["kind"] == "log" and r.get("request_id") == rid]
        return (spans, logs) if spans and logs else None

    spans, logs = wait_for(span_and_log, f"span and log of {rid}")
    assert spans[0]["name"] == "POST /score"
    assert spans[0]["attributes"] == {
        "http.request.method": "POST", "http.route": "/score", "request.id": rid, "http.response.status_code": 400,
    }
    assert spans[0]["duration_ms"] > 0
    assert [r["body"] for r in logs] == ["rejected: data[0]: expected 3 values (income, credit_cards, age)"]  # never the value
    assert logs[0]["trace_id"] == spans[0]["trace_id"]


def test_serve_generates_a_request_id_when_the_client_sends_none(endpoint):
    status, headers, _ = request(endpoint, "POST", "/score", b'{"data": [[2000, 2, 45]]}', endpoint.headers)
    rid = headers["x-request-id"]
    assert status == 200 and len(rid) == 36
    wait_for(
        lambda: any(r["kind"] == "span" and r["attributes"].get("request.id") == rid for r in read_records(endpoint.telemetry_path)),
        f"span of {rid}",
    )


def test_serve_records_request_metrics_by_route_and_status(endpoint):
    status, _, _ = request(endpoint, "POST", "/score", b"{}", {})  # a 401
    assert status == 401

    def metrics_with_401():
        for rec in read_records(endpoint.telemetry_path):
            if rec["kind"] != "metrics":
                continue
            for m in rec["metrics"]:
                if m["name"] == "http.server.requests":
                    for p in m["points"]:
                        if p["attributes"] == {"http.route": "/score", "http.response.status_code": 401}:
                            return p["value"]
        return None

    # the count is cumulative, so any later export shows the 401s
    assert wait_for(metrics_with_401, "a metrics export counting 401s") >= 1


def test_serve_regenerated_key_takes_effect_without_a_restart(endpoint):
    old = endpoint.key
    new = keys_mod.regenerate(endpoint.endpoint_name, "primary").primary
    try:
        wait_for(lambda: score(endpoint, {"data": [[1, 2, 3]]}, {"Authorization": f"Bearer {new}"})[0] == 200, "the new key accepted")
        # Each worker re-reads the key file when it changed (checked at most every KEY_RECHECK_S):
        # then every worker (each request may land on another) refuses the old key.
        refused = (401, {"message": "invalid key"})
        wait_for(
            lambda: all(score(endpoint, {"data": [[1, 2, 3]]}, {"Authorization": f"Bearer {old}"}) == refused for _ in range(6)),
            "the old key refused by every worker",
        )
        assert score(endpoint, {"data": [[1, 2, 3]]}, {"Authorization": f"Bearer {old}"}) == refused
    finally:
        endpoint.key = new


def raw(ep, data: bytes) -> bytes:
    """Send bytes as they are (a malformed request http.client would not send); the whole answer."""
    import socket

    with socket.create_connection(("127.0.0.1", ep.port), timeout=30) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


@pytest.mark.parametrize("chunks", [b"ZZZ\r\nabc\r\n0\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n"], ids=["size", "terminator"])
def test_serve_malformed_chunked_body_answers_400(endpoint, chunks):
    head = f"POST /score HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer {endpoint.key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = raw(endpoint, head.encode() + chunks)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["message"].startswith("malformed chunked request body (")


def test_serve_delete_answers_405_with_allow(endpoint):
    status, headers, body = request(endpoint, "DELETE", "/score", headers=endpoint.headers)
    assert (status, headers["allow"], json.loads(body)) == (405, "POST", {"message": "/score answers POST"})


def test_serve_health_route_declares_text_plain(endpoint):
    _, headers, _ = request(endpoint, "GET", "/")
    assert headers["content-type"] == "text/plain; charset=utf-8"


def test_serve_unknown_swagger_version_answers_404(endpoint):
    status, _, body = request(endpoint, "GET", "/swagger.json?version=7", headers=endpoint.headers)
    assert (status, json.loads(body)) == (404, {"message": "swagger version '7' is not available; available: 2, 2.0, 3, 3.0, 3.1"})


def test_serve_double_slash_score_is_scored_and_recorded_as_score(endpoint):
    rid = "test-double-slash-0001"
    status, _, body = request(endpoint, "POST", "//score", b'{"data": [[2000, 2, 45]]}', {**endpoint.headers, "Content-Type": "application/json", "x-request-id": rid})
    assert (status, json.loads(body)) == (200, {"predict": [0]})
    [span] = wait_for(lambda: [r for r in read_records(endpoint.telemetry_path) if r["kind"] == "span" and r["attributes"].get("request.id") == rid], f"span of {rid}")
    assert (span["name"], span["attributes"]["http.route"]) == ("POST /score", "/score")


def test_serve_text_plain_body_answers_415(endpoint):
    status, _, body = request(endpoint, "POST", "/score", b'{"data": [[2000, 2, 45]]}', {**endpoint.headers, "Content-Type": "text/plain"})
    assert (status, json.loads(body)) == (415, {"message": "Content-Type 'text/plain' is not supported; send the header Content-Type: application/json"})


def _request_line(target: str) -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: local\r\n\r\n".encode()


TRANSPORT_REFUSALS = {
    "malformed-content-length": (b"POST /score HTTP/1.1\r\nHost: local\r\nContent-Length: 12abc\r\n\r\n{}", 400),
    "two-content-lengths": (b"POST /score HTTP/1.1\r\nHost: local\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
    "oversized-header": (b"GET / HTTP/1.1\r\nHost: local\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    "too-many-headers": (b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(120)) + b"\r\n", 431),
    "oversized-request-line": (_request_line("/" + "a" * 5000), 400),
    "invalid-method": (b"G@T / HTTP/1.1\r\nHost: local\r\n\r\n", 400),
    "invalid-http-version": (b"GET / HTTP/9.9\r\nHost: local\r\n\r\n", 400),
}


@pytest.mark.parametrize("name", sorted(TRANSPORT_REFUSALS))
def test_serve_requests_gunicorn_refuses_get_the_json_error_shape(endpoint, name):
    """gunicorn answers these before the front door sees them; amlops serve's worker answers them in JSON."""
    data, code = TRANSPORT_REFUSALS[name]
    answer = raw(endpoint, data)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert lines[0].startswith(f"HTTP/1.1 {code} "), answer[:300]
    assert (headers["content-type"], int(headers["content-length"])) == ("application/json", len(body)), answer[:300]
    doc = json.loads(body)
    assert list(doc) == ["message"] and isinstance(doc["message"], str) and 0 < len(doc["message"]) <= 240, doc


def test_serve_unknown_path_answers_the_json_error_shape(endpoint):
    status, headers, body = request(endpoint, "GET", "/nowhere", headers=endpoint.headers)
    assert (status, headers["content-type"].split(";")[0]) == (404, "application/json")
    assert list(json.loads(body)) == ["message"]
