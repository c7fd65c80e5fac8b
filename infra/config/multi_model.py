"""`amlops:multiModel`: several small models of `amlops:models` served by one online deployment.

Azure: a deployment names one model, but "you can still use multiple models in a deployment by
registering a model folder that contains all the models as files or subdirectories" and routing in the
scoring script (https://learn.microsoft.com/azure/machine-learning/concept-online-deployment-model-specification,
"Deployment for several local models"). A group lists the member keys of `amlops:models` and has one
online endpoint; the program registers the members' folders as one model asset (infra/multi_model.py)
and runs scoring/score_multi.py, which routes each request by its "model" field. Each model's own
entry keeps its name and pinned version; a member may declare no endpoint of its own.

The combined folder is built from the members' local MLflow folders, so a member cannot be an Azure ML
registry reference, and every deployment serves the members' pinned versions (no per-deployment
modelVersion: one combined asset per group).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from infra.config.base import ConfigModel
from infra.config.models import check_model_key
from infra.config.online import OnlineConfig


class MultiModelConfig(ConfigModel):
    """One group: the member models (keys of amlops:models) and the online endpoint that serves them all."""

    models: list[str] = Field(min_length=2)
    """The member keys of amlops:models, two or more, each once."""
    online: OnlineConfig
    """The group's online endpoint (deployments, traffic, mirror, autoscale, alerts, auth)."""

    @field_validator("models")
    @classmethod
    def _members(cls, v: list[str]) -> list[str]:
        twice = sorted({k for k in v if v.count(k) > 1})
        if twice:
            raise ValueError(f"lists each model once, got {', '.join(twice)} more than once")
        return v


def check_groups(groups: dict) -> dict:
    """Every group key Azure-safe, as model keys are (it goes into the same resource names)."""
    for key in groups:
        check_model_key(key)
    return groups
