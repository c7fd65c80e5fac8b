"""Start-up cost of the CLI is decided by what each command imports: help and `config show` load no
heavy package (pulumi, azure-ai-ml, mlflow, scikit-learn, pandas, pyarrow, …). The timing lives in
benchmarks/cli; this test names the command and the package, so a stray import is caught where it is added."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("import_probe.py")
CONFIG_SHOW = {"pydantic", "yaml"}
"""`config show` validates the stack (pydantic) and prints YAML."""


@pytest.fixture(scope="module")
def imports() -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, str(PROBE)], capture_output=True, text=True, timeout=300, cwd=PROBE.parent.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_cli_import_loads_no_heavy_package(imports):
    assert imports["import amlops.cli"] == [], "importing amlops.cli loads " + ", ".join(imports["import amlops.cli"])


def test_cli_every_help_loads_no_heavy_package(imports):
    helps = {cmd: loaded for cmd, loaded in imports.items() if cmd.endswith("--help")}
    assert {"amlops batch run --help", "amlops model train --help", "amlops monitor run --help"} <= set(helps), sorted(helps)
    stray = {cmd: loaded for cmd, loaded in helps.items() if loaded}
    # pydantic among them: Typer's coercion of a group's --help (amlops/cli/__init__.py passes it through)
    assert not stray, f"help loads heavy packages (import them inside the command function): {stray}"


def test_cli_config_show_loads_only_config_packages(imports):
    loaded = set(imports["amlops config show --stack dev"])
    assert "pydantic" in loaded, "config show ran without validating the stack"
    assert loaded <= CONFIG_SHOW, f"config show loads {sorted(loaded - CONFIG_SHOW)}"
