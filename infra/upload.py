"""Upload a folder as one block blob per file under a content-addressed prefix (Azure ML wants a folder, not a zip),
and name that folder the way Azure ML reads it: through a workspace datastore."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pulumi
from pulumi_azure_native import storage

from infra.content import folder_files


class Storage(Protocol):
    """Where an asset's files are uploaded, and the datastore that reads them (the components' args)."""

    resource_group_name: pulumi.Input[str]
    storage_account_name: pulumi.Input[str]
    container_name: pulumi.Input[str]
    datastore_name: pulumi.Input[str]


def upload_folder(name: str, folder: Path, prefix: str, *, where: Storage, parent: pulumi.Resource) -> list[storage.Blob]:
    """One `storage.Blob` + `FileAsset` per file of `folder` at `<prefix>/<relative path>`, named `<name>-<relative path>`."""
    return [
        storage.Blob(
            f"{name}-{rel}",
            blob_name=f"{prefix}/{rel}",
            account_name=where.storage_account_name,
            container_name=where.container_name,
            resource_group_name=where.resource_group_name,
            type=storage.BlobType.BLOCK,
            source=pulumi.FileAsset(str(folder / rel)),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for rel in folder_files(folder)
    ]


def datastore_uri(datastore_name: pulumi.Input[str], path: str) -> pulumi.Output[str]:
    """`azureml://datastores/<datastore>/paths/<path>`: the datastore URI form Azure ML documents for model and
    code paths (https://learn.microsoft.com/azure/machine-learning/how-to-manage-models, "supported paths";
    https://learn.microsoft.com/azure/machine-learning/concept-data#uri)."""
    return pulumi.Output.concat("azureml://datastores/", datastore_name, "/paths/", path)
