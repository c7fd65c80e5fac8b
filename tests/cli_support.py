"""Shared by the diff/check/promote tests: run the real `amlops` entry point, and a gate-only registry fake."""

from __future__ import annotations

import sys

from amlops.cli import main
from amlops.registry import ModelVersion


def run_cli(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `amlops ARGS` through main(), errors mapped as users see them."""
    monkeypatch.setattr(sys, "argv", ["amlops", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


class FakeRegistry:
    """The gate's view of a registry: version 1 at accuracy 0.80, version 2 at 0.85."""

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        return ModelVersion(name, version or 2, {1: 0.80, 2: 0.85}[version or 2], None, "", {}, 0)
