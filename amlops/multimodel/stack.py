"""The two-model stack: a stack file in the single-model form rewritten by `amlops config migrate`
(the loans model keeps its names) plus the diabetes regressor with its own online and batch endpoint."""

from __future__ import annotations

import shutil
from pathlib import Path

from amlops.multimodel.diabetes import ID_COLUMN, NAME, TARGET
from amlops.stackedit import StackEditor
from amlops.stackmigrate import migrate

DIABETES_ENTRY = {
    "name": NAME,
    "version": 1,
    "online": {
        "endpointName": "diabetes-dev-online",
        "authMode": "key",
        "deployments": {
            "blue": {
                "instanceType": "Standard_DS1_v2", "instanceCount": 1, "workerCount": 1,
                "dataCollector": {"collections": ["model_inputs", "model_outputs"], "samplingRate": 1.0, "rollingRate": "Hour"},
            },
        },
        "traffic": {"blue": 100},
    },
    "monitor": {
        "trainingData": "diabetes-training:1",
        "targetColumn": TARGET,
        "task": "regression",
        "dataDrift": {"numerical": {"metric": "jensen_shannon_distance", "threshold": 0.2}},
        # Compared with the training labels, Ridge's predictions are narrower (held-out R² ≈ 0.45): at rest the
        # normalized Wasserstein distance is ≈ 0.4, so 0.5 alerts on a move of the predictions, not on that gap.
        "predictionDrift": {"numerical": {"metric": "normalized_wasserstein_distance", "threshold": 0.5}},
        # Azure's Collector logs pandas' to_json (10 decimals): a scaled value at the edge of the training range can
        # be logged just outside it, and s4's edge values are frequent (≈ 5% of requests at rest), so 0.08, not 0.05.
        "dataQuality": {"numerical": {"nullValueRate": 0.0, "outOfBoundsRate": 0.08}},
        "schedule": {"frequency": "day", "interval": 1, "hours": 3, "minutes": 30},
    },
    "batch": {
        "endpointName": "diabetes-dev-batch",
        "deploymentName": "diabetes-batch",
        "mode": "tabular",
        "miniBatchSize": 1,
        "maxConcurrencyPerInstance": 1,
        "outputAction": "append_row",
        "outputFileName": "predictions.csv",
        "idColumns": [ID_COLUMN],
        "output": {"datastore": "workspaceblobstore", "path": "inferences/diabetes/{date}/"},
    },
}
"""amlops:models.diabetes: the regressor's endpoints (the cheapest online SKU; its own batch id column) and its monitor
(blue's collected inputs and predictions against its training rows, amlops.multimodel.diabetes.TRAINING_CSV)."""


def write_two_model_stack(single: Path, dest: Path, version: int = 1) -> Path:
    """`single` (a stack file in the single-model form) copied to `dest`, migrated (key `loans`), plus the
    diabetes model pinned at `version`; validated and written."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(single, dest)
    migrate(dest, "loans")
    editor = StackEditor(dest)
    editor.set("models", "diabetes", value={**DIABETES_ENTRY, "version": version})
    editor.save()
    return dest
