"""Azure ML batch entry script (tabular): every row's prediction, returned to Azure's append_row output.

Runs unchanged in an Azure ML batch model deployment and under `amlops batch run`.
Azure calls run() with a list of file paths (CSV or Parquet part files of one table,
`amlops batch split` writes them) and counts one item per file
(https://learn.microsoft.com/azure/machine-learning/how-to-batch-scoring-script).
run() returns one element per file it scored: that file's rows as CSV lines (id
columns or the whole row, then `prediction`), which append_row writes as they are,
one element after another, to the deployment's output file. A file it cannot score
is left out, so Azure counts exactly that file as failed (errorThreshold): "each returned
output element indicates one successful run of an input element in the input mini_batch"
(the page above, "The run method"), and an exception would fail every file of the mini-batch
and retry them all. So a file that cannot be read (a permission error, a file gone) fails
alone and is not retried, and a file with a header but no rows is left out too: append_row
would write a blank line for its empty element.
Imports only its runtime dependencies, never this repository.
"""

from __future__ import annotations

import logging
import warnings

from model_loader import LoadedModel, load_model
from tables import InputFileError, csv_bytes, score, unreadable

logger = logging.getLogger(__name__)
model: LoadedModel | None = None


def init() -> None:
    """Azure calls this once per worker process: load the model below AZUREML_MODEL_DIR (skops, reviewed types)."""
    global model
    model = load_model()
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    logger.info("loaded %s reading %s", model.path, ", ".join(f.name for f in model.features))


def run(mini_batch: list[str]) -> list[str]:
    """Azure calls this per mini-batch of file paths: returns, per file scored, its rows as CSV text without a header.

    The elements are multi-line strings: append_row writes each one followed by a line
    break, so the output file holds one CSV line per input row.
    """
    if model is None:
        raise RuntimeError("run() called before init(): the model is not loaded")
    results = []
    for path in mini_batch:
        try:
            rows = score(model, path)
        except InputFileError as exc:
            logger.error("%s", exc)
            continue
        except OSError as exc:
            logger.error("%s", unreadable(path, exc))
            continue
        if not rows.num_rows:
            logger.error("%s: holds a header but no rows: nothing to score (left out: append_row would write a blank "
                         "line for it, so Azure counts the file failed)", path)
            continue
        results.append(csv_bytes(rows, header=False).decode().removesuffix("\n"))
    return results
