"""The registered model in Azure ML: one ModelVersion per version the stack serves, or registry references.

Azure's version number equals the registry's (users promote "version N"). Files are
uploaded content-addressed from the MLflow model folder, so a version whose files change
gets a new upload folder and never an in-place edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.content import content_hash
from infra.errors import InvalidArgs
from infra.upload import Storage, datastore_uri, upload_folder

UNRESOLVED = "unresolved"
"""The content hash of a version that the offline plan could not find in the registry."""


@dataclass(frozen=True)
class ModelFiles:
    """One version to declare: its local MLflow folder, or None when the offline plan could not find it."""

    version: int
    folder: Path | None


@dataclass(frozen=True)
class ModelAssetArgs:
    """What the ModelAsset component needs."""

    model_name: str
    """The registered model's name (amlops:model.name)."""
    versions: tuple[ModelFiles, ...]
    """Every distinct version the deployments serve."""
    resource_group_name: pulumi.Input[str]
    """The workspace's resource group."""
    workspace_name: pulumi.Input[str]
    """The ML workspace that holds the model."""
    storage_account_name: pulumi.Input[str] | None = None
    """The storage account files are uploaded to (unused with azureml_registry)."""
    container_name: pulumi.Input[str] | None = None
    """The blob container; files land under models/<name>/<hash>/."""
    datastore_name: pulumi.Input[str] | None = None
    """The workspace datastore over that container: model URIs are azureml://datastores/<it>/paths/models/..."""
    azureml_registry: str | None = None
    """Reference versions in this Azure ML registry instead of uploading (default none)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on each model version (default none); the content hash is added."""

    def validate(self) -> None:
        if not self.versions:
            raise InvalidArgs("ModelAsset", "versions", "must list at least one version")
        numbers = [v.version for v in self.versions]
        if len(set(numbers)) != len(numbers):
            raise InvalidArgs("ModelAsset", "versions", f"must be distinct, got {sorted(numbers)}")
        if self.azureml_registry is None and None in (self.storage_account_name, self.container_name, self.datastore_name):
            raise InvalidArgs(
                "ModelAsset", "storage_account_name/container_name/datastore_name", "are required to upload the model"
            )
        for v in self.versions:
            if v.folder is not None and not (v.folder / "MLmodel").is_file():
                raise InvalidArgs("ModelAsset", f"versions[{v.version}].folder", f"is not an MLflow model folder: {v.folder}")


class ModelAsset(pulumi.ComponentResource):
    """ModelContainer + a ModelVersion per version (mlflow_model), or azureml:// registry references."""

    asset_ids: dict[int, pulumi.Output[str]]
    """The asset id deployments reference, by version."""
    content_hashes: dict[int, str]

    def __init__(self, name: str, args: ModelAssetArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:model_asset:ModelAsset", name, None, opts)
        self.asset_ids = {}
        self.content_hashes = {}
        if args.azureml_registry is not None:
            for v in args.versions:
                self.asset_ids[v.version] = pulumi.Output.from_input(
                    f"azureml://registries/{args.azureml_registry}/models/{args.model_name}/versions/{v.version}"
                )
        else:
            container = ml.ModelContainer(
                f"{name}-container",
                name=args.model_name,
                resource_group_name=args.resource_group_name,
                workspace_name=args.workspace_name,
                properties=ml.ModelContainerPropertiesArgs(description=f"{args.model_name}, from the MLflow registry"),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for v in args.versions:
                self.asset_ids[v.version] = self._declare_version(name, args, container, v)
        self.register_outputs({"assetIds": {str(k): v for k, v in self.asset_ids.items()}})

    def _declare_version(self, name: str, args: ModelAssetArgs, container: ml.ModelContainer, v: ModelFiles) -> pulumi.Output[str]:
        digest = content_hash(v.folder) if v.folder is not None else UNRESOLVED
        self.content_hashes[v.version] = digest
        version = uploaded_version(
            f"{name}-v{v.version}", f"{name}-v{v.version}", v.folder,
            f"models/{args.model_name}/{digest}" + (f"-v{v.version}" if v.folder is None else ""),
            where=args, container=container, version=str(v.version), parent=self,
            properties=dict(
                model_type="mlflow_model",
                description=f"{args.model_name} version {v.version} from the MLflow registry",
                tags={**args.tags, "contentHash": digest},
            ),
        )
        return version.id


class ModelStorage(Storage, Protocol):
    """Where a model's files are uploaded and its version declared (ModelAssetArgs, CombinedModelArgs)."""

    workspace_name: pulumi.Input[str]


def uploaded_version(
    name: str, upload_name: str, folder: Path | None, prefix: str, *, where: ModelStorage, container: ml.ModelContainer,
    version: str, parent: pulumi.Resource, properties: dict,
) -> ml.ModelVersion:
    """A ModelVersion `name` of `container` whose files are `folder`, uploaded under `prefix` (resources named after
    `upload_name`) before it is declared; a missing folder (the offline plan's) uploads nothing. `properties` are the
    version's own: model_type, description, tags."""
    blobs = upload_folder(upload_name, folder, prefix, where=where, parent=parent) if folder is not None else []
    return ml.ModelVersion(
        name,
        name=container.name,
        version=version,
        resource_group_name=where.resource_group_name,
        workspace_name=where.workspace_name,
        properties=ml.ModelVersionPropertiesArgs(model_uri=datastore_uri(where.datastore_name, prefix), **properties),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=blobs),
    )
