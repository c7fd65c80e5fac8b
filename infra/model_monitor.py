"""Model monitoring in Azure: the online deployment's data collector and the model's monitor schedule.

- `data_collector_body`: the deployment's `dataCollector` (collections enabled, sampling rate, rolling rate):
  what Azure reads to start the collector for score.py's `model_inputs` / `model_outputs` collectors
  (https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data).
- `ModelMonitor`: an Azure ML Schedule whose action is CreateMonitor: data drift, prediction drift and data
  quality signals over the deployment's collected data, against the registered model's training data asset,
  with the stack's metrics and thresholds (https://learn.microsoft.com/azure/machine-learning/reference-yaml-monitor,
  https://learn.microsoft.com/azure/machine-learning/how-to-monitor-model-performance). Breaches are mailed to the
  stack's action group e-mail (the monitor's `alertNotificationSettings`: Azure ML monitors notify by e-mail, or
  through Event Grid, not through an action group).

Both bodies are REST-shaped (camelCase) dicts, compared in tests with the bodies azure-ai-ml's own entities build
(DataCollector, MonitorSchedule, DataDriftSignal, PredictionDriftSignal, DataQualitySignal).

The schedule goes out at the API version of azure-native's Schedule (2025-12-01); azure-ai-ml 1.35 sends its
MonitorSchedule at 2023-06-01-preview and overrides four wire keys of its own 2025-12-01 models to do so
(azure/ai/ml/entities/_monitoring: input_data.py `Trailing`, signals.py `mode` and `modelType`, definition.py
`alertNotificationSetting`). The body here is the 2025-12-01 one: `Rolling` production windows, a signal's
`notificationTypes` (AmlNotification = alert by e-mail) in place of `mode`, `alertNotificationSettings`;
tests/test_infra_model_monitor.py derives it from azure-ai-ml's entity body by exactly those four renames and
checks every key against azure-ai-ml's 2025-12-01 REST models (arm_ml_service).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.errors import InvalidArgs
from infra.config.model_monitor import DataCollectorConfig, DriftSignalConfig, ModelMonitorConfig, QualityThresholds

_SCHEDULE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$")
PRODUCTION_WINDOW = ("P1D", "P0D")
"""The production data each run reads: the last day (azure-ai-ml's default trailing window)."""
NOTIFY = ["AmlNotification"]
"""A signal whose breaches alert (2025-12-01's MonitoringNotificationType; none = computed, not alerted)."""


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.capitalize() for p in rest)


def data_collector_body(c: DataCollectorConfig) -> dict[str, Any]:
    """The online deployment's `dataCollector`: each declared collection enabled at the declared sampling rate."""
    return {
        "collections": {name: {"dataCollectionMode": "enabled", "samplingRate": c.sampling_rate} for name in c.collections},
        "rollingRate": c.rolling_rate,
    }


def data_collector_args(c: DataCollectorConfig) -> ml.DataCollectorArgs:
    """data_collector_body as the typed Args the deployment's union-typed properties need."""
    body = data_collector_body(c)
    return ml.DataCollectorArgs(
        collections={n: ml.CollectionArgs(data_collection_mode=v["dataCollectionMode"], sampling_rate=v["samplingRate"]) for n, v in body["collections"].items()},
        rolling_rate=body["rollingRate"],
    )


def collected_asset(endpoint: str, deployment: str, collection: str) -> str:
    """The data asset the collector registers for a collection: `<endpoint>-<deployment>-<collection>`
    (how-to-collect-production-data, "Collect data for MLflow models"), version 1."""
    return f"azureml:{endpoint}-{deployment}-{collection}:1"


def _production(endpoint: str, deployment: str, collection: str) -> dict[str, Any]:
    size, offset = PRODUCTION_WINDOW
    return {
        "dataContext": collection, "jobInputType": "uri_folder", "uri": collected_asset(endpoint, deployment, collection),
        "windowSize": size, "windowOffset": offset, "inputDataType": "Rolling",
    }


def _reference(m: ModelMonitorConfig) -> dict[str, Any]:
    return {
        "dataContext": "training", "columns": {"target_column": m.target_column}, "jobInputType": m.training_data_type,
        "uri": f"azureml:{m.training_data}", "inputDataType": "Fixed",
    }


def _drift_thresholds(s: DriftSignalConfig) -> list[dict[str, Any]]:
    out = []
    for data_type, chosen in (("Numerical", s.numerical), ("Categorical", s.categorical)):
        if chosen is not None:
            out.append({"metric": _camel(chosen.metric), "threshold": {"value": chosen.threshold}, "dataType": data_type})
    return out


def _quality_thresholds(numerical: QualityThresholds | None, categorical: QualityThresholds | None) -> list[dict[str, Any]]:
    out = []
    for data_type, t in (("Numerical", numerical), ("Categorical", categorical)):
        for metric, value in t.items() if t is not None else ():
            out.append({"metric": _camel(metric), "threshold": {"value": value}, "dataType": data_type})
    return out


def _overrides(m: ModelMonitorConfig) -> dict[str, Any]:
    types = {c: "Categorical" for c in m.categorical_features} | {c: "Numerical" for c in m.numerical_features}
    return {"featureDataTypeOverride": types} if types else {}


def monitor_definition(m: ModelMonitorConfig, endpoint: str, deployment: str, emails: list[str]) -> dict[str, Any]:
    """The CreateMonitor action's `monitorDefinition`."""
    signals: dict[str, Any] = {}
    features = {"features": {"features": list(m.features), "filterType": "FeatureSubset"}} if m.features else {}
    mode = lambda enabled: {"notificationTypes": NOTIFY} if enabled else {}  # noqa: E731
    if m.data_drift is not None:
        signals["data_drift"] = {
            "productionData": _production(endpoint, deployment, "model_inputs"), "referenceData": _reference(m), **features,
            "metricThresholds": _drift_thresholds(m.data_drift), **_overrides(m), "signalType": "DataDrift", **mode(m.data_drift.alert_enabled),
        }
    if m.prediction_drift is not None:
        signals["prediction_drift"] = {
            "productionData": _production(endpoint, deployment, "model_outputs"), "referenceData": _reference(m),
            "metricThresholds": _drift_thresholds(m.prediction_drift), "signalType": "PredictionDrift", **mode(m.prediction_drift.alert_enabled),
        }
    if m.data_quality is not None:
        signals["data_quality"] = {
            "productionData": _production(endpoint, deployment, "model_inputs"), "referenceData": _reference(m), **features,
            "metricThresholds": _quality_thresholds(m.data_quality.numerical, m.data_quality.categorical), **_overrides(m),
            "signalType": "DataQuality", **mode(m.data_quality.alert_enabled),
        }
    return {
        "computeConfiguration": {
            "runtimeVersion": m.runtime_version, "instanceType": m.instance_type,
            "computeIdentity": {"computeIdentityType": "AmlToken"}, "computeType": "ServerlessSpark",
        },
        "monitoringTarget": {"taskType": m.task, "deploymentId": f"azureml:{endpoint}:{deployment}"},
        "signals": signals,
        "alertNotificationSettings": {"emailNotificationSettings": {"emails": emails}},
    }


def trigger_body(m: ModelMonitorConfig) -> dict[str, Any]:
    s = m.schedule
    return {
        "frequency": s.frequency, "interval": s.interval, "schedule": {"hours": [s.hours], "minutes": [s.minutes]},
        "timeZone": s.time_zone, "triggerType": "Recurrence",
    }


@dataclass(frozen=True)
class ModelMonitorArgs:
    """What the ModelMonitor component needs."""

    settings: ModelMonitorConfig
    """The stack's monitor: training data asset, target column, signals, thresholds, schedule."""
    schedule_name: str
    """The schedule's name in the workspace (letters, digits, '-', '_'; up to 255)."""
    endpoint_name: pulumi.Input[str]
    """The online endpoint whose deployment collects the production data."""
    deployment_name: str
    """The deployment monitored (its data collector must be on)."""
    emails: list[str]
    """Who is mailed on a breach: the stack's action group e-mail."""
    resource_group_name: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    collections: tuple[str, ...] = ("model_inputs", "model_outputs")
    """The deployment's enabled collections: each signal's production data must be one of them."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """The deployment (its collector registers the production data assets)."""

    def validate(self) -> None:
        if not _SCHEDULE_NAME.match(self.schedule_name):
            raise InvalidArgs("ModelMonitor", "schedule_name", f"must be 1-255 letters, digits, '-' or '_', got {self.schedule_name!r}")
        if not self.emails or any("@" not in e for e in self.emails):
            raise InvalidArgs("ModelMonitor", "emails", f"must list e-mail addresses, got {self.emails!r}")
        missing = sorted(set(self.settings.reads()) - set(self.collections))
        if missing:
            raise InvalidArgs("ModelMonitor", "collections", f"the monitor reads {', '.join(missing)}, which deployment {self.deployment_name!r} does not collect")


class ModelMonitor(pulumi.ComponentResource):
    """Schedule (recurrence) → CreateMonitor over the deployment's collected data."""

    schedule_name: pulumi.Output[str]

    def __init__(self, name: str, args: ModelMonitorArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:model_monitor:ModelMonitor", name, None, opts)
        action = pulumi.Output.from_input(args.endpoint_name).apply(
            lambda ep: {"actionType": "CreateMonitor", "monitorDefinition": monitor_definition(args.settings, ep, args.deployment_name, args.emails)}
        )
        schedule = ml.Schedule(
            f"{name}-schedule",
            name=args.schedule_name,
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            properties=ml.SchedulePropertiesArgs(
                action=action,  # REST-shaped: see monitor_definition (compared with azure-ai-ml's MonitorSchedule)
                trigger=trigger_body(args.settings),
                display_name=args.schedule_name,
                is_enabled=True,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        self.schedule_name = schedule.name
        self.register_outputs({"schedule_name": self.schedule_name})
