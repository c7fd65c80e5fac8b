"""`amlops monitor run`: the stack's declared monitor over the data its local endpoint collected.

Production data = the deployment's collected `model_inputs` / `model_outputs` (amlops.modelmonitor.collected);
reference data = the training data of the model version the deployment serves: the dataset its
registration recorded (tags `dataset_path`, `dataset_digest`; in Azure the monitor's trainingData asset).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from amlops.errors import DataError, UsageError
from amlops.modelmonitor import collected
from amlops.modelmonitor.metrics import HIGHER_IS_BETTER
from amlops.modelmonitor.signals import Result, compute
from infra.config.model_monitor import ModelMonitorConfig


@dataclass(frozen=True)
class Verdict:
    """A monitor run's results and where its plot went."""

    results: list[Result]
    production_rows: int
    reference_rows: int
    reference: Path
    plot: Path | None
    where: str = ""
    """What was monitored: `<endpoint>/<deployment> (<model>:<version>)`."""

    @property
    def breaches(self) -> list[Result]:
        return [r for r in self.results if r.breach]

    def describe(self) -> str:
        return (f"monitor {self.where}: {self.production_rows} collected rows against {self.reference_rows} training rows "
                f"({self.reference}), {len(self.results)} metrics, {len(self.breaches)} breached")

    def table(self) -> str:
        """The results, one line per (signal, feature, metric), in plain aligned columns (whole names, never cut)."""
        head = ("signal", "feature", "kind", "metric", "value", "threshold", "breach")
        rows = [head] + [
            (r.signal, r.feature, r.kind, r.metric, f"{r.value:.4f}", f"{r.threshold:g}", "BREACH" if r.breach else "ok") for r in self.results
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        right = {4, 5}
        return "\n".join(
            "  ".join(cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows
        )

    def breach_summary(self) -> str:
        """The breached features, each with its metrics: `income (data_drift jensen_shannon_distance 0.41 > 0.2, …)`."""
        features: dict[str, list[str]] = {}
        for r in self.breaches:
            sign = "<" if r.metric in HIGHER_IS_BETTER else ">"
            features.setdefault(r.feature, []).append(f"{r.signal} {r.metric} {r.value:.4g} {sign} {r.threshold:g}")
        return "; ".join(f"{f} ({', '.join(m)})" for f, m in features.items())


_AGE = re.compile(r"^(\d+)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """`--since`: an ISO 8601 time (UTC unless it names a zone) or an age (`30m`, `6h`, `2d`) before now."""
    if text is None:
        return None
    age = _AGE.match(text.strip())
    if age:
        return (now or datetime.now(timezone.utc)) - timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--since must be an ISO 8601 time (2026-01-31T08:00) or an age (30m, 6h, 2d), got {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


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


def run(monitor: ModelMonitorConfig, endpoint: str, deployment: str, reference_path: Path, *, since: datetime | None = None,
        until: datetime | None = None, plot_dir: Path | None = None, plot_name: str | None = None) -> Verdict:
    """Compute every declared signal over the data collected in [since, until); raise UsageError when there is none."""
    import pandas as pd

    inputs = collected.frame(endpoint, deployment, "model_inputs", since, until)
    outputs = collected.frame(endpoint, deployment, "model_outputs", since, until)
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

        plot = distributions(results, reference, inputs, outputs, monitor.target_column, plot_dir / (plot_name or f"monitor-{endpoint}-{deployment}.png"))
    return Verdict(results, max(len(inputs), len(outputs)), len(reference), reference_path, plot, f"{endpoint}/{deployment}")


def run_stack(cfg, stack: str, endpoint: str | None = None, *, since: datetime | None = None, until: datetime | None = None,
              plot_dir: Path | None = None, plot_name: str | None = None, registry=None) -> Verdict:
    """`amlops monitor run`: the chosen model's monitor over its monitored deployment's collected data, against the
    training data the served version's registration recorded (its lineage)."""
    from dataclasses import replace

    from amlops.paths import state_dir
    from amlops.registry import Registry
    from infra.config import EndpointChoiceError

    try:
        key, model = cfg.select(endpoint)
    except EndpointChoiceError as exc:
        raise UsageError(str(exc)) from None
    where = f"amlops:models.{key}" if not cfg.single_form else "amlops"
    if model.monitor is None:
        raise UsageError(f"model {key!r} declares no monitor ({where}.monitor); see README \"Model monitoring\"")
    if model.online is None:
        raise UsageError(f"model {key!r} declares no online endpoint ({where}.online): nothing collects its data")
    deployment = model.monitored_deployment()
    version = model.deployment_model_version(deployment)
    ref = f"{model.name}:{version}"
    registered = (registry or Registry(cfg.registry.tracking_uri)).get(model.name, version)
    reference = training_data(registered.tags, ref)
    folder = plot_dir or state_dir() / "monitor" / stack
    verdict = run(model.monitor, model.online.endpoint_name, deployment, reference, since=since, until=until, plot_dir=folder, plot_name=plot_name)
    return replace(verdict, where=f"{model.online.endpoint_name}/{deployment} ({ref})")
