"""How `amlops serve`'s worker closes a client's connection: at once when the request was read to its end, the
client's TCP stack has acknowledged the whole response and nothing it sent waits unread (RFC 9112 section 9.6's
second condition); otherwise through gunicorn's staged close, which waits for the client to close first.

Real loopback TCP connections; the worker's method is called as gunicorn's handle() calls
`gunicorn.util.close_graceful`."""

from __future__ import annotations

import fcntl
import io
import socket
import sys
import termios

import pytest
from gunicorn.http.body import Body, ChunkedReader, LengthReader

from amlops.serving import worker
from serve_support import wait_for

RESPONSE = b'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 15\r\n\r\n{"predict": 1}\n'


@pytest.fixture
def connection():
    """(the server's side, the client's side) of a loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=10)
        server, _ = listener.accept()
    yield server, client
    server.close()
    client.close()


class _StagedClose:
    """Stands in for gunicorn's close_graceful: records the sockets handed to it, then closes them."""

    def __init__(self):
        self.calls: list[socket.socket] = []

    def __call__(self, sock, timeout=2.0, max_drain=65536):
        self.calls.append(sock)
        sock.close()


@pytest.fixture
def staged(monkeypatch):
    recorder = _StagedClose()
    monkeypatch.setattr(worker, "_close_graceful", recorder)
    return recorder


def a_worker(request_read: bool) -> worker.JsonErrorWorker:
    w = object.__new__(worker.JsonErrorWorker)  # only close_connection's state: no gunicorn arbiter needed
    w._request_read = request_read
    return w


def unread(sock: socket.socket) -> int:
    return int.from_bytes(fcntl.ioctl(sock.fileno(), termios.FIONREAD, bytes(4)), sys.byteorder)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_serve_close_an_acknowledged_answer_to_a_whole_request_is_closed_at_once(connection, staged):
    server, client = connection
    server.sendall(RESPONSE)
    wait_for(lambda: worker.settled(server), "the client's acknowledgement of the response")
    w = a_worker(request_read=True)
    w.close_connection(server)
    assert staged.calls == [], "an acknowledged answer with nothing unread went through the staged close"
    assert server.fileno() == -1, "the connection is still open"
    assert w._request_read is False, "the next connection would inherit this request's state"
    assert read_all(client) == RESPONSE, "the client did not read the whole answer, then the server's FIN"


def test_serve_close_input_left_unread_goes_through_the_staged_close(connection, staged):
    server, client = connection
    client.sendall(b"POST /score HTTP/1.1\r\n")  # e.g. a pipelined request the server never reads
    server.sendall(RESPONSE)
    wait_for(lambda: unread(server) > 0, "the client's bytes in the server's receive queue")
    assert worker.settled(server) is False
    a_worker(request_read=True).close_connection(server)
    assert staged.calls == [server]


def test_serve_close_a_request_not_read_to_its_end_goes_through_the_staged_close(connection, staged):
    server, client = connection
    server.sendall(RESPONSE)
    wait_for(lambda: worker.settled(server), "the client's acknowledgement of the response")
    a_worker(request_read=False).close_connection(server)
    assert staged.calls == [server]


def test_serve_close_sent_bytes_the_client_has_not_acknowledged_are_not_settled(connection):
    server, client = connection
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the client reads nothing: its window closes
    server.setblocking(False)
    sent = 0
    with pytest.raises(BlockingIOError):
        for _ in range(100_000):
            sent += server.send(b"x" * 65536)
    assert sent > 0 and worker.settled(server) is False


def test_serve_close_a_closed_socket_is_not_settled():
    sock = socket.socket()
    sock.close()
    assert worker.settled(sock) is False


@pytest.mark.parametrize(
    "body, read",
    [
        (Body(LengthReader(io.BytesIO(), 0)), True),  # no body (a GET), or a body read to its end
        (Body(LengthReader(io.BytesIO(), 12)), False),  # 12 bytes still in the socket
        (Body(object.__new__(ChunkedReader)), False),  # chunked: its end is not known here
        (None, False),  # gunicorn failed before the body
    ],
)
def test_serve_close_a_request_is_read_only_when_its_body_of_known_length_was_taken_whole(body, read):
    class Request:
        pass

    req = Request()
    req.body = body
    assert worker.request_read(req) is read
    assert worker.request_read(None) is False
