"""Shared fixtures: an isolated state folder per test, and one trained model per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from amlops.paths import STATE_ENV

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory) -> Path:
    """An MLflow model folder of the loans model, trained once per test session."""
    from amlops import data as data_mod
    from amlops import training

    folder = tmp_path_factory.mktemp("trained")
    ds = data_mod.write_csv(data_mod.generate_loans(), folder / "loans.csv")
    model, facts = training.train(ds)
    return training.save_model(model, facts, folder / "model")


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    """A fresh state folder (.amlops equivalent) with no MLflow URI from the environment."""
    path = tmp_path / "state"
    monkeypatch.setenv(STATE_ENV, str(path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return path


@pytest.fixture
def stacks_copy(tmp_path) -> Path:
    """A writable copy of stacks/ for tests that break or edit stack files."""
    dest = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", dest)
    return dest
