"""Scoring folders for serve tests: the shipped score.py with init() or run() replaced, so that the
package step (which reads the shipped script's model loading and signature) works as it does for
scoring/, while the server runs the test's own behaviour."""

from __future__ import annotations

import time
from pathlib import Path

from amlops.paths import SCORING_DIR


def scoring_with(folder: Path, overrides: str) -> Path:
    """`folder`/score.py = scoring/score.py followed by `overrides` (later definitions win)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text((SCORING_DIR / "score.py").read_text() + "\n\n# test overrides\n" + overrides)
    return folder


def with_online(cfg, online):
    """The single-model stack `cfg` with its model's online endpoint replaced (StackConfig.online is read-only)."""
    key, model = cfg.only()
    return cfg.model_copy(update={"models": {key: model.model_copy(update={"online": online})}})


def wait_for(predicate, what: str, timeout: float = 60.0, every: float = 0.02):
    """`predicate()`'s first true value, polled every `every` s; an AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout} s: {what}")
        time.sleep(every)
