"""The two-model stack: a stack file in the single-model form rewritten by `amlops config migrate`
(the loans model keeps its names) plus the diabetes regressor with its own online and batch endpoint."""

from __future__ import annotations

import shutil
from pathlib import Path

from amlops.multimodel.diabetes import ID_COLUMN, NAME
from amlops.stackedit import StackEditor
from amlops.stackmigrate import migrate

DIABETES_ENTRY = {
    "name": NAME,
    "version": 1,
    "online": {
        "endpointName": "diabetes-dev-online",
        "authMode": "key",
        "deployments": {"blue": {"instanceType": "Standard_DS1_v2", "instanceCount": 1, "workerCount": 1}},
        "traffic": {"blue": 100},
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
"""amlops:models.diabetes: the regressor's endpoints (the cheapest online SKU; its own batch id column)."""


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
