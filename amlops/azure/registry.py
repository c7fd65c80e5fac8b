"""The model registry CI deploys from: an Azure ML registry (shared by every stack's workspace), through azure-ai-ml.

Why not MLflow: Azure ML registries are not reachable through MLflow ("Organizational registries
aren't supported for model management with MLflow",
https://learn.microsoft.com/en-us/azure/machine-learning/how-to-manage-models-mlflow#limitations),
and azureml-mlflow, which a workspace's MLflow URI needs, requires mlflow-skinny<=3.15 (1.62.0.post6),
so it cannot be installed beside mlflow 3.17. A version is registered in the embedded MLflow registry
as always (`amlops model register`: accuracy, lineage, trusted types), then *published*: copied with
its tags to the Azure ML registry as that registry's next version. Stacks reference it with
`amlops:model.azuremlRegistry`; `pulumi up` then points deployments at
azureml://registries/<registry>/models/<name>/versions/<n> and uploads nothing.
  https://learn.microsoft.com/en-us/azure/machine-learning/how-to-share-models-pipelines-across-workspaces-with-registries
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from amlops.azure.calls import call
from amlops.errors import ModelNotFound
from amlops.registry import ModelVersion, pick_version


@dataclass(frozen=True)
class Published:
    """What `publish` decided: the new registry version, or why nothing was published."""

    source: ModelVersion
    published: ModelVersion | None
    previous: ModelVersion | None
    registry: str

    def describe(self) -> str:
        s = self.source
        acc = f"accuracy {s.accuracy:.4f}" if s.accuracy is not None else "no accuracy recorded"
        if self.published is None:
            p = self.previous
            assert p is not None and p.accuracy is not None
            return (
                f"not published: {s.name}:{s.version} ({acc}) is not more accurate than {p.name}:{p.version} "
                f"({p.accuracy:.4f}) in Azure ML registry {self.registry}"
            )
        return (
            f"published {s.name}:{s.version} ({acc}) to Azure ML registry {self.registry} as version "
            f"{self.published.version}; pin it with `amlops promote {s.name}:{self.published.version} --to STACK`"
        )


def _version(model: Any) -> ModelVersion:
    tags = dict(model.tags or {})
    acc = tags.get("accuracy")
    created = getattr(getattr(model, "creation_context", None), "created_at", None)
    return ModelVersion(
        name=model.name,
        version=int(model.version),
        accuracy=float(acc) if acc not in (None, "") else None,
        run_id=tags.get("run_id") or None,
        source=model.id or model.path or "",
        tags=tags,
        created_ms=int(created.timestamp() * 1000) if created else 0,
    )


class AzureModelRegistry:
    """Model versions in one Azure ML registry: what the promotion gate reads and `amlops publish` writes."""

    def __init__(self, name: str, client: Any = None, factory: Callable[..., Any] | None = None):
        self.name = name
        self._client = client
        self._factory = factory

    @property
    def client(self) -> Any:
        """MLClient(registry_name=...): registry-scoped, no workspace (the SDK finds the registry's region)."""
        if self._client is None:
            from infra.credential import credential

            factory = self._factory
            if factory is None:
                from azure.ai.ml import MLClient as factory  # noqa: N813
            self._client = factory(credential=credential(), registry_name=self.name)
        return self._client

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of `name`, oldest first (empty when the registry has no such model)."""
        from azure.core.exceptions import ResourceNotFoundError

        def listed() -> list[Any]:
            try:
                return list(self.client.models.list(name=name))
            except ResourceNotFoundError:
                return []

        found = call(f"model {name} in Azure ML registry {self.name}", listed)
        return sorted((_version(m) for m in found), key=lambda v: v.version)

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """One version (the latest when None); ModelNotFound listing what exists."""
        versions = self.versions(name)
        if not versions:
            raise ModelNotFound(
                f"model {name!r} is not in Azure ML registry {self.name}; publish a registered version first "
                f"(`amlops publish {name}:VERSION --stack STACK`)"
            )
        return pick_version(versions, name, version, f" in Azure ML registry {self.name}")

    def publish(self, source: ModelVersion, folder: Path, *, if_better: bool = False) -> Published:
        """Copy a registered version (its MLflow folder and tags) to the registry as its next version.

        With `if_better`, only when its accuracy beats the registry's most accurate version.
        """
        from azure.ai.ml.constants import AssetTypes
        from azure.ai.ml.entities import Model

        existing = self.versions(source.name)
        best = max((v for v in existing if v.accuracy is not None), key=lambda v: v.accuracy, default=None)
        if if_better and best is not None and (source.accuracy is None or not source.accuracy > best.accuracy):  # type: ignore[operator]
            return Published(source, None, best, self.name)
        number = (existing[-1].version if existing else 0) + 1
        tags = {**source.tags, "published_from": f"{source.name}:{source.version}"}
        model = Model(
            name=source.name,
            version=str(number),
            type=AssetTypes.MLFLOW_MODEL,
            path=str(folder),
            tags=tags,
            description=f"{source.name}:{source.version} published by amlops",
        )
        created = call(f"publishing {source.name} to Azure ML registry {self.name}", lambda: self.client.models.create_or_update(model))
        return Published(source, _version(created), best, self.name)
