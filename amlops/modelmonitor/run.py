"""`amlops monitor run`: the stack's declared monitor over the data its local endpoint collected.

Production data = the deployment's collected `model_inputs` / `model_outputs` (amlops.modelmonitor.collected);
reference data = the training data of the model version the deployment serves: the dataset its
registration recorded (tags `dataset_path`, `dataset_digest`; in Azure the monitor's trainingData asset).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from amlops.errors import DataError, UsageError
from amlops.modelmonitor import collected
from amlops.modelmonitor.signals import Result, compute
from infra.monitor_config import ModelMonitorConfig


@dataclass(frozen=True)
class Verdict:
    """A monitor run's results and where its plot went."""

    results: list[Result]
    production_rows: int
    reference_rows: int
    reference: Path
    plot: Path | None

    @property
    def breaches(self) -> list[Result]:
        return [r for r in self.results if r.breach]


def training_data(tags: dict[str, str], model_ref: str) -> Path:
    """The training dataset a registered version recorded, checked against its recorded digest."""
    from amlops.data import file_digest

    path = tags.get("dataset_path")
    if not path:
        raise UsageError(f"{model_ref} records no training dataset (tag dataset_path); register it with `amlops model register` after `amlops model train`")
    found = Path(path)
    if not found.is_file():
        raise UsageError(f"{model_ref}'s training data {found} is gone; regenerate it (`amlops quickstart` stage data) or re-register the model")
    digest = tags.get("dataset_digest")
    if digest and file_digest(found) != digest:
        raise DataError(f"{found}: not the data {model_ref} was trained on (sha256 differs from its dataset_digest tag {digest[:12]})")
    return found


def run(monitor: ModelMonitorConfig, endpoint: str, deployment: str, reference_path: Path, *, since: datetime | None = None, plot_dir: Path | None = None) -> Verdict:
    """Compute every declared signal; raise UsageError when nothing was collected."""
    import pandas as pd

    inputs = collected.frame(endpoint, deployment, "model_inputs", since)
    outputs = collected.frame(endpoint, deployment, "model_outputs", since)
    if inputs.empty and outputs.empty:
        where = collected.collection_dir(endpoint, deployment, "model_inputs")
        raise UsageError(
            f"no collected data for {endpoint}/{deployment}{' since ' + since.isoformat() if since else ''} under {where}; "
            "serve it with data collection on (online.deployments.<name>.dataCollector) and send requests first"
        )
    reference = pd.read_csv(reference_path)
    results = compute(monitor, reference, inputs, outputs)
    plot = None
    if plot_dir is not None:
        from amlops.modelmonitor.plot import distributions

        plot = distributions(results, reference, inputs, outputs, monitor.target_column, plot_dir / f"monitor-{endpoint}-{deployment}.png")
    return Verdict(results, max(len(inputs), len(outputs)), len(reference), reference_path, plot)
