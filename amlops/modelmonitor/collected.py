"""Where the data collector's records live and how to read them back.

Azure: by default under the workspace's blob datastore at
`azureml://datastores/workspaceblobstore/paths/modelDataCollector`, then
`{endpoint_name}/{deployment_name}/{collection_name}/{yyyy}/{MM}/{dd}/{HH}/{instance_id}.jsonl`,
one JSON object per line: `data` holds the logged DataFrame as records, beside `specversion`, `id`,
`source`, `type` (`azureml.inference.<collection>`), `datacontenttype`, `time`, `correlationid`,
`xrequestid`, `modelversion`, `collectdatatype`, `agent` and `contentrange`
(https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data#store-collected-data-in-blob-storage).
The time folders follow the rolling rate: Hour gives `/yyyy/MM/dd/HH/`, Day `/yyyy/MM/dd/` (the REST API's
DataCollector.rollingRate, https://learn.microsoft.com/javascript/api/@azure/arm-machinelearning/datacollector);
Minute, Month and Year add or drop a level the same way.

Locally the same layout sits under the state folder's datastores (`.amlops/datastores/<datastore>/<path>`,
as batch output does).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from amlops.errors import DataError
from amlops.paths import state_dir

DATASTORE = "workspaceblobstore"
BASE_PATH = "modelDataCollector"
ROLLING_FORMATS = {"Year": "%Y", "Month": "%Y/%m", "Day": "%Y/%m/%d", "Hour": "%Y/%m/%d/%H", "Minute": "%Y/%m/%d/%H/%M"}


def root() -> Path:
    """The local copy of `azureml://datastores/workspaceblobstore/paths/modelDataCollector`."""
    return state_dir() / "datastores" / DATASTORE / BASE_PATH


def collection_dir(endpoint: str, deployment: str, collection: str) -> Path:
    return root() / endpoint / deployment / collection


def rolled(when: datetime, rolling_rate: str) -> str:
    """The time folders of a record logged at `when` (UTC)."""
    return when.astimezone(timezone.utc).strftime(ROLLING_FORMATS[rolling_rate])


def records(endpoint: str, deployment: str, collection: str, since: datetime | None = None, until: datetime | None = None) -> Iterator[dict]:
    """Every collected record of one collection (oldest folder first), optionally only those logged at or after `since`
    and before `until`."""
    folder = collection_dir(endpoint, deployment, collection)
    for path in sorted(folder.rglob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    logged = datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
                except (ValueError, KeyError, TypeError, AttributeError):
                    raise DataError(f"{path}: line {number}: not a data collector record (JSON with a `time`)") from None
                if (since is None or logged >= since) and (until is None or logged < until):
                    yield record


def frame(endpoint: str, deployment: str, collection: str, since: datetime | None = None, until: datetime | None = None):
    """The rows of every record's `data` as one DataFrame (with `correlationid` per row, as Azure's preprocessor adds)."""
    import pandas as pd

    rows: list[dict] = []
    for record in records(endpoint, deployment, collection, since, until):
        data = record.get("data")
        if not isinstance(data, list):
            continue
        rows.extend({**row, "correlationid": record.get("correlationid")} for row in data if isinstance(row, dict))
    return pd.DataFrame(rows)
