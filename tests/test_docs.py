"""The docs are tested: every command has help text and a README entry; the README's promises hold."""

from __future__ import annotations

import re

import typer.main
from typer.testing import CliRunner

from amlops.cli import app
from amlops.paths import ROOT

README = (ROOT / "README.md").read_text()


def _commands(group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        path = (*prefix, name)
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path)
        else:
            yield path, cmd


def test_every_command_has_help_and_a_readme_entry():
    root = typer.main.get_command(app)
    missing_help, missing_readme = [], []
    for path, cmd in _commands(root):
        if not (cmd.help or "").strip():
            missing_help.append(" ".join(path))
        if f"amlops {' '.join(path)}" not in README:
            missing_readme.append(" ".join(path))
    assert missing_help == [], f"commands without help text: {missing_help}"
    assert missing_readme == [], f"commands missing from README.md: {missing_readme}"


def test_every_command_answers_help():
    runner = CliRunner()
    root = typer.main.get_command(app)
    for path, _ in _commands(root):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, f"amlops {' '.join(path)} --help: {result.output}"
        assert "Usage:" in result.output


def test_readme_names_the_two_commands_and_the_azure_path():
    assert "make run" in README and "make test" in README
    assert "pulumi up -s dev" in README
    assert re.search(r"SDK v1\) → amlops", README)


def test_readme_quickstart_lists_every_stage():
    from amlops import quickstart

    section = README.split("## The quickstart")[1].split("\n## ")[0].lower()
    for title, _ in quickstart.stages():
        word = title.split(":")[0].split(" ")[0]
        assert f"**{word}" in section, f"stage {title!r} is not described in the README's quickstart section"
