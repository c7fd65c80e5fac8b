"""Azure ML batch entry script (files): score whole files of loan applications, one file per item.

Each item is a CSV or Parquet file of loans (columns income, credit_cards, age); its result
is a one-line summary. Runs unchanged in Azure and under `amlops batch run --mode files`,
and imports only its runtime dependencies, never this repository.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from model_loader import load_model

FEATURES = ("income", "credit_cards", "age")
READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet}

logger = logging.getLogger(__name__)
model = None


def init() -> None:
    """Azure calls this once per worker process: load the model from AZUREML_MODEL_DIR (skops, no pickle)."""
    global model
    model, path = load_model()
    logger.info("loaded %s", path)


def summarize(path: str) -> str:
    """Score one file; its summary `APPROVED/ROWS approved`. Raises on an unreadable or unusable file."""
    reader = READERS.get(Path(path).suffix.lower())
    if reader is None:
        raise ValueError(f"{path}: not a CSV or Parquet file")
    frame = reader(path)
    missing = [c for c in FEATURES if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: lacks column(s) {', '.join(missing)}")
    x = frame[list(FEATURES)].apply(pd.to_numeric, errors="raise")
    if x.isna().any().any():
        raise ValueError(f"{path}: empty feature values")
    approved = int(model.predict(x).sum())  # type: ignore[union-attr]
    return f"{approved}/{len(frame)} approved"


def run(mini_batch: list[str]) -> list[list[str]]:
    """Azure calls this per mini-batch of file paths: returns `[path, summary]` per file it scored.

    A file that cannot be read or scored is logged and left out; Azure (and
    `amlops batch run`) count every path not returned as a failed item.
    """
    if model is None:
        raise RuntimeError("run() called before init(): the model is not loaded")
    results = []
    for path in mini_batch:
        try:
            results.append([path, summarize(path)])
        except Exception:
            logger.exception("failed to score %s", path)
    return results
