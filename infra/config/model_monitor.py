"""`amlops:models.<key>.monitor` and `…online.deployments.<name>.dataCollector`: model monitoring's settings
(in the single-model form, `amlops:monitor` and `amlops:online.deployments.<name>.dataCollector`).

Names and meanings are Azure's: the data collector of a managed online deployment
(https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data) and the monitor
schedule's signals, metrics and thresholds (https://learn.microsoft.com/azure/machine-learning/reference-yaml-monitor).
Both the Pulumi program (infra/model_monitor.py, infra/online_endpoint.py) and `amlops serve` /
`amlops monitor run` read these same values.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.config.base import ConfigModel

COLLECTIONS = ("model_inputs", "model_outputs")
"""The custom-logging collections score.py logs (via scoring/datacollection.py); Azure's model monitoring
recognises exactly these names (how-to-collect-production-data). `request`/`response` (payload logging)
are not declared: their data is not tabular, and a monitor could not read it without a preprocessing component."""
ROLLING_RATES = ("Minute", "Hour", "Day", "Month", "Year")
"""How the collector partitions the blob path by time (the REST API's RollingRateType)."""
NUMERICAL_DRIFT_METRICS = ("jensen_shannon_distance", "normalized_wasserstein_distance", "population_stability_index", "two_sample_kolmogorov_smirnov_test")
CATEGORICAL_DRIFT_METRICS = ("jensen_shannon_distance", "pearsons_chi_squared_test", "population_stability_index")
DATA_QUALITY_METRICS = ("null_value_rate", "data_type_error_rate", "out_of_bounds_rate")
SPARK_INSTANCE_TYPES = ("standard_e4s_v3", "standard_e8s_v3", "standard_e16s_v3", "standard_e32s_v3", "standard_e64s_v3")
"""The serverless Spark sizes a monitor runs on (reference-yaml-monitor, compute.instance_type)."""
TARGET_COLUMN_ENV = "AMLOPS_TARGET_COLUMN"
"""The deployment's environment variable naming score.py's model_outputs column (scoring/datacollection.py
reads it): the monitor's target column, so that prediction drift compares predictions with the training labels."""
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]{0,127}$")


class DataCollectorConfig(ConfigModel):
    """amlops:online.deployments.<name>.dataCollector: what the deployment's data collector logs."""

    collections: tuple[Literal["model_inputs", "model_outputs"], ...] = COLLECTIONS
    """Which of score.py's collections are enabled (default both)."""
    sampling_rate: float = Field(1.0, gt=0, le=1)
    """The share of requests logged, 0 < rate ≤ 1 (default 1.0: every request)."""
    rolling_rate: Literal["Minute", "Hour", "Day", "Month", "Year"] = "Hour"
    """How the blob path is partitioned by time (default Hour: {yyyy}/{MM}/{dd}/{HH})."""

    @field_validator("collections")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError(f"must name at least one of {', '.join(COLLECTIONS)}")
        if len(set(v)) != len(v):
            raise ValueError(f"names a collection twice: {', '.join(v)}")
        return v


class DriftMetric(ConfigModel):
    """One metric and its threshold (a drift signal takes one per data type, as azure-ai-ml's entities do)."""

    metric: str
    threshold: float = Field(ge=0)


class DriftSignalConfig(ConfigModel):
    """A data drift or prediction drift signal."""

    numerical: DriftMetric | None = None
    categorical: DriftMetric | None = None
    alert_enabled: bool = True

    @model_validator(mode="after")
    def _metrics(self) -> "DriftSignalConfig":
        if self.numerical is None and self.categorical is None:
            raise ValueError("needs a numerical or a categorical metric (or both)")
        if self.numerical is not None and self.numerical.metric not in NUMERICAL_DRIFT_METRICS:
            raise ValueError(f"numerical.metric must be one of {', '.join(NUMERICAL_DRIFT_METRICS)}, got {self.numerical.metric!r}")
        if self.categorical is not None and self.categorical.metric not in CATEGORICAL_DRIFT_METRICS:
            raise ValueError(f"categorical.metric must be one of {', '.join(CATEGORICAL_DRIFT_METRICS)}, got {self.categorical.metric!r}")
        return self


class QualityThresholds(ConfigModel):
    """Data quality rates (0-1) for one data type; a rate left out is not checked."""

    null_value_rate: float | None = Field(None, ge=0, le=1)
    data_type_error_rate: float | None = Field(None, ge=0, le=1)
    out_of_bounds_rate: float | None = Field(None, ge=0, le=1)

    def items(self) -> list[tuple[str, float]]:
        return [(m, getattr(self, m)) for m in DATA_QUALITY_METRICS if getattr(self, m) is not None]


class DataQualitySignalConfig(ConfigModel):
    numerical: QualityThresholds | None = None
    categorical: QualityThresholds | None = None
    alert_enabled: bool = True


class MonitorScheduleConfig(ConfigModel):
    """When the monitor runs: a recurrence (reference-yaml-monitor's RecurrenceTrigger)."""

    frequency: Literal["day", "week", "month"] = "day"
    interval: int = Field(1, ge=1)
    hours: int = Field(3, ge=0, le=23)
    minutes: int = Field(15, ge=0, le=59)
    time_zone: str = "UTC"


class ModelMonitorConfig(ConfigModel):
    """A model's monitor: a CreateMonitor schedule over one online deployment's collected data."""

    deployment: str | None = None
    """The online deployment monitored; default the live one (the most traffic; a tie goes to the first declared),
    else the first declared.
    Its dataCollector must collect what the signals read."""

    training_data: str
    """The registered model's training data asset, `NAME:VERSION` (an mltable or uri_file in the workspace): the reference."""
    task: Literal["classification", "regression"] = "classification"
    """The model's task (the monitoring target's taskType): what prediction drift compares."""
    training_data_type: Literal["mltable", "uri_file", "uri_folder"] = "mltable"
    target_column: str = "prediction"
    """The training data's label column; score.py names its output column the same (model_outputs), so
    prediction drift compares like with like."""
    categorical_features: tuple[str, ...] = ()
    """Columns treated as categorical whatever their type (Azure's feature_type_override)."""
    numerical_features: tuple[str, ...] = ()
    """Columns treated as numerical whatever their type."""
    features: tuple[str, ...] = ()
    """The input columns monitored (default: all)."""
    data_drift: DriftSignalConfig | None = None
    prediction_drift: DriftSignalConfig | None = None
    data_quality: DataQualitySignalConfig | None = None
    schedule: MonitorScheduleConfig = MonitorScheduleConfig()
    instance_type: Literal["standard_e4s_v3", "standard_e8s_v3", "standard_e16s_v3", "standard_e32s_v3", "standard_e64s_v3"] = "standard_e4s_v3"
    """The serverless Spark size the monitoring job runs on."""
    runtime_version: str = "3.4"
    """The serverless Spark runtime."""

    @field_validator("training_data")
    @classmethod
    def _asset(cls, v: str) -> str:
        name, _, version = v.partition(":")
        if not name or not version or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$", name):
            raise ValueError(f"must be a data asset NAME:VERSION, e.g. loans-training:1, got {v!r}")
        return v

    @field_validator("target_column", "categorical_features", "numerical_features", "features")
    @classmethod
    def _columns(cls, v):
        for name in (v,) if isinstance(v, str) else v:
            if not _COLUMN.match(name):
                raise ValueError(f"{name!r} is not a column name")
        return v

    @model_validator(mode="after")
    def _signals(self) -> "ModelMonitorConfig":
        if self.data_drift is None and self.prediction_drift is None and self.data_quality is None:
            raise ValueError("declares no signal: set dataDrift, predictionDrift or dataQuality")
        both = set(self.categorical_features) & set(self.numerical_features)
        if both:
            raise ValueError(f"{', '.join(sorted(both))}: both categorical and numerical")
        return self

    def reads(self) -> tuple[str, ...]:
        """The collections its signals read: model_inputs for data drift and quality, model_outputs for prediction drift."""
        return tuple(c for c, used in (("model_inputs", self.data_drift or self.data_quality), ("model_outputs", self.prediction_drift)) if used)

    @property
    def training_data_name(self) -> str:
        return self.training_data.partition(":")[0]

    @property
    def training_data_version(self) -> str:
        return self.training_data.partition(":")[2]
