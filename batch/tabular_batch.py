"""Azure ML batch entry script (tabular): score loan applications, one mini-batch DataFrame at a time.

Runs unchanged in an Azure ML batch deployment and under `amlops batch run`. It imports
only its runtime dependencies (numpy, pandas, scikit-learn, skops), never this repository.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from model_loader import load_model

FEATURES = ("income", "credit_cards", "age")
DTYPES = {"income": "float64", "credit_cards": "int64", "age": "int64"}
"""The features' types in the output; credit_cards and age must be whole numbers."""
PREDICTION = "approved"

logger = logging.getLogger(__name__)
model = None


def init() -> None:
    """Azure calls this once per worker process: load the model from AZUREML_MODEL_DIR.

    skops, not pickle: loading runs no code; any type outside skops' defaults and
    model_loader.TRUSTED_TYPES is refused.
    """
    global model
    model, path = load_model()
    # run() predicts on the feature columns as an array, in FEATURES order: skip the name check's warning
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    logger.info("loaded %s", path)


def _features(mini_batch: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The feature columns (as numbers), the same as a float array, and a mask of the usable rows."""
    missing = [c for c in FEATURES if c not in mini_batch.columns]
    if missing:
        raise ValueError(
            f"mini-batch lacks column(s) {', '.join(missing)}; expected {', '.join(FEATURES)}, "
            f"got {', '.join(map(str, mini_batch.columns))}"
        )
    x = mini_batch[list(FEATURES)]
    if not all(pd.api.types.is_numeric_dtype(t) for t in x.dtypes):  # text in a column: poison rows
        x = x.apply(pd.to_numeric, errors="coerce")
    values = x.to_numpy(dtype="float64")
    finite = np.isfinite(values)
    ok = finite.all(axis=1)
    for i, col in enumerate(FEATURES):
        if DTYPES[col] == "int64" and x[col].dtype.kind == "f":
            ok &= np.mod(values[:, i], 1, where=finite[:, i], out=np.zeros(len(values))) == 0
    return x, values, ok


def run(mini_batch: pd.DataFrame) -> pd.DataFrame:
    """Azure calls this per mini-batch: returns the rows it scored, each with an `approved` column.

    Rows with an empty, non-numeric or non-whole value are left out of the result; Azure
    (and `amlops batch run`) count every row not returned as a failed item.
    """
    if model is None:
        raise RuntimeError("run() called before init(): the model is not loaded")
    x, values, ok = _features(mini_batch)
    if not ok.all():
        bad = list(mini_batch.index[~ok])
        logger.warning("skipping %d row(s) with empty, non-numeric or non-whole features (index %s)", len(bad), bad[:20])
        mini_batch, x, values = mini_batch[ok], x[ok], values[ok]
    retype = {c: x[c].astype(t) for c, t in DTYPES.items() if mini_batch[c].dtype != t}
    return mini_batch.assign(**retype, **{PREDICTION: model.predict(values).astype("int64")})  # type: ignore[union-attr]
