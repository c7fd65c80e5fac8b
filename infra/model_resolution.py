"""Which local folder each model version a stack deploys has: the deploy's model resolution.

`pulumi up` packages every online deployment's scoring code with the swagger of the model version it
serves (infra/scoring_package.py), so it needs the version's MLflow folder: from the MLflow registry
(infra/model_source.resolve), or, for a stack that names an Azure ML registry (CI's), downloaded from it
through azure-ai-ml (infra/model_source.download_from_azureml_registry). An offline plan never reaches
Azure: it uses a version downloaded before, and plans the others without their files (a warning).
"""

from __future__ import annotations

import pulumi

from infra.config import ModelConfig
from infra.model_asset import ModelFiles
from infra.model_source import ModelSourceError, cached_from_azureml_registry, download_from_azureml_registry, resolve


def model_files(m: ModelConfig, tracking_uri: str | None, offline: bool) -> tuple[ModelFiles, ...]:
    """Every distinct version of one model its deployments serve (and its batch deployment's), with its files."""
    versions = m.versions()
    found = []
    for version in versions:
        try:
            if m.azureml_registry is None:
                folder = resolve(m.name, version, tracking_uri).folder
            elif offline:  # an offline plan never reaches Azure: a version downloaded before is used, else none
                folder = cached_from_azureml_registry(m.azureml_registry, m.name, version)
            else:
                folder = download_from_azureml_registry(m.azureml_registry, m.name, version)
            found.append(ModelFiles(version, folder))
        except ModelSourceError as exc:
            if not offline:
                raise
            pulumi.log.warn(f"{exc}; planned with an unresolved content hash")
            found.append(ModelFiles(version, None))
    return tuple(found)
