"""An artifact folder (scoring/ or batch/) as a content-addressed Azure ML code asset."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.content import content_hash, folder_files
from infra.errors import ArtifactMissing, InvalidArgs
from infra.upload import datastore_uri, upload_folder


@dataclass(frozen=True)
class CodeAssetArgs:
    """What the CodeAsset component needs."""

    asset_name: str
    """The code container's name in the workspace (e.g. loans-scoring)."""
    folder: Path
    """The artifact folder to upload; every file except __pycache__/, *.pyc and dotfiles."""
    entry_scripts: tuple[str, ...]
    """Files that must exist in the folder (the scripts deployments name)."""
    resource_group_name: pulumi.Input[str]
    """The workspace's resource group."""
    workspace_name: pulumi.Input[str]
    """The ML workspace that holds the asset."""
    storage_account_name: pulumi.Input[str]
    """The storage account the files are uploaded to."""
    container_name: pulumi.Input[str]
    """The blob container; files land under <asset_name>/<hash>/."""
    datastore_name: pulumi.Input[str]
    """The workspace datastore over that container: the code URI is azureml://datastores/<it>/paths/<asset>/<hash>."""
    description: str = ""
    """The asset's description (default empty)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the code version (default none); the content hash is added."""

    def validate(self) -> None:
        if not self.folder.is_dir():
            raise ArtifactMissing(f"CodeAsset {self.asset_name}: the artifact folder {self.folder} does not exist")
        missing = [s for s in self.entry_scripts if not (self.folder / s).is_file()]
        if missing:
            raise ArtifactMissing(
                f"CodeAsset {self.asset_name}: {self.folder} has no {', '.join(missing)} "
                f"(files there: {', '.join(folder_files(self.folder)) or 'none'})"
            )
        if not self.asset_name:
            raise InvalidArgs("CodeAsset", "asset_name", "must not be empty")


class CodeAsset(pulumi.ComponentResource):
    """One blob per file under <container>/<asset>/<hash>/ and a CodeVersion whose version is the hash."""

    code_id: pulumi.Output[str]
    version: str
    code_uri: pulumi.Output[str]

    def __init__(self, name: str, args: CodeAssetArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:code_asset:CodeAsset", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        digest = content_hash(args.folder)
        prefix = f"{args.asset_name}/{digest}"
        blobs = upload_folder(
            name,
            args.folder,
            prefix,
            account_name=args.storage_account_name,
            container_name=args.container_name,
            resource_group_name=args.resource_group_name,
            parent=self,
        )
        container = ml.CodeContainer(
            f"{name}-container",
            name=args.asset_name,
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            properties=ml.CodeContainerPropertiesArgs(description=args.description),
            opts=child,
        )
        code_uri = datastore_uri(args.datastore_name, prefix)
        version = ml.CodeVersion(
            f"{name}-version",
            name=container.name,
            version=digest,
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            properties=ml.CodeVersionPropertiesArgs(
                code_uri=code_uri,
                description=args.description,
                tags={**args.tags, "contentHash": digest},
            ),
            # Assets are immutable: a new hash is a new version, never an edit in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=blobs),
        )
        self.code_id = version.id
        self.version = digest
        self.code_uri = code_uri
        self.register_outputs({"codeId": self.code_id, "version": digest, "codeUri": code_uri})
