"""Azure ML batch entry script (files): one output file per input file, written by the script itself.

Runs unchanged in an Azure ML batch model deployment and under `amlops batch run --mode files`.
Azure calls run() with a list of file paths; the script writes `<stem>.csv` (input names must
differ by stem; id columns
or the whole row, then `prediction`, with a header) into the job's output folder, which
Azure names in AZUREML_BI_OUTPUT_PATH, and returns the paths it scored: one element per
file, so a file it cannot score counts as failed ("Customize outputs in batch deployments",
https://learn.microsoft.com/azure/machine-learning/how-to-deploy-model-custom-output;
declared with output_action summary_only). Imports only its runtime dependencies.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from model_loader import LoadedModel, load_model
from tables import InputFileError, csv_bytes, score

OUTPUT_PATH_ENV = "AZUREML_BI_OUTPUT_PATH"
"""Set by Azure to the batch job's output folder (see the page above)."""

logger = logging.getLogger(__name__)
model: LoadedModel | None = None
output_path: Path | None = None


def init() -> None:
    """Azure calls this once per worker process: load the model and find the job's output folder."""
    global model, output_path
    model = load_model()
    folder = os.environ.get(OUTPUT_PATH_ENV)
    if not folder:
        raise RuntimeError(f"{OUTPUT_PATH_ENV} is not set; Azure sets it to the batch job's output folder")
    output_path = Path(folder)
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    logger.info("loaded %s; writing to %s", model.path, output_path)


def run(mini_batch: list[str]) -> list[str]:
    """Azure calls this per mini-batch of file paths: writes each file's predictions, returns the paths it scored."""
    if model is None or output_path is None:
        raise RuntimeError("run() called before init(): the model is not loaded")
    done = []
    for path in mini_batch:
        target = output_path / f"{Path(path).stem}.csv"
        try:
            data = csv_bytes(score(model, path), header=True)
        except InputFileError as exc:
            logger.error("%s", exc)
            continue
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        partial.write_bytes(data)
        os.replace(partial, target)  # a retried mini-batch rewrites the same file whole
        done.append(path)
    return done
