"""Where things live: the repository root, the artifact folders and the git-ignored state folder."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (amlops is installed editable, so this is the checkout)."""

STACKS_DIR = ROOT / "stacks"
SCORING_DIR = ROOT / "scoring"
BATCH_DIR = ROOT / "batch"
INFRA_DIR = ROOT / "infra"

STATE_ENV = "AMLOPS_STATE_DIR"
"""Overrides the state folder (tests point it at a temporary folder)."""


def state_dir() -> Path:
    """The state folder (default `.amlops/` in the repository), created on first use."""
    path = Path(os.environ.get(STATE_ENV) or ROOT / ".amlops")
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Generated datasets (loans.csv, pending loans) under the state folder."""
    path = state_dir() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path
