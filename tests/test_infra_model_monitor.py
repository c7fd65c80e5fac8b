"""The declared data collector and monitor schedule equal the REST bodies azure-ai-ml's own entities build."""

from __future__ import annotations

import pytest
from azure.ai.ml import Input
from azure.ai.ml.constants import MonitorDatasetContext
from azure.ai.ml.entities import (
    AlertNotification, CategoricalDriftMetrics, DataCollector, DataDriftMetricThreshold, DataDriftSignal, DataQualityMetricsCategorical,
    DataQualityMetricsNumerical, DataQualityMetricThreshold, DataQualitySignal, DeploymentCollection, MonitorDefinition, MonitoringTarget,
    MonitorSchedule, NumericalDriftMetrics, PredictionDriftMetricThreshold, PredictionDriftSignal, ProductionData, RecurrencePattern,
    RecurrenceTrigger, ReferenceData, ServerlessSparkCompute,
)

from infra.errors import InvalidArgs
from infra.model_monitor import ModelMonitorArgs, collected_asset, data_collector_body, monitor_definition, trigger_body
from infra.monitor_config import DataCollectorConfig, ModelMonitorConfig

MONITOR = ModelMonitorConfig.model_validate({
    "trainingData": "loans-training:3", "targetColumn": "approved_loan", "features": ["income", "credit_cards", "age"],
    "dataDrift": {"numerical": {"metric": "jensen_shannon_distance", "threshold": 0.2}, "categorical": {"metric": "pearsons_chi_squared_test", "threshold": 0.01}},
    "predictionDrift": {"categorical": {"metric": "jensen_shannon_distance", "threshold": 0.2}},
    "dataQuality": {"numerical": {"nullValueRate": 0.0, "outOfBoundsRate": 0.05}, "categorical": {"nullValueRate": 0.0, "outOfBoundsRate": 0.05}},
    "schedule": {"frequency": "day", "interval": 1, "hours": 3, "minutes": 15},
})


def test_data_collector_equals_azure_ai_mls(recwarn):
    c = DataCollectorConfig.model_validate({"samplingRate": 0.5, "rollingRate": "Hour"})
    entity = DataCollector(collections={n: DeploymentCollection(enabled="true") for n in c.collections}, sampling_rate=0.5, rolling_rate="Hour")
    assert data_collector_body(c) == entity._to_rest_object().as_dict()


def test_monitor_schedule_equals_azure_ai_mls():
    def production(collection, context):
        return ProductionData(input_data=Input(type="uri_folder", path=collected_asset("loans-ep", "blue", collection)), data_context=context)

    reference = ReferenceData(input_data=Input(type="mltable", path="azureml:loans-training:3"), data_context=MonitorDatasetContext.TRAINING, data_column_names={"target_column": "approved_loan"})
    signals = {
        "data_drift": DataDriftSignal(
            production_data=production("model_inputs", MonitorDatasetContext.MODEL_INPUTS), reference_data=reference, features=["income", "credit_cards", "age"],
            metric_thresholds=DataDriftMetricThreshold(numerical=NumericalDriftMetrics(jensen_shannon_distance=0.2), categorical=CategoricalDriftMetrics(pearsons_chi_squared_test=0.01)),
            alert_enabled=True,
        ),
        "prediction_drift": PredictionDriftSignal(
            production_data=production("model_outputs", MonitorDatasetContext.MODEL_OUTPUTS), reference_data=reference,
            metric_thresholds=PredictionDriftMetricThreshold(categorical=CategoricalDriftMetrics(jensen_shannon_distance=0.2)), alert_enabled=True,
        ),
        "data_quality": DataQualitySignal(
            production_data=production("model_inputs", MonitorDatasetContext.MODEL_INPUTS), reference_data=reference, features=["income", "credit_cards", "age"],
            metric_thresholds=DataQualityMetricThreshold(
                numerical=DataQualityMetricsNumerical(null_value_rate=0.0, out_of_bounds_rate=0.05),
                categorical=DataQualityMetricsCategorical(null_value_rate=0.0, out_of_bounds_rate=0.05),
            ),
            alert_enabled=True,
        ),
    }
    entity = MonitorSchedule(
        name="loans-monitor",
        trigger=RecurrenceTrigger(frequency="day", interval=1, schedule=RecurrencePattern(hours=3, minutes=15)),
        create_monitor=MonitorDefinition(
            compute=ServerlessSparkCompute(instance_type="standard_e4s_v3", runtime_version="3.4"),
            monitoring_target=MonitoringTarget(ml_task="classification", endpoint_deployment_id="azureml:loans-ep:blue"),
            monitoring_signals=signals,
            alert_notification=AlertNotification(emails=["ops@example.com"]),
        ),
    )
    rest = entity._to_rest_object().as_dict()["properties"]
    assert rest["action"] == {"actionType": "CreateMonitor", "monitorDefinition": monitor_definition(MONITOR, "loans-ep", "blue", ["ops@example.com"])}
    assert rest["trigger"] == trigger_body(MONITOR)


def test_monitor_refuses_a_signal_over_data_the_deployment_does_not_collect():
    args = ModelMonitorArgs(MONITOR, "loans-monitor", "loans-ep", "blue", ["ops@example.com"], "rg", "ws", collections=("model_inputs",))
    with pytest.raises(InvalidArgs, match="model_outputs"):
        args.validate()
