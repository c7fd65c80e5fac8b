"""An artifact folder (scoring/ or batch/) as a content-addressed Azure ML code asset."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.content import content_hash, folder_files
from infra.errors import ArtifactMissing, InvalidArgs
from infra.upload import datastore_uri, upload_folder

LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


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
    """Tags on the code versions (default none); the content hash is added."""
    variants: dict[str, Path] = field(default_factory=dict)
    """Further folders uploaded as versions of the same code container, by label (default none): e.g. scoring/
    packaged for another model version. Their blobs are `<name>-<label>-<file>`, their CodeVersion
    `<name>-<label>-version`; labels are letters, digits and hyphens."""

    def validate(self) -> None:
        if not self.asset_name:
            raise InvalidArgs("CodeAsset", "asset_name", "must not be empty")
        bad = sorted(label for label in self.variants if not LABEL.fullmatch(label))
        if bad:
            raise InvalidArgs("CodeAsset", "variants", f"labels must be letters, digits and hyphens, got {bad}")
        for folder in (self.folder, *self.variants.values()):
            if not folder.is_dir():
                raise ArtifactMissing(f"CodeAsset {self.asset_name}: the artifact folder {folder} does not exist")
            missing = [s for s in self.entry_scripts if not (folder / s).is_file()]
            if missing:
                raise ArtifactMissing(
                    f"CodeAsset {self.asset_name}: {folder} has no {', '.join(missing)} "
                    f"(files there: {', '.join(folder_files(folder)) or 'none'})"
                )
        hashes = [content_hash(f) for f in (self.folder, *self.variants.values())]
        if len(set(hashes)) < len(hashes):  # one content is one version: two resources would declare it twice
            raise InvalidArgs("CodeAsset", "variants", f"must each hold different files from the folder and each other (content hashes {hashes})")


class CodeAsset(pulumi.ComponentResource):
    """A CodeContainer; per folder, one blob per file under <container>/<asset>/<hash>/ and a CodeVersion whose version is the hash."""

    code_id: pulumi.Output[str]
    """The id of the main folder's CodeVersion."""
    version: str
    code_uri: pulumi.Output[str]
    variant_ids: dict[str, pulumi.Output[str]]
    """The CodeVersion id of each variant, by label."""
    variant_versions: dict[str, str]

    def __init__(self, name: str, args: CodeAssetArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:code_asset:CodeAsset", name, None, opts)
        container = ml.CodeContainer(
            f"{name}-container",
            name=args.asset_name,
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            properties=ml.CodeContainerPropertiesArgs(description=args.description),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.code_id, self.version, self.code_uri = self._code_version(name, args.folder, container, args)
        self.variant_ids, self.variant_versions = {}, {}
        for label, folder in sorted(args.variants.items()):
            self.variant_ids[label], self.variant_versions[label], _ = self._code_version(f"{name}-{label}", folder, container, args)
        self.register_outputs(
            {"codeId": self.code_id, "version": self.version, "codeUri": self.code_uri, "variantVersions": self.variant_versions}
        )

    def _code_version(self, name: str, folder: Path, container: ml.CodeContainer, args: CodeAssetArgs):
        """The folder's blobs and CodeVersion: (its id, the content hash, its code URI)."""
        digest = content_hash(folder)
        prefix = f"{args.asset_name}/{digest}"
        blobs = upload_folder(name, folder, prefix, where=args, parent=self)
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
        return version.id, digest, code_uri
