"""The model registry: MLflow's, embedded (sqlite under the state folder) or at any tracking URI.

Registration records what the book's `Model.register` did (tags, accuracy, framework and
version, dataset lineage, run id) and adds the if-better gate. Local registrations are
serialized by a file lock so that the gate and the new version are decided together.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from filelock import FileLock

from amlops import modelfile
from amlops.errors import ModelNotFound, RegistryError, UsageError
from amlops.paths import state_dir
from infra import model_source
from infra.content import content_hash

EXPERIMENT = "amlops-loans"
_QUIET_LOGGERS = ("alembic", "mlflow.store.db.utils", "mlflow.tracking", "mlflow.store")


@dataclass(frozen=True)
class ModelVersion:
    """One registered version, as the CLI shows it."""

    name: str
    version: int
    accuracy: float | None
    run_id: str | None
    source: str
    tags: dict[str, str]
    created_ms: int


@dataclass(frozen=True)
class RegisterResult:
    """What `register` decided: the new version, or why nothing was registered."""

    registered: ModelVersion | None
    best: ModelVersion | None
    """The version compared with: the most accurate one registered before (see Registry.best); None for a first version."""
    accuracy: float | None

    @property
    def delta(self) -> float | None:
        if self.best is None or self.best.accuracy is None or self.accuracy is None:
            return None
        return self.accuracy - self.best.accuracy

    def describe(self) -> str:
        """One line: which version won, against which registered version, and by how much."""
        acc = f"{self.accuracy:.4f}" if self.accuracy is not None else "unknown"
        best, new = self.best, self.registered
        if new is None:
            assert best is not None and best.accuracy is not None
            return (
                f"not registered: the candidate's accuracy {acc} does not beat {best.name}:{best.version}'s "
                f"{best.accuracy:.4f}, the best registered version (Δ {self.delta:+.4f})"
            )
        if best is None:
            return f"registered {new.name}:{new.version} (accuracy {acc}), the first version"
        if self.delta is None:
            return f"registered {new.name}:{new.version} (accuracy {acc}); no registered version of {new.name} records an accuracy to compare with"
        return (
            f"registered {new.name}:{new.version}: accuracy {acc} vs {best.name}:{best.version}'s {best.accuracy:.4f}, "
            f"the best registered version (Δ {self.delta:+.4f})"
        )


def best_version(versions: list[ModelVersion]) -> ModelVersion | None:
    """The most accurate of `versions` (the earliest on a tie); the latest when none records accuracy; None if empty.

    The one rule for "the best registered version", in the local registry and in an Azure ML registry alike.
    """
    scored = [v for v in versions if v.accuracy is not None]
    if scored:
        return max(scored, key=lambda v: (v.accuracy, -v.version))
    return max(versions, key=lambda v: v.version, default=None)


def default_tracking_uri(configured: str | None = None) -> str:
    """MLFLOW_TRACKING_URI, else the stack's registry.trackingUri, else sqlite under .amlops/.

    The same rule `pulumi up` uses (infra/model_source.py); the state folder is created here.
    """
    state_dir()
    return model_source.tracking_uri(configured)


def pick_version(versions: list["ModelVersion"], name: str, version: int | None, where: str = "") -> "ModelVersion":
    """`version` among `versions` (non-empty, oldest first), the latest when None; ModelNotFound lists what exists."""
    if version is None:
        return versions[-1]
    for v in versions:
        if v.version == version:
            return v
    have = ", ".join(str(v.version) for v in versions)
    raise ModelNotFound(f"{name} has no version {version}{where} (versions: {have})")


class Registry:
    """A model registry at one MLflow tracking URI."""

    def __init__(self, tracking_uri: str | None = None):
        self.tracking_uri = tracking_uri or default_tracking_uri()
        problem = model_source.unsupported_tracking_uri(self.tracking_uri)
        if problem:
            raise UsageError(problem)
        self._client = None

    @property
    def is_local(self) -> bool:
        return self.tracking_uri.startswith("sqlite:///") or self.tracking_uri.startswith("file:")

    @property
    def client(self):
        if self._client is None:
            for name in _QUIET_LOGGERS:
                logging.getLogger(name).setLevel(logging.WARNING)
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialize gate + registration for the embedded store; a server orders its own."""
        if not self.is_local:
            yield
            return
        with FileLock(str(state_dir() / "registry.lock"), timeout=120):
            yield

    def _experiment_id(self) -> str:
        exp = self.client.get_experiment_by_name(EXPERIMENT)
        if exp is not None:
            return exp.experiment_id
        location = None
        if self.is_local:  # keep artifacts under the state folder, not ./mlruns
            location = (state_dir() / "mlartifacts").as_uri()
        try:
            return self.client.create_experiment(EXPERIMENT, artifact_location=location)
        except Exception:  # created meanwhile by another process
            exp = self.client.get_experiment_by_name(EXPERIMENT)
            if exp is None:
                raise
            return exp.experiment_id

    # --- reading -------------------------------------------------------------

    def _to_version(self, mv) -> ModelVersion:
        tags = dict(mv.tags or {})
        acc = tags.get("accuracy")
        return ModelVersion(
            name=mv.name,
            version=int(mv.version),
            accuracy=float(acc) if acc not in (None, "") else None,
            run_id=mv.run_id or None,
            source=mv.source,
            tags=tags,
            created_ms=int(mv.creation_timestamp or 0),
        )

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of `name`, oldest first (empty if the model is not registered)."""
        found = self.client.search_model_versions(f"name = '{name}'", max_results=10000)
        return sorted((self._to_version(mv) for mv in found), key=lambda v: v.version)

    def models(self) -> list[str]:
        """The registered model names."""
        return sorted(rm.name for rm in self.client.search_registered_models(max_results=1000))

    def best(self, name: str) -> ModelVersion | None:
        """The version `--if-better` compares with (see best_version); None if `name` has none."""
        return best_version(self.versions(name))

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """One version (the latest when version is None); raises ModelNotFound listing what exists."""
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.models()) or "none"
            raise ModelNotFound(
                f"model {name!r} is not registered at {self.tracking_uri} (registered: {known}); "
                "run `amlops model train` and `amlops model register` first"
            )
        return pick_version(versions, name, version)

    def download(self, name: str, version: int) -> Path:
        """The version's MLflow model folder on local disk, cached per registry.

        One implementation with `pulumi up` (infra/model_source.py `download`): both read the
        same cache, keyed by tracking URI, name and version.
        """
        try:
            return model_source.download(name, version, self.tracking_uri, model_source.cache_root())
        except model_source.ModelSourceError as exc:
            self.get(name, version)  # raises ModelNotFound listing what exists, when it is missing
            raise RegistryError(str(exc)) from None

    # --- writing -------------------------------------------------------------

    def register(
        self,
        name: str,
        model_dir: Path,
        *,
        if_better: bool = False,
        accuracy: float | None = None,
        extra_tags: dict[str, str] | None = None,
        trust: Iterable[str] = (),
    ) -> RegisterResult:
        """Register the MLflow model folder `model_dir` as a new version of `name`.

        Accuracy and lineage come from the folder's MLmodel metadata (written by
        `amlops model train`); `accuracy` overrides it. With `if_better`, a version is
        created only when its accuracy beats the best registered version's (not the latest:
        after a worse version, a retrain equal to the best one is no improvement).
        `trust` must name every type the skops file needs beyond skops' defaults (a reviewed
        setting); the version's MLmodel records exactly those as skops_trusted_types, which the
        scoring and batch scripts load with.
        """
        if not (model_dir / "MLmodel").is_file():
            raise UsageError(f"{model_dir}: not an MLflow model folder (no MLmodel file)")
        trusted = modelfile.check_trust(model_dir, trust)
        staging = None
        if modelfile.recorded_trust(model_dir) != trusted:
            # Record the reviewed list in a copy; the caller's folder stays as it is. The copy
            # lives until this call returns (the TemporaryDirectory is then collected).
            staging = tempfile.TemporaryDirectory(prefix="amlops-register-")
            shutil.copytree(model_dir, Path(staging.name) / "model")
            model_dir = Path(staging.name) / "model"
            modelfile.record_trust(model_dir, trusted)
        from amlops.training import read_facts  # with numpy and pandas: only registering needs them

        facts = read_facts(model_dir)
        if accuracy is None and "accuracy" in facts:
            accuracy = float(facts["accuracy"])
        if if_better and accuracy is None:
            raise UsageError(
                f"{model_dir}: no accuracy recorded in MLmodel metadata; pass --accuracy to use --if-better"
            )
        tags = {k: str(v) for k, v in facts.items()}
        if accuracy is not None:
            tags["accuracy"] = f"{accuracy:.6f}"
        tags["model_digest"] = content_hash(model_dir)  # the hash the model's upload path uses in infra
        tags[modelfile.TRUST_KEY] = ",".join(trusted)
        tags.update(extra_tags or {})
        with self._lock():
            best = self.best(name)
            if if_better and best is not None and best.accuracy is not None:
                if not accuracy > best.accuracy:  # type: ignore[operator]
                    return RegisterResult(None, best, accuracy)
            version = self._create_version(name, model_dir, tags, accuracy)
        # the version's artifacts are model_dir's files: cached now, its first serve or download skips MLflow
        model_source.keep(name, version.version, self.tracking_uri, model_dir, model_source.cache_root())
        return RegisterResult(version, best, accuracy)

    def _create_version(self, name: str, model_dir: Path, tags: dict[str, str], accuracy: float | None) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        client = self.client
        run = client.create_run(self._experiment_id(), run_name=f"register-{name}", tags={"amlops.model": name})
        run_id = run.info.run_id
        try:
            if accuracy is not None:
                client.log_metric(run_id, "accuracy", accuracy)
            for key in ("dataset_digest", "dataset_rows", "dataset_path", "framework_version", "split_seed"):
                if key in tags:
                    client.log_param(run_id, key, tags[key])
            client.log_artifacts(run_id, str(model_dir), artifact_path="model")
            client.set_terminated(run_id)
        except Exception:
            client.set_terminated(run_id, status="FAILED")
            raise
        try:
            client.create_registered_model(name, description=f"{name}, registered by amlops.")
        except MlflowException as exc:
            if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
                raise
        tags = {**tags, "run_id": run_id}
        mv = client.create_model_version(
            name, source=f"{run.info.artifact_uri}/model", run_id=run_id, tags=tags
        )
        return self._to_version(client.get_model_version(name, mv.version))
