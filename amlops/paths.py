"""Where things live: the repository root, the artifact folders and the git-ignored state folder."""

from __future__ import annotations

from pathlib import Path

from infra import model_source

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (amlops is installed editable, so this is the checkout)."""

STACKS_DIR = ROOT / "stacks"
STACKS_ENV = "AMLOPS_STACKS_DIR"
"""Overrides the folder the CLI's local commands read stack files from (tests point it at a copy)."""
SCORING_DIR = ROOT / "scoring"
BATCH_DIR = ROOT / "batch"

STATE_ENV = model_source.STATE_ENV
"""Overrides the state folder (tests point it at a temporary folder)."""


def stacks_dir() -> Path:
    """The folder of the stack files the local commands read: AMLOPS_STACKS_DIR, else stacks/ in the checkout."""
    import os

    return Path(os.environ[STACKS_ENV]) if os.environ.get(STACKS_ENV) else STACKS_DIR


def state_dir() -> Path:
    """The state folder (default `.amlops/` in the repository), created on first use.

    The rule lives in infra/model_source.py, which `pulumi up` uses to find registered models.
    """
    path = model_source.state_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def trained_dir(name: str) -> Path:
    """Where `amlops model train` (and the quickstart) leave the candidate MLflow model folder of `name`."""
    return state_dir() / "trained" / name


def imported_dir(name: str) -> Path:
    """Where `amlops model import` (and the quickstart) leave the converted MLflow model folder of `name`."""
    return state_dir() / "imported" / name


def data_dir() -> Path:
    """Generated datasets (loans.csv, pending loans) under the state folder."""
    path = state_dir() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path
