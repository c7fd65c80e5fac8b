"""Data collection for model monitoring: score.py's model inputs and outputs, logged with Azure's
`azureml-ai-monitoring` Collector when the deployment's data collector enables it.

Azure contract (https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data):
a custom scoring script logs pandas DataFrames itself — `Collector(name='model_inputs')` and
`Collector(name='model_outputs')` created once, `collect(frame, context)` per request, the outputs with the
inputs' correlation context — and the deployment's `data_collector.collections` enables those names.
Only an MLflow model deployed without a scoring script is instrumented by Azure itself. The package
is enabled exactly when its own configuration is present (`AZUREML_MDC_CONFIG_PATH`, or
`AZUREML_MDC_ENABLED=true`, as azureml-ai-monitoring's config.loadConfig reads them); score.py's
_collection() checks that before importing this module; otherwise nothing is logged.

Logging never fails a request: a collector error is logged as a warning (the Collector's `on_error`).
"""

from __future__ import annotations

import os

TARGET_COLUMN_ENV = "AMLOPS_TARGET_COLUMN"
"""The name of the model_outputs column: the training data's label column, so that prediction drift
compares the predictions with it (default `prediction`)."""
DEFAULT_TARGET_COLUMN = "prediction"
INPUTS, OUTPUTS = "model_inputs", "model_outputs"


class _OnError:
    """A Collector's on_error: remembers an error raised while it is created (the collection is then off),
    logs any later one as a warning."""

    def __init__(self, name: str, logger):
        self.name, self.logger, self.first, self.created = name, logger, None, False

    def __call__(self, exc: Exception) -> None:
        if not self.created:
            self.first = self.first or exc
        else:
            self.logger.warning("data collection %s failed: %s", self.name, exc)


class Collection:
    """The deployment's model_inputs and model_outputs collectors for one model's columns."""

    def __init__(self, columns: tuple[str, ...], integer_columns: frozenset[str], classes, logger):
        from azureml.ai.monitoring import Collector

        self.columns, self.classes, self.logger = list(columns), classes, logger
        self.integer_columns = integer_columns
        self.target = os.environ.get(TARGET_COLUMN_ENV) or DEFAULT_TARGET_COLUMN
        self.collectors = {}
        for name in (INPUTS, OUTPUTS):
            on_error = _OnError(name, logger)
            collector = Collector(name=name, on_error=on_error)
            on_error.created = True
            if on_error.first is None:
                self.collectors[name] = collector
            else:
                logger.info("data collection %s is off: %s", name, on_error.first)
        logger.info("data collection: %s", ", ".join(self.collectors) or "none enabled")

    def collect(self, x, answer: list, method: str, request_id: str | None) -> None:
        """Log one scored request: its rows (typed as the model's signature) and the predicted values."""
        import numpy as np
        import pandas as pd
        from azureml.ai.monitoring.context import BasicCorrelationContext

        context = BasicCorrelationContext(id=request_id) if request_id else BasicCorrelationContext()
        inputs = self.collectors.get(INPUTS)
        if inputs is not None:
            frame = x if isinstance(x, pd.DataFrame) else pd.DataFrame(x, columns=self.columns)
            frame = frame.astype({c: np.int64 for c in self.integer_columns if frame[c].dtype != np.int64})
            context = inputs.collect(frame, context)
        outputs = self.collectors.get(OUTPUTS)
        if outputs is None:
            return
        if method == "predict":
            predicted = answer
        elif self.classes is not None:  # predict_proba: the class the model predicts, so one column's meaning holds
            predicted = [self.classes[i] for i in np.argmax(np.asarray(answer), axis=1)]
        else:
            return
        outputs.collect(pd.DataFrame({self.target: predicted}), context)
