"""Run by tests/test_cli_imports.py in a fresh interpreter: which heavy modules each `amlops` command loads.

`python tests/import_probe.py` imports the CLI once, then for every command path forks a
child that runs `amlops PATH --help` (and `amlops config show --stack dev`) and reports the
heavy top-level packages loaded. Prints one JSON object: {"amlops": [...], "amlops batch run --help": [...], ...}.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys

HEAVY = (
    "pulumi", "pulumi_azure_native", "azure.ai.ml", "azure.identity", "azure.core", "mlflow", "sklearn", "scipy",
    "pandas", "pyarrow", "numpy", "matplotlib", "skops", "opentelemetry", "pydantic", "yaml",
    "azureml_inference_server_http", "flask", "gunicorn", "inference_schema", "joblib", "filelock", "croniter",
)
"""Packages that cost tens to thousands of milliseconds to import (yaml, filelock, croniter: a few ms each)."""


BATCH = 4
"""Children running at once."""


def heavy_loaded() -> list[str]:
    return sorted(name for name in HEAVY if name in sys.modules)


def command_paths(group, ctx, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every group and command below `group`, as argument tuples."""
    paths = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        path = (*prefix, name)
        paths.append(path)
        if hasattr(command, "list_commands"):
            paths.extend(command_paths(command, ctx, path))
    return paths


def in_child(argv: list[str]) -> tuple[int, int]:
    """Start `amlops ARGV` in a forked child: (its pid, the pipe it reports the heavy packages loaded on)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        from amlops.cli import main

        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                main(argv)
            except SystemExit:
                pass
        os.write(write, json.dumps(heavy_loaded()).encode())
        os._exit(0)
    os.close(write)
    return pid, read


def report_of(child: tuple[int, int]) -> list[str]:
    pid, read = child
    with os.fdopen(read, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def main() -> None:
    import typer

    from amlops.cli import app

    report = {"import amlops.cli": heavy_loaded()}
    root = typer.main.get_command(app)
    ctx = root.make_context("amlops", ["--help"], resilient_parsing=True)
    runs = {"amlops --help": ["--help"], "amlops config show --stack dev": ["config", "show", "--stack", "dev"]}
    runs.update({f"amlops {' '.join(path)} --help": [*path, "--help"] for path in command_paths(root, ctx)})
    names = list(runs)
    for at in range(0, len(names), BATCH):  # a few children at a time: they run in parallel
        children = {name: in_child(runs[name]) for name in names[at : at + BATCH]}
        report.update({name: report_of(child) for name, child in children.items()})
    print(json.dumps(report))


if __name__ == "__main__":
    main()
