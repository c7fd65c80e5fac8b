"""Misuse of the `amlops` command: one line on stderr and exit 2, never a traceback; help without `<bool>`."""

from __future__ import annotations

import re

import pytest
import typer.main

from amlops.cli import app
from cli_support import run_cli


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("serve", "--stak", "dev"),
         "error: amlops serve: No such option: --stak (Possible options: --host, --stack) (see `amlops serve --help`)"),
        (("modle", "list"),
         "error: amlops: No such command 'modle'. Did you mean 'model'? (see `amlops --help`)"),
        (("model", "register", "--if-better", "true"),
         "error: amlops model register: Got unexpected extra argument(s) (true) (see `amlops model register --help`)"),
        (("config", "show", "--stack"),
         "error: amlops: Option '--stack' requires an argument (see `amlops --help`)"),
        (("batch", "run", "--input", "x.csv", "--mode", "bogus"),
         "error: amlops batch run: Invalid value for '--mode': 'bogus' is not one of 'tabular', 'files' "
         "(see `amlops batch run --help`)"),
        (("batch", "run", "--input", "x.csv", "--max-concurrency", "0"),
         "error: amlops batch run: Invalid value for '--max-concurrency': Input should be greater than or equal to 1 "
         "(see `amlops batch run --help`)"),
        (("batch", "run"),
         "error: amlops batch run: Missing option '--input' / '-i' (see `amlops batch run --help`)"),
        (("promote",),
         "error: amlops promote: Missing argument 'NAME:VERSION' (see `amlops promote --help`)"),
    ],
)
def test_usage_error_prints_one_line_and_exits_2(capsys, monkeypatch, args, line):
    code, out, err = run_cli(capsys, monkeypatch, *args)
    assert (code, out, err) == (2, "", line + "\n")


def test_profile_max_concurrency_0_is_one_line_and_exit_2(capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "profile", "--max-concurrency", "0")
    assert (code, out, err) == (2, "", "error: --max-concurrency must be 1-256, got 0\n")


def test_amlops_without_a_command_shows_help_and_one_error_line(capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch)
    assert code == 2
    assert "Usage: amlops [OPTIONS] COMMAND [ARGS]..." in out
    listed = re.fullmatch(r"error: amlops needs a command: (.+) \(see `amlops --help`\)\n", err)
    assert listed, err
    assert sorted(listed.group(1).split(", ")) == sorted(typer.main.get_command(app).commands)


def test_group_without_a_command_names_its_commands(capsys, monkeypatch):
    code, _, err = run_cli(capsys, monkeypatch, "config")
    assert (code, err) == (2, "error: amlops config needs a command: show, migrate (see `amlops config --help`)\n")


def test_help_shows_no_type_on_flags(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_cli(capsys, monkeypatch, "model", "register", "--help")
    assert code == 0
    flag = next(line for line in out.splitlines() if "--if-better" in line)
    assert "<bool>" not in out and "Register only if more accurate" in flag
    assert "<float>" in next(line for line in out.splitlines() if "--accuracy" in line)


def test_error_messages_print_user_text_literally(capsys, monkeypatch):
    code, _, err = run_cli(capsys, monkeypatch, "config", "show", "--stack", "[/x]:smile:")
    assert (code, err) == (
        2, "error: no stack file stacks/Pulumi.[/x]:smile:.yaml for stack '[/x]:smile:'; known stacks: dev, prod, staging\n"
    )


@pytest.mark.parametrize(
    ("args", "allowed"),
    [(("plan",), "text, json"), (("diff",), "text, markdown, json"), (("check",), "text, markdown, json"),
     (("config", "show"), "yaml, json")],
)
def test_unknown_format_names_the_allowed_ones(capsys, monkeypatch, args, allowed):
    code, out, err = run_cli(capsys, monkeypatch, *args, "--format", "xml")
    assert (code, out, err) == (2, "", f"error: --format must be one of {allowed}, got 'xml'\n")
