"""Azure ML batch entry script (tabular): every row's prediction, returned to Azure's append_row output.

Runs unchanged in an Azure ML batch model deployment and under `amlops batch run`.
Azure calls run() with a list of file paths (CSV or Parquet part files of one table,
`amlops batch split` writes them) and counts one item per file
(https://learn.microsoft.com/azure/machine-learning/how-to-batch-scoring-script).
run() returns one element per file that succeeded: that file's rows as CSV lines (id
columns or the whole row, then `prediction`), which append_row writes as they are,
one element after another, to the deployment's output file. A file it cannot score
is left out, so Azure counts exactly that file as failed (errorThreshold): "each returned
output element indicates one successful run of an input element in the input mini_batch"
(the page above, "The run method"), and an exception would fail every file of the mini-batch
and retry them all. So a file that cannot be read (a permission error, a file gone) fails
alone and is not retried. A file with a header but no rows succeeded with nothing to score:
an empty element would be a blank line ("append all outputs separated by line", output_action
append_row, https://learn.microsoft.com/python/api/azureml-pipeline-steps/azureml.pipeline.steps.parallelrunconfig),
so its element is carried by another file's rows, cut into one more element at a record
boundary: the same bytes, one more succeeded item. Only a mini-batch with fewer rows than
files cannot count all its header-only files; those are left out (failed), never a blank line.
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
    """Azure calls this once per worker process: load the model (AZUREML_MODEL_DIR, or --model_folder when scheduled; skops, reviewed types)."""
    global model
    model = load_model()
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    logger.info("loaded %s reading %s", model.path, ", ".join(f.name for f in model.features))


def run(mini_batch: list[str]) -> list[str]:
    """Azure calls this per mini-batch of file paths: returns one element per file that succeeded, its rows as CSV text.

    The elements are strings of CSV lines without a header: append_row writes each one followed by a
    line break, so the output file holds one CSV record per input row. A header-only file succeeded
    with no rows; its element is carried by one of the other files' rows (see `elements`).
    """
    if model is None:
        raise RuntimeError("run() called before init(): the model is not loaded")
    scored, empty = [], []
    for path in mini_batch:
        try:
            rows = score(model, path)
        except InputFileError as exc:
            logger.error("%s", exc)
            continue
        except OSError as exc:
            logger.error("%s", unreadable(path, exc))
            continue
        (scored if rows.num_rows else empty).append((path, rows))
    out = elements([rows for _, rows in scored], len(empty))
    for path, _ in empty[: len(out) - len(scored)]:
        logger.info("%s: holds a header but no rows: nothing to score; counted as succeeded", path)
    for path, _ in empty[len(out) - len(scored):]:
        logger.error("%s: holds a header but no rows, and its mini-batch has fewer rows than files: left out (Azure "
                     "counts it failed), since append_row would write a blank line for an empty element; a larger "
                     "miniBatchSize, or leaving header-only files out of the input, avoids it", path)
    return out


def elements(tables: list, extra: int) -> list[str]:
    """The tables' rows as CSV text in `len(tables) + extra` elements when there are rows enough, else one per row.

    Azure counts one succeeded item per returned element and append_row writes each element
    followed by a line break, so cutting a file's rows into more elements at record boundaries
    writes the same bytes and counts `extra` more files (the header-only ones) as succeeded.
    Records are cut off the end of the largest tables, keeping the order of the rows."""
    spare = [t.num_rows - 1 for t in tables]
    cuts = [0] * len(tables)
    for i in sorted(range(len(tables)), key=lambda i: -spare[i]):
        cuts[i] = min(spare[i], extra - sum(cuts))
    out = []
    for table, cut in zip(tables, cuts):
        kept = table.num_rows - cut
        out.append(_text(table.slice(0, kept)))
        out.extend(_text(table.slice(kept + i, 1)) for i in range(cut))
    return out


def _text(table) -> str:
    return csv_bytes(table, header=False).decode().removesuffix("\n")
