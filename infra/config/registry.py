"""`amlops:registry`: where models are registered (MLflow)."""

from __future__ import annotations

from infra.config.base import ConfigModel


class RegistryConfig(ConfigModel):
    """Where models are registered (MLflow)."""

    tracking_uri: str | None = None
    """An MLflow tracking URI (an Azure ML workspace's is one); default: the local sqlite
    registry under .amlops/, or MLFLOW_TRACKING_URI when set."""
