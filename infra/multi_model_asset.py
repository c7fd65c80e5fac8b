"""A multi-model group's combined model folder (infra/multi_model.py) registered as one model asset.

Azure: "you can still use multiple models in a deployment by registering a model folder that contains
all the models as files or subdirectories"; the deployment's AZUREML_MODEL_DIR then holds that folder's
structure (https://learn.microsoft.com/azure/machine-learning/concept-online-deployment-model-specification,
"Deployment for several local models"). The folder is not one MLflow model, so it is a `custom_model`
(the model types custom_model, mlflow_model, triton_model: https://learn.microsoft.com/azure/machine-learning/reference-yaml-model).
A version is a string (azure-ai-ml's VersionField: "1, 1.0, 1.0.0", kept a string). As the code assets (infra/code_asset.py), its version is the folder's
content hash: the same members at the same versions are the same version, and a member's new version is
a new one, uploaded under its own prefix and never edited in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.content import content_hash
from infra.errors import InvalidArgs
from infra.model_asset import uploaded_version
from infra.multi_model import MANIFEST

UNRESOLVED = "unresolved"
"""The version of a group whose members the offline plan could not all find in the registry."""


@dataclass(frozen=True)
class CombinedModelArgs:
    """What the CombinedModel component needs."""

    model_name: str
    """The registered model's name in the workspace (`<prefix>-<group>-models`)."""
    folder: Path | None
    """The combined folder (infra.multi_model.combine), or None when a member is not on this machine (offline plan)."""
    members: dict[str, str]
    """Member key → `name:version`, recorded in the version's tags."""
    resource_group_name: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    storage_account_name: pulumi.Input[str]
    container_name: pulumi.Input[str]
    """The blob container; files land under models/<name>/<hash>/."""
    datastore_name: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        if len(self.members) < 2:
            raise InvalidArgs("CombinedModel", "members", f"must list two or more models, got {sorted(self.members)}")
        if self.folder is not None and not (self.folder / MANIFEST).is_file():
            raise InvalidArgs("CombinedModel", "folder", f"has no {MANIFEST} (build it with infra.multi_model.combine): {self.folder}")


class CombinedModel(pulumi.ComponentResource):
    """ModelContainer + one content-versioned `custom_model` ModelVersion of the combined folder."""

    asset_id: pulumi.Output[str]
    """The asset id every deployment of the group references."""
    version: str
    """The content hash (UNRESOLVED offline when a member is missing)."""

    def __init__(self, name: str, args: CombinedModelArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:multi_model_asset:CombinedModel", name, None, opts)
        container = ml.ModelContainer(
            f"{name}-container",
            name=args.model_name,
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            properties=ml.ModelContainerPropertiesArgs(description=f"{', '.join(args.members)}: one folder per model, served by one deployment"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.version = content_hash(args.folder) if args.folder is not None else UNRESOLVED
        version = uploaded_version(
            f"{name}-version", f"{name}-files", args.folder, f"models/{args.model_name}/{self.version}",
            where=args, container=container, version=self.version, parent=self,
            properties=dict(
                model_type="custom_model",
                description=f"{MANIFEST} and one MLflow folder per model: {', '.join(f'{k} ({v})' for k, v in args.members.items())}",
                tags={**args.tags, **{f"member.{k}": v for k, v in args.members.items()}, "contentHash": self.version},
            ),
        )
        self.asset_id = version.id
        self.register_outputs({"assetId": self.asset_id, "version": self.version})
