"""The `amlops` console script (amlops.cli.entry) ends the process without the interpreter's teardown,
and loses nothing a normal exit would keep: the exit code, stdout and stderr, log lines, atexit
handlers and non-daemon threads. Each case is a fresh process, as a user's shell runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.cli_support import run_cli

AMLOPS = Path(sys.executable).parent / "amlops"

COMMAND = """
import atexit, logging, sys, threading, time
from pathlib import Path
import amlops.cli

here = Path(sys.argv[1])

class Teardown:
    def __del__(self):  # runs only when the interpreter frees module globals at exit
        (here / "teardown").write_text("freed")

def main():
    global KEPT
    KEPT = Teardown()
    sys.stdout.write("out without a newline")  # block-buffered: a pipe, not a terminal
    sys.stderr.write("err line\\n")
    log = logging.getLogger("amlops.test")
    log.addHandler(logging.FileHandler(here / "log.txt", delay=False))
    log.warning("logged")
    atexit.register(lambda: (here / "atexit").write_text("ran"))

    def late():
        time.sleep(0.3)
        (here / "thread").write_text("joined")

    threading.Thread(target=late).start()  # non-daemon: the exit waits for it
    {end}

amlops.cli.main = main
from amlops.cli.entry import run
run()
"""


def _command(tmp_path: Path, end: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "command.py"
    script.write_text(textwrap.dedent(COMMAND).replace("{end}", end))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout block-buffered, as usual on a pipe
    return subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120, env=env)


def _written(tmp_path: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in tmp_path.iterdir() if p.name != "command.py"}


def test_a_command_that_returns_exits_0_with_everything_written_and_no_teardown(tmp_path):
    done = _command(tmp_path, "return None")
    assert (done.returncode, done.stdout, done.stderr) == (0, "out without a newline", "err line\n")
    # the thread joined, atexit ran, the log line was flushed; the module globals were never freed
    assert _written(tmp_path) == {"thread": "joined", "atexit": "ran", "log.txt": "logged\n"}


def test_a_command_that_exits_with_a_code_keeps_it(tmp_path):
    done = _command(tmp_path, "sys.exit(3)")
    assert (done.returncode, done.stdout) == (3, "out without a newline")
    assert _written(tmp_path) == {"thread": "joined", "atexit": "ran", "log.txt": "logged\n"}


def test_an_exception_that_escapes_takes_the_normal_exit(tmp_path):
    done = _command(tmp_path, "raise RuntimeError('not a result')")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "RuntimeError: not a result"
    assert _written(tmp_path) == {"thread": "joined", "atexit": "ran", "log.txt": "logged\n", "teardown": "freed"}


def test_a_message_exit_takes_the_normal_exit(tmp_path):
    done = _command(tmp_path, "sys.exit('a message')")
    assert (done.returncode, done.stderr.splitlines()[-1]) == (1, "a message")


def test_stdout_that_cannot_be_flushed_exits_120_as_python_does(tmp_path):
    done = _command(tmp_path, "import os; os.close(1); sys.stdout.write(' and more')")
    assert done.returncode == 120


def test_a_closed_stdout_is_passed_by_as_python_does(tmp_path):
    done = _command(tmp_path, "sys.stdout.close()")
    assert (done.returncode, done.stderr) == (0, "err line\n")
    assert _written(tmp_path) == {"thread": "joined", "atexit": "ran", "log.txt": "logged\n"}


def test_the_console_script_prints_what_main_prints(monkeypatch, capsys):
    """The installed `amlops` runs entry.run: the same output and exit code as main() in process."""
    codes = {}
    for args in (("config", "show", "--stack", "dev"), ("config", "show", "--stack", "nope"), ("batch", "--help")):
        code, out, err = run_cli(capsys, monkeypatch, *args)
        done = subprocess.run([str(AMLOPS), *args], capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stdout, done.stderr) == (code, out, err), args
        codes[args[-1]] = code
    assert codes == {"dev": 0, "nope": 2, "--help": 0}
