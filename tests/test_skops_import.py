"""amlops.skopsimport: skops.io imported after the other libraries, with numpy's and scipy's modules moved first,
names the same trusted types as skops.io imported the plain way, and leaves every module in place."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, sys
if sys.argv[1] == "reordered":
    import email.mime.text, pyarrow.csv, rich.console, typer, yaml  # loaded before numpy, as in the CLI
    sys.modules["amlops_blocked_import"] = None  # an import blocker stays one
    before = dict(sys.modules)
    from amlops.skopsimport import import_skops
    import_skops()
    order = list(sys.modules)
    moved_intact = all(sys.modules.get(k, "gone") is v for k, v in before.items())
    first_other = min(order.index(n) for n in ("email.mime.text", "pyarrow.csv", "rich.console", "typer", "yaml"))
    last_numpy_scipy = max(i for i, n in enumerate(order) if n.partition(".")[0] in ("numpy", "scipy") and n in before)
    facts = {"intact": moved_intact, "numpy_scipy_first": last_numpy_scipy < first_other,
             "blocker": "amlops_blocked_import" in sys.modules and sys.modules["amlops_blocked_import"] is None}
else:
    import skops.io
    facts = {}
import skops.io._trusted_types as t
names = {k: v for k, v in vars(t).items() if k.isupper() and isinstance(v, list) and all(isinstance(x, str) for x in v)}
print(json.dumps({"names": names, "facts": facts}))
"""


def _probe(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def probes() -> tuple[dict, dict]:
    return _probe("plain"), _probe("reordered")


def test_reordered_import_names_the_same_trusted_types(probes):
    plain, reordered = probes
    assert plain["names"]["SCIPY_UFUNC_TYPE_NAMES"], "skops named no scipy ufunc: the probe reads the wrong lists"
    assert reordered["names"] == plain["names"]


def test_reordering_keeps_every_module_and_lists_numpy_and_scipy_first(probes):
    facts = probes[1]["facts"]
    assert facts == {"intact": True, "numpy_scipy_first": True, "blocker": True}


def test_import_skops_returns_the_loaded_module_when_there_is_one():
    import skops.io

    from amlops.skopsimport import import_skops

    order = list(sys.modules)
    assert import_skops() is skops.io
    assert list(sys.modules) == order, "a second call reordered sys.modules"
