"""Run a WSGI app under gunicorn sync workers on a socket we bind ourselves, wait until `/`
answers, and stop it by PID. Used by `amlops serve` and by the serving benchmark.

The socket is bound here and handed to gunicorn as `fd://N`: port 0 then means a free
port with no race, and a port in use is a clear error before anything starts. The
`azmlinfsrv` launcher is not used because it always binds 0.0.0.0.

gunicorn never outlives the process that started it: it runs in its own session (a Ctrl-C
on the terminal reaches only amlops, which stops it), its parent-death signal is SIGTERM
(amlops.serving.launch: closing the terminal, or amlops being killed, stops it gracefully), and an interrupted
start-up stops it before re-raising. It opens no control socket (gunicorn's default is one
path per user, which every server on the machine would share).
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amlops.errors import AmlopsError, UsageError
from amlops.serving.settings import LISTENER_FD

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
GRACEFUL_TIMEOUT_S = 5


class ServerStartError(AmlopsError):
    """The server did not come up; the message carries the scoring script's own error when it had one."""

    def __init__(self, message: str, log_tail: str = ""):
        super().__init__(message)
        self.log_tail = log_tail


class ServerExited(AmlopsError):
    """The server stopped without being asked to."""


class PortInUse(UsageError):
    """The requested host:port cannot be bound."""


@dataclass
class GunicornSpec:
    """What to run: the app, its environment and gunicorn's settings."""

    app: str
    """`module:attribute` of the WSGI app."""
    env: dict[str, str]
    """Added to this process's environment."""
    workers: int = 1
    worker_timeout_s: int = 300
    """gunicorn's --timeout: a worker silent this long is killed (a backstop, not the request timeout)."""
    log_dir: Path | None = None
    """Where stdout and stderr go, as `gunicorn-<port>.log` (the script's and server's logs); None discards them."""
    extra_args: list[str] = field(default_factory=list)
    worker_class: str = "sync"
    """gunicorn's --worker-class: `sync`, or a sync worker subclass (amlops.serving.worker.JsonErrorWorker)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0 = a free one); raises PortInUse."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port (0 picks a free one)") from None
    sock.listen(2048)
    return sock


_CAUSE = "The above exception was the direct cause of the following exception:"


def script_error(log_text: str) -> str | None:
    """The scoring script's own exception line from the server's log, if init() or the import failed.

    The server logs the script's traceback followed by its own wrapper exception; the
    line just before "The above exception was the direct cause" is the script's error.
    """
    lines = log_text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == _CAUSE:
            for prev in reversed(lines[:i]):
                if prev.strip():
                    return re.sub(r"^entry_module\.", "", prev.strip())
    return None


class GunicornServer:
    """One gunicorn master (and its workers) that this process started."""

    def __init__(self, spec: GunicornSpec, host: str = "127.0.0.1", port: int = 0):
        self.spec = spec
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._log_file = None
        self.log_path: Path | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, ready_timeout: float = READY_TIMEOUT_S) -> None:
        """Start gunicorn and return once `/` answers 200; raises ServerStartError with the script's error."""
        sock = bind(self.host, self.requested_port)
        self.port = sock.getsockname()[1]
        fd = sock.fileno()
        shared = os.dup(fd)  # where the admission's dispatcher accepts (amlops.serving.admission); gunicorn closes `fd`
        args = [
            sys.executable, "-m", "amlops.serving.launch", str(os.getpid()),  # SIGTERM to gunicorn if we die
            sys.executable, "-m", "gunicorn",
            "--bind", f"fd://{fd}",
            "--workers", str(self.spec.workers),
            "--worker-class", self.spec.worker_class,
            "--timeout", str(self.spec.worker_timeout_s),
            "--graceful-timeout", str(GRACEFUL_TIMEOUT_S),
            "--no-control-socket",
            *self.spec.extra_args,
            self.spec.app,
        ]
        if self.spec.log_dir is not None:
            self.spec.log_dir.mkdir(parents=True, exist_ok=True)
            self.log_path = self.spec.log_dir / f"gunicorn-{self.port}.log"
            self._log_file = open(self.log_path, "wb")
        out = self._log_file if self._log_file is not None else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                args,
                env={**os.environ, **self.spec.env, LISTENER_FD: str(shared)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(fd, shared),
                start_new_session=True,  # Ctrl-C reaches amlops, which then stops gunicorn cleanly
            )
        finally:
            sock.close()  # gunicorn holds its own copies
            os.close(shared)
        try:
            self._wait_ready(ready_timeout)
        except BaseException:  # Ctrl-C (KeyboardInterrupt) or a failed start: leave nothing running
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            code = self.process.poll()
            if code is not None:
                self._close_log()
                raise self._start_error(f"the server exited with code {code} before it answered")
            if self._healthy():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise self._start_error(f"the server did not answer {self.url}/ within {timeout:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def _healthy(self) -> bool:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
        try:
            conn.request("GET", "/")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return self.log_path.read_text(errors="replace")

    def _start_error(self, what: str) -> ServerStartError:
        text = self.log_text()
        tail = "\n".join(text.splitlines()[-30:])
        cause = script_error(text)
        where = f" (log: {self.log_path})" if self.log_path else ""
        if cause:
            return ServerStartError(f"the scoring script failed to start: {cause}{where}", tail)
        return ServerStartError(f"{what}{where}", tail)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM the gunicorn master (graceful: workers finish their request) and wait; SIGKILL its group if stuck."""
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the session gunicorn was started in: its own workers
                proc.wait()
            except ProcessLookupError:
                pass
        self._close_log()
        return proc.returncode

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
