"""Azure ML batch entry script (files): one output file per input file, written by the script itself.

Runs unchanged in an Azure ML batch model deployment and under `amlops batch run --mode files`.
Azure calls run() with a list of file paths; the script writes `<stem>-<hash>.csv` (id columns
or the whole row, then `prediction`, with a header) into the job's output folder, which
Azure names in AZUREML_BI_OUTPUT_PATH, and returns the paths it scored: one element per
file, so a file it cannot score (or read) counts as failed, alone ("Customize outputs in batch
deployments", https://learn.microsoft.com/azure/machine-learning/how-to-deploy-model-custom-output;
declared with output_action summary_only; items counted as in
https://learn.microsoft.com/azure/machine-learning/how-to-batch-scoring-script#the-run-method).
`<hash>` is 8 hex digits of the input's full path: mini-batches run on several nodes with no
coordination, so two inputs with one stem in different folders must not pick the same name,
a retried mini-batch must rewrite its own file, and no output may take the name of the summary
file Azure itself writes into this folder (output_file_name, predictions.csv by default).
Imports only its runtime dependencies.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path

from model_loader import LoadedModel, load_model, program_argument
from tables import InputFileError, csv_bytes, score, unreadable

OUTPUT_PATH_ENV = "AZUREML_BI_OUTPUT_PATH"
"""Set by Azure to the batch job's output folder (see the page above)."""
OUTPUT_ARGUMENT = "--output_folder"
"""What a scheduled parallel step passes instead (`--output_folder ${{outputs.score}}`, infra/schedule.py):
a parallel job's summary_only output is the folder its script writes to."""

logger = logging.getLogger(__name__)
model: LoadedModel | None = None
output_path: Path | None = None


def init() -> None:
    """Azure calls this once per worker process: load the model and find the job's output folder."""
    global model, output_path
    model = load_model()
    folder = program_argument(OUTPUT_ARGUMENT) or os.environ.get(OUTPUT_PATH_ENV)
    if not folder:
        raise RuntimeError(
            f"{OUTPUT_PATH_ENV} is not set and no {OUTPUT_ARGUMENT} argument was given; Azure sets the first to the "
            "batch job's output folder, a scheduled parallel step passes the second"
        )
    output_path = Path(folder)
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    logger.info("loaded %s; writing to %s", model.path, output_path)


def output_name(path: str) -> str:
    """`<stem>-<8 hex digits of the full path>.csv`: one name per input, never another input's, never Azure's summary file."""
    return f"{Path(path).stem}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}.csv"


def run(mini_batch: list[str]) -> list[str]:
    """Azure calls this per mini-batch of file paths: writes each file's predictions, returns the paths it scored."""
    if model is None or output_path is None:
        raise RuntimeError("run() called before init(): the model is not loaded")
    done = []
    for path in mini_batch:
        target = output_path / output_name(path)
        try:
            data = csv_bytes(score(model, path), header=True)
        except InputFileError as exc:
            logger.error("%s", exc)
            continue
        except OSError as exc:
            logger.error("%s", unreadable(path, exc))
            continue
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        partial.write_bytes(data)
        os.replace(partial, target)  # a retried mini-batch rewrites the same file whole
        done.append(path)
    return done
