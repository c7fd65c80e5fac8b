"""The front door's answers below the network (a fake WSGI app): methods and Allow, the health
route's media type, swagger versions, repeated slashes, media types and encodings, malformed
chunked bodies, and client input kept bounded in what is written back."""

from __future__ import annotations

import io
import json

import pytest
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize, NoMoreData
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from amlops.serving.frontdoor import MAX_ERROR_MESSAGE, MAX_REQUEST_ID, SWAGGER_FILES, FrontDoor, route_of
from amlops.serving.telemetry.wiring import Exporters, Telemetry


class Recorder:
    """A WSGI app that answers like the inference server and remembers whether it was called."""

    def __init__(self, status: str = "200 OK", body: bytes = b"{}", content_type: str = "application/json"):
        self.status, self.body, self.content_type = status, body, content_type
        self.calls: list[dict] = []

    def __call__(self, environ, start_response):
        self.calls.append(environ)
        start_response(self.status, [("Content-Type", self.content_type), ("Content-Length", str(len(self.body)))])
        return [self.body]


def call(app, method: str = "POST", path: str = "/score", headers: dict | None = None, body: bytes = b"{}", stream=None) -> tuple[str, dict, bytes]:
    """One request as gunicorn makes it; returns the status, the headers (lower-cased names) and the body."""
    got: list = []
    environ = {
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "QUERY_STRING": "",
        "wsgi.input": stream if stream is not None else io.BytesIO(body),
        **({"CONTENT_LENGTH": str(len(body))} if stream is None else {"wsgi.input_terminated": True}),
        **(headers or {}),
    }
    response = app(environ, lambda status, hdrs, exc=None: got.append((status, hdrs)))
    try:
        out = b"".join(response)
    finally:
        if hasattr(response, "close"):
            response.close()
    status, hdrs = got[0]
    return status, {k.lower(): v for k, v in hdrs}, out


def door(app, max_body_bytes: int = 1024, **kwargs) -> FrontDoor:
    return FrontDoor(app, keys=None, max_body_bytes=max_body_bytes, timeout_ms=1000, **kwargs)


@pytest.mark.parametrize(
    "method,path,allow",
    [("DELETE", "/score", "POST"), ("GET", "/score", "POST"), ("OPTIONS", "/score", "POST"), ("POST", "/", "GET, HEAD"), ("PUT", "/swagger.json", "GET, HEAD")],
)
def test_serve_frontdoor_wrong_method_answers_405_with_allow(method, path, allow):
    app = Recorder()
    status, headers, body = call(door(app), method, path)
    assert (status, headers["allow"], json.loads(body)) == ("405 Method Not Allowed", allow, {"message": f"{path} answers {allow}"})
    assert app.calls == []


def test_serve_frontdoor_health_answers_text_plain_as_the_swagger_declares():
    app = Recorder(body=b"Healthy", content_type="text/html; charset=utf-8")
    status, headers, body = call(door(app), "GET", "/")
    assert (status, headers["content-type"], body) == ("200 OK", "text/plain; charset=utf-8", b"Healthy")


def swagger_root(tmp_path, *names: str):
    for name in names:
        (tmp_path / name).write_text("{}")
    return tmp_path


@pytest.mark.parametrize("version", ["3.1", "7", "2&version=3"])
def test_serve_frontdoor_swagger_version_without_a_file_answers_404(tmp_path, version):
    app = Recorder()
    front = door(app, app_root=swagger_root(tmp_path, "swagger.json", "swagger3.json"))
    status, _, body = call(front, "GET", "/swagger.json", headers={"QUERY_STRING": f"version={version}"})
    shown = version.split("=")[-1]
    assert (status, json.loads(body)) == ("404 Not Found", {"message": f"swagger version {shown!r} is not available; available: 2, 2.0, 3, 3.0"})
    assert app.calls == []


@pytest.mark.parametrize("query", ["", "version=2", "version=3.0"])
def test_serve_frontdoor_swagger_version_with_a_file_reaches_the_server(tmp_path, query):
    app = Recorder(body=b'{"swagger": "2.0"}')
    front = door(app, app_root=swagger_root(tmp_path, "swagger.json", "swagger3.json"))
    assert call(front, "GET", "/swagger.json", headers={"QUERY_STRING": query})[0] == "200 OK"
    assert len(app.calls) == 1


def test_serve_frontdoor_swagger_versions_are_the_servers():
    from azureml_inference_server_http.server.swagger import Swagger

    assert set(SWAGGER_FILES) == Swagger._valid_versions


def test_serve_frontdoor_long_swagger_version_is_cut_in_the_message(tmp_path):
    front = door(Recorder(), app_root=swagger_root(tmp_path, "swagger.json"))
    _, _, body = call(front, "GET", "/swagger.json", headers={"QUERY_STRING": "version=" + "9" * 10_000})
    assert json.loads(body) == {"message": f"swagger version {'9' * 60!r}… (10000 characters) is not available; available: 2, 2.0"}


@pytest.mark.parametrize("path,route", [("//score", "/score"), ("///score", "/score"), ("/score", "/score"), ("//swagger.json", "/swagger.json"), ("/score/", "unmatched"), ("/x", "unmatched")])
def test_serve_frontdoor_route_counts_repeated_slashes_as_one(path, route):
    assert route_of(path) == route


def test_serve_frontdoor_double_slash_score_is_labelled_and_checked_as_score():
    exporter = InMemorySpanExporter()
    tel = Telemetry({"service.name": "test"}, Exporters(spans=[exporter]))
    try:
        front = door(Recorder(), telemetry=tel)
        assert call(front, "POST", "//score", headers={"CONTENT_TYPE": "application/json"})[0] == "200 OK"
        assert call(front, "GET", "//score")[0] == "405 Method Not Allowed"
        tel.tracer_provider.force_flush()
        assert [(s.name, s.attributes["http.route"]) for s in exporter.get_finished_spans()] == [("POST /score", "/score"), ("GET /score", "/score")]
    finally:
        tel.shutdown()


@pytest.mark.parametrize(
    "headers,message",
    [
        ({"CONTENT_TYPE": "text/plain"}, "Content-Type 'text/plain' is not supported; send the header Content-Type: application/json"),
        ({"CONTENT_TYPE": "application/xml"}, "Content-Type 'application/xml' is not supported; send the header Content-Type: application/json"),
        (
            {"CONTENT_TYPE": "application/x-www-form-urlencoded"},
            "Content-Type 'application/x-www-form-urlencoded' is not supported; send the header Content-Type: application/json",
        ),
        ({"CONTENT_TYPE": "application/json; charset=latin-1"}, "charset 'latin-1' is not supported; send UTF-8 JSON"),
        ({"CONTENT_TYPE": "application/json", "HTTP_CONTENT_ENCODING": "gzip"}, "Content-Encoding 'gzip' is not supported; send the JSON body uncompressed"),
    ],
    ids=["text", "xml", "form", "charset", "gzip"],
)
def test_serve_frontdoor_unsupported_media_type_answers_415(headers, message):
    app = Recorder()
    status, _, body = call(door(app), headers=headers)
    assert (status, json.loads(body)) == ("415 Unsupported Media Type", {"message": message})
    assert app.calls == []


@pytest.mark.parametrize("content_type", [None, "application/json", "Application/JSON; charset=UTF-8", 'application/json; charset="utf-8"'])
def test_serve_frontdoor_json_or_no_content_type_is_scored(content_type):
    app = Recorder()
    headers = {"CONTENT_TYPE": content_type} if content_type else {}
    assert call(door(app), headers=headers)[0] == "200 OK"
    assert len(app.calls) == 1


class Broken(io.RawIOBase):
    """A chunked body as gunicorn reads it when the client's framing is wrong."""

    def __init__(self, error: Exception):
        self.error = error

    def read(self, size=-1):
        raise self.error


@pytest.mark.parametrize("error", [InvalidChunkSize(b"ZZZ"), ChunkMissingTerminator(b"de"), NoMoreData(b"")], ids=lambda e: type(e).__name__)
def test_serve_frontdoor_malformed_chunked_body_answers_400(error):
    app = Recorder()
    status, headers, body = call(door(app), headers={"CONTENT_TYPE": "application/json"}, stream=Broken(error))
    assert (status, headers["connection"]) == ("400 Bad Request", "close")
    assert json.loads(body) == {"message": f"malformed chunked request body ({type(error).__name__})"}
    assert app.calls == []


def test_serve_frontdoor_long_request_id_answers_431_and_is_never_written():
    exporter = InMemorySpanExporter()
    tel = Telemetry({"service.name": "test"}, Exporters(spans=[exporter]))
    app = Recorder()
    try:
        status, headers, body = call(door(app, telemetry=tel), headers={"HTTP_X_REQUEST_ID": "r" * 8000})
        tel.tracer_provider.force_flush()
        [span] = exporter.get_finished_spans()
    finally:
        tel.shutdown()
    assert (status, json.loads(body)) == ("431 Request Header Fields Too Large", {"message": f"x-request-id must not exceed {MAX_REQUEST_ID} characters"})
    assert app.calls == []
    assert len(span.attributes["request.id"]) == 36 and span.attributes["http.response.status_code"] == 431


def test_serve_frontdoor_request_id_limit_is_the_servers():
    from azureml_inference_server_http.server.routes import HEADER_LIMIT

    assert MAX_REQUEST_ID == HEADER_LIMIT


def test_serve_frontdoor_long_error_message_from_the_app_is_cut():
    message = "unknown field '" + "x" * 100_000 + "'"
    app = Recorder("400 BAD REQUEST", json.dumps({"message": message}).encode())
    status, headers, body = call(door(app), headers={"CONTENT_TYPE": "application/json"})
    expected = {"message": f"{message[:MAX_ERROR_MESSAGE]}… ({len(message) - MAX_ERROR_MESSAGE} more characters cut)"}
    assert (status, json.loads(body)) == ("400 BAD REQUEST", expected)
    assert headers["content-length"] == str(len(body))


def test_serve_frontdoor_unknown_method_is_named_other_in_the_span():
    exporter = InMemorySpanExporter()
    tel = Telemetry({"service.name": "test"}, Exporters(spans=[exporter]))
    try:
        call(door(Recorder("404 NOT FOUND"), telemetry=tel), "X" * 500, "/elsewhere")
        tel.tracer_provider.force_flush()
        [span] = exporter.get_finished_spans()
    finally:
        tel.shutdown()
    assert (span.name, span.attributes["http.request.method"]) == ("_OTHER unmatched", "_OTHER")


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_serve_frontdoor_json_integer_over_the_digit_limit_answers_400(chunked):
    app = Recorder()
    body = b'{"data": [[' + b"9" * 4301 + b", 2, 45]]}"
    stream = io.BytesIO(body) if chunked else None
    status, _, answer = call(door(app, max_body_bytes=1 << 20), headers={"CONTENT_TYPE": "application/json"}, body=body, stream=stream)
    assert (status, json.loads(answer)) == ("400 Bad Request", {"message": "invalid JSON: a number has more than 4300 digits"})
    assert app.calls == []


def test_serve_frontdoor_long_body_without_long_numbers_reaches_the_app_whole():
    seen = []

    def app(environ, start_response):
        seen.append(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    body = json.dumps({"data": [[2000.5, 2, 45]] * 1000}).encode()
    assert call(door(app, max_body_bytes=1 << 20), headers={"CONTENT_TYPE": "application/json"}, body=body)[0] == "200 OK"
    assert seen == [body]


def test_serve_frontdoor_generated_request_ids_are_distinct_uuids_and_differ_in_a_forked_worker():
    import os
    import uuid

    from amlops.serving.frontdoor import request_ids

    app = Recorder()
    front = door(app)
    for _ in range(3):
        call(front)
    made = [environ["HTTP_X_REQUEST_ID"] for environ in app.calls]
    parsed = [uuid.UUID(rid) for rid in made]
    assert len(set(made)) == 3 and all(str(u) == rid for u, rid in zip(parsed, made)), made
    assert {(u.version, u.variant) for u in parsed} == {(8, uuid.RFC_4122)}, made
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker forked from a master that already made ids: its own random part
        os.write(write, request_ids.new().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    assert len(child) == 36 and child[:24] != made[0][:24], (child, made)
