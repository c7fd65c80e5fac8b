"""The batch/ code asset's own modules, imported by path: the row rules the split and the runner share with the entry scripts.

`batch/tables.py` decides which rows the model can score; `amlops batch split` sets the others
aside by that same rule, so a part it writes is never failed by the script in Azure. They are
loaded under private names and `tables`/`model_loader` are left out of sys.modules: a worker
later imports the entry script's own folder's modules under those names.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from types import ModuleType

from amlops.paths import BATCH_DIR

_NAMES = ("model_loader", "tables")


@cache
def _load() -> dict[str, ModuleType]:
    from amlops.skopsimport import import_skops

    import_skops()  # model_loader imports skops.io: first with numpy and scipy listed first (amlops.skopsimport)
    saved = {n: sys.modules.get(n) for n in _NAMES}
    loaded: dict[str, ModuleType] = {}
    try:
        for name in _NAMES:  # model_loader first: tables imports it by that name
            spec = importlib.util.spec_from_file_location(f"amlops_batch_artifact_{name}", BATCH_DIR / f"{name}.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = sys.modules[name] = module  # dataclasses look their module up by name
            spec.loader.exec_module(module)
            loaded[name] = module
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return loaded


def tables() -> ModuleType:
    """batch/tables.py: reading, checking and converting rows as the entry scripts do."""
    return _load()["tables"]


def model_loader() -> ModuleType:
    """batch/model_loader.py: the model folder, its reviewed types and its features."""
    return _load()["model_loader"]


def model_features(model_dir) -> tuple:
    """The columns the model in `model_dir` reads, with their signature types, as the entry scripts load them."""
    loader = model_loader()
    try:
        return loader.load_model(model_dir).features
    except loader.ModelLoadError as exc:
        from amlops.errors import UsageError

        raise UsageError(str(exc)) from None
