"""The serving, batch and model paths never load the Pulumi program's provider: skops' type scan
(run when score.py or the packager loads a model) walks every loaded module, and with
pulumi_azure_native loaded its lazy loader imports all of itself (≈ 35 s; DESIGN.md)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import amlops.batching
import amlops.serving

ROOT = Path(__file__).resolve().parent.parent
PROVIDER = ("pulumi", "pulumi_azure_native")
NOT_IMPORTED = {"amlops.serving.wsgi"}
"""gunicorn's target: importing it starts the inference server and runs score.py's init(); what it imports is listed here."""


def _modules(package) -> list[str]:
    return [info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".") if info.name not in NOT_IMPORTED]


PATHS = [
    *_modules(amlops.serving),
    *_modules(amlops.batching),
    "amlops.registry", "amlops.importing", "amlops.modelfile", "amlops.training", "amlops.data",
    "infra.scoring_package", "infra.swagger", "infra.model_source", "infra.config",
    "amlops.cli.serve", "amlops.cli.batch", "amlops.cli.model",
]


def _loaded_after(modules: list[str]) -> dict[str, list[str]]:
    """For each module, imported alone in a fresh interpreter: which of PROVIDER it loaded."""
    code = (
        "import importlib, json, sys\n"
        "mod = sys.argv[1]\n"
        "importlib.import_module(mod)\n"
        f"print(json.dumps([p for p in {PROVIDER!r} if p in sys.modules]))\n"
    )
    found = {}
    for module in modules:
        done = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, f"import {module}: {done.stderr[-2000:]}"
        found[module] = json.loads(done.stdout)
    return found


def test_serving_batch_and_model_modules_never_load_the_pulumi_provider():
    assert "amlops.serving.endpoint" in PATHS and "amlops.batching.job" in PATHS, PATHS
    loaded = _loaded_after(PATHS)
    offenders = {module: found for module, found in loaded.items() if found}
    assert not offenders, f"these modules load the Pulumi provider (keep constants they need out of infra's components): {offenders}"


def test_gunicorn_target_imports_no_pulumi_module():
    """amlops.serving.wsgi's own imports (read from its source, as importing it would start a server)."""
    import ast

    tree = ast.parse((ROOT / "amlops" / "serving" / "wsgi.py").read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert names and not [n for n in names if n.split(".")[0] in PROVIDER or n.startswith("infra.")], names
    loaded = _loaded_after([n for n in names if n.startswith("amlops.")])
    assert not {m: f for m, f in loaded.items() if f}, loaded
