"""Pause Python's cyclic garbage collector while a process imports what it needs, then freeze what it imported.

Importing pandas, scikit-learn, skops and pyarrow allocates hundreds of thousands of objects that live as
long as the process. The collector runs every few hundred allocations and its oldest generation walks
all of them, so a noticeable share of import time goes to collections that find next to nothing
(benchmarks/batch prints how much). Paused, nothing is collected until `resume()`, which first moves
every object alive into the permanent generation (`gc.freeze()`): later collections, and those of
workers forked afterwards, never walk them again, and forked workers do not copy their pages by
touching them.

`pause()` and `resume()` are separate calls because the pause spans code in different places (the CLI
command that imports the runner, the runner that imports its workers' modules); `resume()` is safe to
call more than once, and does nothing unless `pause()` turned the collector off.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Stop cyclic collections until `resume()` (nothing to do when the collector is already off)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Freeze every object alive and restart the collector, if `pause()` stopped it."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
