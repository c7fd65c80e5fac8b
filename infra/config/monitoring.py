"""`amlops:monitoring`: Application Insights and alerts."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from infra.config.base import ConfigModel

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AlertsConfig(ConfigModel):
    """Alert thresholds; alerts exist only where monitoring.alertsEnabled is true."""

    latency_ms: int = Field(500, ge=1)
    """Average request latency (ms) over 5 minutes that fires an alert."""
    failed_requests: int = Field(10, ge=1)
    """Failed requests (5xx) in 5 minutes that fire an alert."""
    rejected_loans: int = Field(100, ge=1)
    """The book's Kusto alert: more than this many rejected loans in 30 minutes."""


class MonitoringConfig(ConfigModel):
    """Application Insights and alerts."""

    app_insights: bool = True
    """Workspace-based Application Insights for the workspace and endpoints."""
    alerts_enabled: bool = False
    """Declare the action group and alert rules (prod, staging)."""
    action_group_email: str | None = None
    """Who the alerts e-mail; required when alertsEnabled."""
    alerts: AlertsConfig = AlertsConfig()

    @field_validator("action_group_email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not _EMAIL.match(v):
            raise ValueError(f"must be an e-mail address, got {v!r}")
        return v
