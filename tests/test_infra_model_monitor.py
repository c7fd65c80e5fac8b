"""The declared data collector and monitor schedule equal the REST bodies azure-ai-ml's own entities build,
in the recorded plan of every stack that declares them."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.ai.ml import Input
from azure.ai.ml.constants import MonitorDatasetContext
from azure.ai.ml.entities import (
    AlertNotification, CategoricalDriftMetrics, DataCollector, DataDriftMetricThreshold, DataDriftSignal, DataQualityMetricsCategorical,
    DataQualityMetricsNumerical, DataQualityMetricThreshold, DataQualitySignal, DeploymentCollection, MonitorDefinition, MonitoringTarget,
    MonitorSchedule, NumericalDriftMetrics, PredictionDriftMetricThreshold, PredictionDriftSignal, ProductionData, RecurrencePattern,
    RecurrenceTrigger, ReferenceData, ServerlessSparkCompute,
)

from amlops.plan import run_plan
from infra.errors import InvalidArgs
from tree_support import copy_tree
from infra.model_monitor import ModelMonitorArgs, collected_asset, data_collector_body, monitor_definition, trigger_body
from infra.config.model_monitor import DataCollectorConfig, ModelMonitorConfig

FEATURES = ["income", "credit_cards", "age"]
MONITOR = ModelMonitorConfig.model_validate({
    "trainingData": "loans-training:3", "targetColumn": "approved_loan", "features": FEATURES,
    "dataDrift": {"numerical": {"metric": "jensen_shannon_distance", "threshold": 0.2}, "categorical": {"metric": "pearsons_chi_squared_test", "threshold": 0.01}},
    "predictionDrift": {"categorical": {"metric": "jensen_shannon_distance", "threshold": 0.2}},
    "dataQuality": {"numerical": {"nullValueRate": 0.0, "outOfBoundsRate": 0.05}, "categorical": {"nullValueRate": 0.0, "outOfBoundsRate": 0.05}},
    "schedule": {"frequency": "day", "interval": 1, "hours": 3, "minutes": 15},
})


def test_data_collector_equals_azure_ai_mls(recwarn):
    c = DataCollectorConfig.model_validate({"samplingRate": 0.5, "rollingRate": "Hour"})
    entity = DataCollector(collections={n: DeploymentCollection(enabled="true") for n in c.collections}, sampling_rate=0.5, rolling_rate="Hour")
    assert data_collector_body(c) == entity._to_rest_object().as_dict()


ROOT = Path(__file__).resolve().parent.parent


def as_2025_12_01(body):
    """azure-ai-ml's MonitorSchedule wire body (api-version 2023-06-01-preview) at the version azure-native's Schedule
    sends (2025-12-01): the four keys azure-ai-ml 1.35 overrides on its own 2025-12-01 models, renamed back
    (entities/_monitoring: input_data.py `Trailing`; signals.py `mode`, `modelType`; definition.py `alertNotificationSetting`)."""
    if isinstance(body, list):
        return [as_2025_12_01(v) for v in body]
    if not isinstance(body, dict):
        return body
    out = {k: as_2025_12_01(v) for k, v in body.items() if k not in ("mode", "modelType", "alertNotificationSetting")}
    if out.get("inputDataType") == "Trailing":
        out["inputDataType"] = "Rolling"
    if body.get("mode") == "Enabled":
        out["notificationTypes"] = ["AmlNotification"]
    if "alertNotificationSetting" in body:
        out["alertNotificationSettings"] = {"emailNotificationSettings": {"emails": body["alertNotificationSetting"]["emailNotificationSetting"]["emails"]}}
    return out


def unknown_keys(model, where: str = "") -> list[str]:
    """Keys of a deserialized azure-ai-ml 2025-12-01 REST model (arm_ml_service) that its class does not define."""
    from azure.ai.ml._restclient.arm_ml_service._utils.model_base import Model

    if isinstance(model, dict) and not isinstance(model, Model):
        return [k for key, v in model.items() for k in unknown_keys(v, f"{where}.{key}")]
    if isinstance(model, list):
        return [k for i, v in enumerate(model) for k in unknown_keys(v, f"{where}[{i}]")]
    if not isinstance(model, Model):
        return []
    fields = {f._rest_name: name for name, f in type(model)._attr_to_rest_field.items()}
    found = [f"{where}.{k}" for k in model if k not in fields]
    return found + [k for rest, name in fields.items() if rest in model for k in unknown_keys(getattr(model, name), f"{where}.{rest}")]


def azure_ai_ml_schedule(endpoint: str, deployment: str, email: str, training: str = "loans-training:3", features: list[str] | None = FEATURES):
    """MONITOR's signals and thresholds as azure-ai-ml's MonitorSchedule (with the given training data and features)."""
    def production(collection, context):
        return ProductionData(input_data=Input(type="uri_folder", path=collected_asset(endpoint, deployment, collection)), data_context=context)

    reference = ReferenceData(input_data=Input(type="mltable", path=f"azureml:{training}"), data_context=MonitorDatasetContext.TRAINING, data_column_names={"target_column": "approved_loan"})
    signals = {
        "data_drift": DataDriftSignal(
            production_data=production("model_inputs", MonitorDatasetContext.MODEL_INPUTS), reference_data=reference, features=features,
            metric_thresholds=DataDriftMetricThreshold(numerical=NumericalDriftMetrics(jensen_shannon_distance=0.2), categorical=CategoricalDriftMetrics(pearsons_chi_squared_test=0.01)),
            alert_enabled=True,
        ),
        "prediction_drift": PredictionDriftSignal(
            production_data=production("model_outputs", MonitorDatasetContext.MODEL_OUTPUTS), reference_data=reference,
            metric_thresholds=PredictionDriftMetricThreshold(categorical=CategoricalDriftMetrics(jensen_shannon_distance=0.2)), alert_enabled=True,
        ),
        "data_quality": DataQualitySignal(
            production_data=production("model_inputs", MonitorDatasetContext.MODEL_INPUTS), reference_data=reference, features=features,
            metric_thresholds=DataQualityMetricThreshold(
                numerical=DataQualityMetricsNumerical(null_value_rate=0.0, out_of_bounds_rate=0.05),
                categorical=DataQualityMetricsCategorical(null_value_rate=0.0, out_of_bounds_rate=0.05),
            ),
            alert_enabled=True,
        ),
    }
    return MonitorSchedule(
        name="loans-monitor",
        trigger=RecurrenceTrigger(frequency="day", interval=1, schedule=RecurrencePattern(hours=3, minutes=15)),
        create_monitor=MonitorDefinition(
            compute=ServerlessSparkCompute(instance_type="standard_e4s_v3", runtime_version="3.4"),
            monitoring_target=MonitoringTarget(ml_task="classification", endpoint_deployment_id=f"azureml:{endpoint}:{deployment}"),
            monitoring_signals=signals,
            alert_notification=AlertNotification(emails=[email]),
        ),
    )


def test_monitor_schedule_equals_azure_ai_mls():
    from azure.ai.ml._restclient.arm_ml_service.models import CreateMonitorAction

    rest = azure_ai_ml_schedule("loans-ep", "blue", "ops@example.com")._to_rest_object().as_dict()["properties"]
    action = {"actionType": "CreateMonitor", "monitorDefinition": monitor_definition(MONITOR, "loans-ep", "blue", ["ops@example.com"])}
    assert action == as_2025_12_01(rest["action"])
    assert rest["trigger"] == trigger_body(MONITOR)
    # every key is one the 2025-12-01 API defines, and the discriminators pick the documented classes
    typed = CreateMonitorAction(action)
    assert unknown_keys(typed) == []
    assert {n: type(s.production_data).__name__ for n, s in typed.monitor_definition.signals.items()} == dict.fromkeys(action["monitorDefinition"]["signals"], "RollingInputData")


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict]:
    tree = copy_tree(ROOT, tmp_path_factory.mktemp("tree"))
    env = {"AMLOPS_STATE_DIR": str(tmp_path_factory.mktemp("state")), "MLFLOW_TRACKING_URI": ""}
    return {stack: run_plan(stack, tree, env=env) for stack in ("dev", "staging", "prod")}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_plan_data_collector_and_monitor_schedule_are_what_azure_ai_ml_sends(plans, stack):
    from amlops.stackfile import load_stack

    plan, cfg = plans[stack], load_stack(stack)
    monitor, online = cfg.model.monitor, cfg.online
    blue = next(r for r in plan["resources"] if r["name"] == "online-blue")
    props, collector = blue["inputs"]["properties"], online.deployments["blue"].data_collector
    entity = DataCollector(collections={n: DeploymentCollection(enabled="true") for n in collector.collections},
                           sampling_rate=collector.sampling_rate, rolling_rate=collector.rolling_rate)
    assert props["dataCollector"] == entity._to_rest_object().as_dict(), blue["urn"]
    assert props["environmentVariables"]["AMLOPS_TARGET_COLUMN"] == monitor.target_column == "approved_loan", blue["urn"]
    [schedule] = [r for r in plan["resources"] if r["name"] == "monitor-schedule"]
    endpoint = blue["inputs"]["endpointName"]
    assert schedule["inputs"]["name"] == f"{online.endpoint_name}-monitor"
    # the stacks declare MONITOR's signals and thresholds over every feature, with their own training data version
    assert monitor.model_copy(update={"training_data": MONITOR.training_data, "features": MONITOR.features}) == MONITOR
    expected = azure_ai_ml_schedule(endpoint, "blue", cfg.monitoring.action_group_email, monitor.training_data, None)._to_rest_object().as_dict()["properties"]
    recorded = schedule["inputs"]["properties"]
    assert recorded["action"] == as_2025_12_01(expected["action"]), schedule["urn"]
    assert recorded["trigger"] == expected["trigger"], schedule["urn"]
    assert blue["urn"] in schedule["dependencies"], schedule["dependencies"]  # the collector registers the production data assets


def test_monitor_refuses_a_signal_over_data_the_deployment_does_not_collect():
    args = ModelMonitorArgs(MONITOR, "loans-monitor", "loans-ep", "blue", ["ops@example.com"], "rg", "ws", collections=("model_inputs",))
    with pytest.raises(InvalidArgs, match="model_outputs"):
        args.validate()
