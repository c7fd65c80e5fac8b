"""Find the MLflow model folder of `<name>:<version>` in the registry, the way amlops registers it.

The default tracking URI rule lives here (infra never imports amlops; amlops.paths and
amlops.registry call these functions): MLFLOW_TRACKING_URI, else the stack's
registry.trackingUri, else `sqlite:///<state>/mlflow.db` where state is AMLOPS_STATE_DIR or
`<repo>/.amlops`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
TRACKING_ENV = "MLFLOW_TRACKING_URI"
STATE_ENV = "AMLOPS_STATE_DIR"


class ModelSourceError(Exception):
    """The pinned model version cannot be found or downloaded; the message says how to fix it."""


@dataclass(frozen=True)
class ModelSource:
    """A registered version's files on local disk."""

    name: str
    version: int
    folder: Path


def state_dir() -> Path:
    return Path(os.environ.get(STATE_ENV) or REPO / ".amlops")


def tracking_uri(configured: str | None) -> str:
    """MLFLOW_TRACKING_URI, else the configured URI, else the embedded sqlite registry."""
    return os.environ.get(TRACKING_ENV) or configured or f"sqlite:///{state_dir() / 'mlflow.db'}"


def unsupported_tracking_uri(uri: str) -> str | None:
    """Why `uri` cannot be the registry (one line naming the supported paths), or None when it can.

    MLflow reads an Azure ML workspace's `azureml://` URI only through the azureml-mlflow plugin,
    whose newest release (1.62.0.post6) requires mlflow-skinny<=3.15: it cannot be installed beside
    mlflow 3.17. Azure ML's registry is reached through azure-ai-ml instead (`amlops publish`).
    """
    if uri.startswith("azureml:"):
        return (
            f"the tracking URI {uri} is an Azure ML workspace's, which MLflow reads only with azureml-mlflow "
            "(not installable beside mlflow 3.17); use sqlite:///, file: or an MLflow server's http(s):// URI, "
            "and reach Azure ML through an Azure ML registry: `amlops publish` and amlops:model.azuremlRegistry"
        )
    return None


def _not_found(name: str, version: int, uri: str, why: str) -> ModelSourceError:
    return ModelSourceError(
        f"model {name}:{version} is not in the registry at {uri} ({why}); "
        f"register it with `amlops model train` and `amlops model register`, "
        f"or pin a registered version in amlops:model.version"
    )


def cache_root() -> Path:
    """Where downloaded versions are kept: `<state>/models` (shared by `pulumi up` and amlops)."""
    return state_dir() / "models"


def cache_dir(uri: str, name: str, version: int, root: Path | None = None) -> Path:
    """The cache folder of `name:version` from the registry at `uri`.

    Version numbers are assigned per registry, so `chapter12-loans:1` of one registry and of
    another are different models: the folder is keyed by a digest of the tracking URI too.
    """
    registry = hashlib.sha256(uri.encode()).hexdigest()[:16]
    return (root or cache_root()) / registry / name / str(version)


def download(name: str, version: int, uri: str, root: Path | None = None) -> Path:
    """The MLflow model folder of `name:version` at `uri`, downloaded once per registry.

    Versions are immutable, so a cached folder is returned without asking the registry
    (which also saves MLflow's ≈ 1.4 s import). Raises ModelSourceError naming the fix.
    """
    dest = cache_dir(uri, name, version, root)
    if (dest / "MLmodel").is_file():
        return dest
    problem = unsupported_tracking_uri(uri)
    if problem:
        raise ModelSourceError(f"model {name}:{version}: {problem}")
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        # Opening a missing sqlite registry would create it (and run ~2 s of migrations).
        raise _not_found(name, version, uri, "no registry database yet")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for logger in ("alembic", "mlflow"):
        logging.getLogger(logger).setLevel(logging.WARNING)
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise _not_found(name, version, uri, exc.message.splitlines()[0]) from None

    def fetch(tmp: Path) -> Path:
        got = Path(mlflow.artifacts.download_artifacts(artifact_uri=mv.source, dst_path=str(tmp), tracking_uri=uri))
        if not (got / "MLmodel").is_file():
            raise ModelSourceError(f"model {name}:{version}: {mv.source} at {uri} holds no MLmodel file")
        return got

    return _fill(dest, version, fetch)


def keep(name: str, version: int, uri: str, folder: Path, root: Path | None = None) -> Path:
    """Cache `folder` as `name:version` of the registry at `uri`, for a version just registered from it: its
    artifacts are that folder's files as they are (amlops.registry logs them with MlflowClient.log_artifacts), so
    the copy is what `download` would fetch, and the version's first serve needs no MLflow import."""
    dest = cache_dir(uri, name, version, root)
    if (dest / "MLmodel").is_file():
        return dest
    return _fill(dest, version, lambda tmp: Path(shutil.copytree(folder, tmp / "model")))


def _fill(dest: Path, version: int, fill: Callable[[Path], Path]) -> Path:
    """Fill the cache folder `dest` at once: `fill` writes into a scratch folder beside it and returns the model
    folder there, which is renamed into place (a reader never sees half a folder)."""
    tmp = dest.with_name(f".{version}.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        got = fill(tmp)
        try:
            got.rename(dest)
        except OSError:  # another process cached it first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def azureml_registry_uri(registry: str) -> str:
    """The cache key of an Azure ML registry (its model references' prefix)."""
    return f"azureml://registries/{registry}"


def download_from_azureml_registry(
    registry: str, name: str, version: int, root: Path | None = None, client_factory: Callable[..., Any] | None = None,
) -> Path:
    """The MLflow model folder of `name:version` in Azure ML registry `registry`, downloaded once.

    `pulumi up` packages each online deployment's scoring code with its model's swagger, so a model
    referenced in an Azure ML registry is downloaded too, through azure-ai-ml's
    `MLClient(registry_name=...).models.download(name, version, download_path)`, which writes
    `<download_path>/<name>/<the asset folder>/...`:
      https://learn.microsoft.com/en-us/python/api/azure-ai-ml/azure.ai.ml.operations.modeloperations#azure-ai-ml-operations-modeloperations-download
    The client signs in with the one credential rule (infra/credential.py). Versions are immutable,
    so a cached folder is returned without asking the registry. Raises ModelSourceError naming the fix.
    """
    dest = cache_dir(azureml_registry_uri(registry), name, version, root)
    if (dest / "MLmodel").is_file():
        return dest
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    if client_factory is None:
        from azure.ai.ml import MLClient as client_factory  # noqa: N813
    from infra.credential import credential

    where = f"model {name}:{version} in Azure ML registry {registry}"

    def fetch(tmp: Path) -> Path:
        try:
            client_factory(credential=credential(), registry_name=registry).models.download(
                name=name, version=str(version), download_path=str(tmp)
            )
        except ResourceNotFoundError:
            raise ModelSourceError(
                f"{where} does not exist; publish it first (`amlops publish {name}:VERSION --stack STACK`, "
                "the model workflow's publish job)"
            ) from None
        except AzureError as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ModelSourceError(f"{where} could not be downloaded: {first}") from None
        found = sorted(p.parent for p in tmp.rglob("MLmodel"))
        if len(found) != 1:
            raise ModelSourceError(f"{where}: the download holds {len(found)} MLmodel files, expected one MLflow model folder")
        return found[0]

    return _fill(dest, version, fetch)


def cached_from_azureml_registry(registry: str, name: str, version: int, root: Path | None = None) -> Path | None:
    """The cached folder of `name:version` from `registry`, or None (no network: what an offline plan uses)."""
    dest = cache_dir(azureml_registry_uri(registry), name, version, root)
    return dest if (dest / "MLmodel").is_file() else None


def resolve(name: str, version: int, configured_uri: str | None = None, cache: Path | None = None) -> ModelSource:
    """`name:version` from the registry the tracking-URI rule picks, downloaded (cached per registry)."""
    return ModelSource(name, version, download(name, version, tracking_uri(configured_uri), cache))
