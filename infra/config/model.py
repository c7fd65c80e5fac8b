"""`amlops:model`: which registered model version an environment serves."""

from __future__ import annotations

from pydantic import Field, field_validator

from infra.config.base import MODEL_NAME, ConfigModel, name_check


class ModelPin(ConfigModel):
    """Which registered model version this environment serves."""

    name: str = "chapter12-loans"
    """The registered model name (the book's `chapter12-loans`)."""
    version: int = Field(ge=1)
    """The version every deployment defaults to; a deployment may pin its own."""
    azureml_registry: str | None = None
    """Reference the model in this Azure ML registry instead of uploading it."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return name_check(MODEL_NAME, "must be letters, digits, '-', '_' or '.', up to 255 characters")(v)
