"""How `amlops serve`'s worker sleeps between connections: gunicorn's SyncWorker.wait contract (what is ready among
its sockets and its pipe), with the sockets watched in epoll's exclusive mode so that a new connection wakes one
idle worker, not every worker (gunicorn's select() wakes them all)."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from amlops.serving import worker


@pytest.fixture
def listener():
    with socket.create_server(("127.0.0.1", 0)) as sock:
        sock.setblocking(False)
        yield sock


def a_worker(listener: socket.socket) -> worker.JsonErrorWorker:
    """A worker's waiting state as gunicorn's Worker.init_process leaves it (its sockets, its pipe, wait_fds)."""
    w = object.__new__(worker.JsonErrorWorker)
    w.sockets = [listener]
    w.PIPE = os.pipe()
    for fd in w.PIPE:
        os.set_blocking(fd, False)
    w.wait_fds = [listener, w.PIPE[0]]
    w.notify = lambda: None  # the heartbeat file gunicorn's arbiter watches
    return w


def test_serve_worker_wait_returns_a_listener_with_a_connection_waiting(listener):
    w = a_worker(listener)
    assert w.wait(0.05) == []
    with socket.create_connection(listener.getsockname()):
        assert w.wait(5) == [listener]
        assert w.wait(0.05) == [listener], "epoll reports a connection as long as it waits (level-triggered, as select)"
        listener.accept()[0].close()
    assert w.wait(0.05) == []


def test_serve_worker_wait_a_signal_wakes_the_worker_through_its_pipe_and_the_byte_is_read(listener):
    w = a_worker(listener)
    w.wait(0.01)
    os.write(w.PIPE[1], b"1")  # what signal.set_wakeup_fd makes the kernel do for gunicorn's handlers
    assert w.wait(5) == [w.PIPE[0]]
    with pytest.raises(BlockingIOError):
        os.read(w.PIPE[0], 1)


def test_serve_worker_wait_a_connection_wakes_one_of_two_idle_workers(listener):
    workers = [a_worker(listener), a_worker(listener)]
    for w in workers:
        w.wait(0.01)  # each has its epoll, as each forked worker has
    woken: list[list] = [[], []]
    both_waiting = threading.Barrier(3)

    def sleep(i: int) -> None:
        both_waiting.wait()
        woken[i] = workers[i].wait(3.0)

    threads = [threading.Thread(target=sleep, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    both_waiting.wait()
    threading.Event().wait(0.3)  # both are in epoll_wait by now
    with socket.create_connection(listener.getsockname()):
        for t in threads:
            t.join(10)
        assert sorted(len(found) for found in woken) == [0, 1], f"woken: {woken} (gunicorn's select() wakes both)"
        listener.accept()[0].close()


def test_serve_worker_wait_a_forgotten_listener_is_no_longer_watched(listener):
    w = a_worker(listener)
    w.wait(0.01)
    w.forget(listener)
    with socket.create_connection(listener.getsockname()):
        assert w.wait(0.1) == []


def test_serve_worker_heartbeat_touches_gunicorns_file_at_most_once_a_period(monkeypatch):
    class Tmp:  # gunicorn's WorkerTmp: notify() is a utime of the file the arbiter watches
        touches = 0

        def notify(self):
            self.touches += 1

    w = object.__new__(worker.JsonErrorWorker)
    w.tmp = Tmp()
    clock = [1000.0]
    monkeypatch.setattr(worker.time, "monotonic", lambda: clock[0])
    w.notify()
    w.notify()
    clock[0] += worker.HEARTBEAT_S - 0.01
    w.notify()
    assert w.tmp.touches == 1
    clock[0] += 0.02
    w.notify()
    assert w.tmp.touches == 2
    assert worker.HEARTBEAT_S * 10 <= 30, "the arbiter's --timeout (30 s at least) must stay far above the period"
