"""A status line while plan, diff, promote --dry-run and serve start-up work: on a terminal only."""

from __future__ import annotations

import io

from rich.console import Console

from amlops.cli import output
from cli_support import run_cli


def console(terminal: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=100), buf


def test_status_shows_its_message_on_a_terminal():
    term, buf = console(True)
    with output.status("planning stack dev…", term):
        pass
    assert "planning stack dev…" in buf.getvalue()


def test_status_prints_nothing_when_not_a_terminal():
    pipe, buf = console(False)
    with output.status("planning stack dev…", pipe):
        pass
    assert buf.getvalue() == ""


def test_plan_shows_a_status_line_on_a_terminal_and_keeps_stdout_clean(capsys, monkeypatch):
    term, buf = console(True)
    monkeypatch.setattr(output, "err", term)
    code, out, err = run_cli(capsys, monkeypatch, "plan", "--stack", "dev", "--format", "json")
    assert (code, err) == (0, "")
    assert out.startswith("{") and "planning" not in out
    assert "planning stack dev: infra/__main__.py under pulumi mocks…" in buf.getvalue()
