"""The monitor's signals over collected production data and the training data: one row per
(signal, feature, metric) with its value, threshold and whether it breaches.

Which columns are compared, and as what, follows Azure's signal components
(Azure/azureml-assets, model_monitoring/components/src/shared_utilities/df_utils.py): columns present
in both data sets; strings and booleans are categorical, floats numerical, and an integer column is
categorical when fewer than 5% of its reference values are distinct; the stack's
categoricalFeatures / numericalFeatures override that (Azure's feature_type_override).
"""

from __future__ import annotations

from dataclasses import dataclass

from amlops.modelmonitor import metrics
from infra.config.model_monitor import DriftSignalConfig, ModelMonitorConfig

DISTINCT_RATIO = 0.05
"""An integer column with fewer distinct values than this share of its rows is categorical (Azure's rule)."""


@dataclass(frozen=True)
class Result:
    """One metric of one feature of one signal."""

    signal: str
    feature: str
    kind: str
    """numerical | categorical"""
    metric: str
    value: float
    threshold: float
    breach: bool


def feature_kind(name: str, reference, cfg: ModelMonitorConfig) -> str:
    """numerical or categorical, as Azure decides it for a column of the reference data."""
    import pandas as pd
    from pandas.api import types

    if name in cfg.categorical_features:
        return "categorical"
    if name in cfg.numerical_features:
        return "numerical"
    series = pd.Series(reference).dropna()
    if types.is_bool_dtype(series) or not types.is_numeric_dtype(series):
        return "categorical"
    if types.is_integer_dtype(series):
        return "categorical" if len(series) and series.nunique() / len(series) < DISTINCT_RATIO else "numerical"
    return "numerical"


def _drift(signal: str, cfg: ModelMonitorConfig, drift: DriftSignalConfig, reference, production, columns: list[str]) -> list[Result]:
    rows = []
    for col in columns:
        kind = feature_kind(col, reference[col], cfg)
        chosen = drift.numerical if kind == "numerical" else drift.categorical
        if chosen is None:
            continue
        ref, prod = reference[col].dropna(), production[col].dropna()
        if len(ref) == 0 or len(prod) == 0:
            value = float("nan")
        elif kind == "numerical":
            value = metrics.numerical(chosen.metric, ref.to_numpy(float), prod.to_numpy(float))
        else:
            value = metrics.categorical(chosen.metric, ref.to_numpy(), prod.to_numpy())
        rows.append(Result(signal, col, kind, chosen.metric, value, chosen.threshold, metrics.breached(chosen.metric, value, chosen.threshold)))
    return rows


def compute(cfg: ModelMonitorConfig, reference, inputs, outputs) -> list[Result]:
    """Every declared signal: data drift and data quality over `inputs`, prediction drift over `outputs`
    (the model's predictions against the training data's target column)."""
    results: list[Result] = []
    input_columns = [c for c in (cfg.features or tuple(inputs.columns)) if c in reference.columns and c in inputs.columns and c != cfg.target_column]
    if cfg.data_drift is not None and len(inputs):
        results += _drift("data_drift", cfg, cfg.data_drift, reference, inputs, input_columns)
    if cfg.prediction_drift is not None and outputs is not None and len(outputs) and cfg.target_column in outputs.columns:
        results += _drift("prediction_drift", cfg, cfg.prediction_drift, reference, outputs, [cfg.target_column])
    if cfg.data_quality is not None and len(inputs):
        for col in input_columns:
            kind = feature_kind(col, reference[col], cfg)
            thresholds = cfg.data_quality.numerical if kind == "numerical" else cfg.data_quality.categorical
            for metric, threshold in thresholds.items() if thresholds is not None else ():
                value = metrics.quality(metric, reference[col], inputs[col], is_numerical=kind == "numerical")
                results.append(Result("data_quality", col, kind, metric, value, threshold, metrics.breached(metric, value, threshold)))
    return results
