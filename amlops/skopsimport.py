"""Import skops.io with numpy's and scipy's modules first in `sys.modules`, which makes its import cheaper.

Importing skops.io names every type it trusts by default (skops/io/_trusted_types.py), among them
scipy.special's ufuncs. Those have no `__module__`, so skops looks for each one in every loaded
module, in `sys.modules` order, until it finds it (skops.io._utils.whichmodule, like pickle's). In a
process that loaded other libraries first (the CLI's, pyarrow, pandas), every lookup walks past all
of them. Moving numpy's and scipy's modules ahead of the others makes each lookup stop early. The
modules themselves are not touched, only the order in which they are listed, and the names skops
computes are the same (tests/test_skops_import.py compares them). benchmarks/batch measures the
time saved.

`sys.modules` is reordered by taking each other module out and putting it back at once. Call
this while no other thread is importing: the parent of the batch workers before it forks them,
or gunicorn's master before it starts any thread.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

FIRST = ("numpy", "scipy")
"""The packages whose modules skops' lookups end in, moved ahead of every other module."""


def import_skops() -> ModuleType:
    """skops.io, imported (once) with FIRST's modules listed first."""
    loaded = sys.modules.get("skops.io")
    if loaded is not None:
        return loaded
    importlib.import_module("numpy")
    importlib.import_module("scipy.special")
    _list_first(FIRST)
    return importlib.import_module("skops.io")


def _list_first(packages: tuple[str, ...]) -> None:
    """Move every module not of `packages` to the end of `sys.modules`, keeping each group's order."""
    gone = object()
    for name in [n for n in sys.modules if n.partition(".")[0] not in packages]:
        module = sys.modules.pop(name, gone)
        if module is not gone:
            sys.modules[name] = module  # type: ignore[assignment]
