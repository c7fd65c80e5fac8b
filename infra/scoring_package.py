"""Package the scoring code for one model: scoring/ as it is, plus the swagger files generated from the
model's signature (infra/swagger.py). The result is the app root the inference server runs
(AML_APP_ROOT): what `amlops serve` serves and what the Pulumi program uploads as the scoring code
asset of every online deployment, so the deployed /swagger.json is the one served locally.

The inference server answers /swagger.json (?version=2, 3, 3.1) with `swagger.json` (else `swagger2.json`),
`swagger3.json` or `swagger3.1.json` from its app root as they are, and generates a generic spec only when the
file is missing (`Swagger2Builder._read_user_swagger` and `_SwaggerBuilder._read_swagger` in
azureml_inference_server_http/server/swagger.py, 1.4.1). AML_APP_ROOT is the "root directory for the app"
(https://github.com/microsoft/azureml-inference-server/blob/main/docs/AzureMLInferenceServer.md); on a managed
online endpoint the code asset's folder holds the entry script (`/var/azureml-app/<code folder>/score.py` in the
startup log of https://learn.microsoft.com/azure/machine-learning/how-to-inference-server-http).

Packages are content-addressed under `<state>/packages/<key>/`, the key covering scoring/'s files,
the model folder, the row limit, the title and the generator's own source, so a package is built
once and never changes in place.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from infra import swagger, swagger_multi
from infra.config import ModelConfig, RequestSettings
from infra.content import content_hash
from infra.model_source import state_dir
from infra.multi_model import MANIFEST

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", *swagger.FILES)
"""Not copied from scoring/: caches, and stale spec files (the package's are generated)."""
DEFAULT_MAX_ROWS: int = RequestSettings.model_fields["max_rows"].default
"""A deployment's maxRows when the stack does not set it: its package needs no `rows<N>` label."""


def package_key(model_dir: Path, *, max_rows: int, title: str, scoring_dir: Path) -> str:
    """The package's content address (16 hex digits)."""
    parts = (
        content_hash(scoring_dir), content_hash(model_dir), str(max_rows), title,
        hashlib.sha256(Path(swagger.__file__).read_bytes()).hexdigest(),
        hashlib.sha256(Path(swagger_multi.__file__).read_bytes()).hexdigest(),
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def package_dir(model_dir: Path, *, max_rows: int, title: str, scoring_dir: Path) -> Path:
    """Where the package for these inputs is (or will be) built: known without loading the model."""
    return state_dir() / "packages" / package_key(model_dir, max_rows=max_rows, title=title, scoring_dir=scoring_dir)


def is_built(dest: Path) -> bool:
    return all((dest / name).is_file() for name in swagger.FILES)


def package_scoring(model_dir: Path, *, max_rows: int, title: str, scoring_dir: Path) -> Path:
    """The app root for `model_dir`: a copy of `scoring_dir` with swagger.json, swagger3.json and swagger3.1.json
    (a multiModel group's combined folder, holding multimodel.json, gets its members' specs routed by "model":
    infra/swagger_multi.py).

    Raises ScoringPackageError when scoring_dir has no score.py or score.py cannot load the model."""
    dest = package_dir(model_dir, max_rows=max_rows, title=title, scoring_dir=scoring_dir)
    if is_built(dest):
        return dest
    if (model_dir / MANIFEST).is_file():
        specs = swagger_multi.generate(swagger_multi.members_of(model_dir), max_rows=max_rows, title=title, scoring_dir=scoring_dir)
    else:
        specs = swagger.generate(model_dir, max_rows=max_rows, title=title, scoring_dir=scoring_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".package-", dir=dest.parent))
    try:
        shutil.copytree(scoring_dir, staging / "app", ignore=IGNORED)
        swagger.write(staging / "app", specs)
        try:
            (staging / "app").rename(dest)
        except OSError:  # built meanwhile by another process: same key, same content
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


@dataclass(frozen=True)
class ScoringCode:
    """One scoring code asset version to upload and the online deployments that run it."""

    label: str
    """"" for the stack's pinned model version at the default maxRows; else `v<N>`, `rows<M>` or `v<N>-rows<M>`."""
    folder: Path
    """The package (scoring/ with the model's specs), or scoring/ itself when the model is not on this machine."""
    deployments: tuple[str, ...]


def _label(version: int, max_rows: int, pinned: int) -> str:
    parts = ([f"v{version}"] if version != pinned else []) + ([f"rows{max_rows}"] if max_rows != DEFAULT_MAX_ROWS else [])
    return "-".join(parts)


def scoring_codes(model: ModelConfig, model_folders: Mapping[int, Path | None], scoring_dir: Path) -> tuple[list[ScoringCode], list[str]]:
    """The scoring code each online deployment of `model` runs: scoring/ packaged exactly as `amlops serve` packages it
    for the deployment's model version and maxRows (one version per distinct package, sorted by label), and
    a warning for each model version whose folder is None (not on this machine), whose deployments get
    plain scoring/ and would serve the inference server's generic swagger."""
    groups: dict[Path, list[tuple[str, str]]] = {}
    unpackaged: dict[int, list[str]] = {}
    for dep, d in sorted((model.online.deployments if model.online else {}).items()):
        version, max_rows = model.deployment_model_version(dep), d.request_settings.max_rows
        model_dir = model_folders[version]
        if model_dir is None:
            folder = scoring_dir
            unpackaged.setdefault(version, []).append(dep)
        else:
            folder = package_scoring(model_dir, max_rows=max_rows, title=f"{model.name}:{version}", scoring_dir=scoring_dir)
        groups.setdefault(folder, []).append((_label(version, max_rows, model.version), dep))
    if not groups:  # no online deployment: scoring/ as it is (the endpoint refuses to be declared without one)
        groups[scoring_dir] = []
    codes = sorted(
        (ScoringCode(min((label for label, _ in members), default=""), folder, tuple(dep for _, dep in members)) for folder, members in groups.items()),
        key=lambda c: c.label,
    )
    where = f"referenced in the Azure ML registry {model.azureml_registry}, not downloaded" if model.azureml_registry else "unresolved"
    warnings = [
        f"online deployment{'s' if len(deps) > 1 else ''} {', '.join(deps)}: the scoring code is planned without "
        f"{', '.join(swagger.FILES)}, as model {model.name}:{version} is {where}; Azure would serve the inference "
        "server's generic /swagger.json, not the one `amlops serve` serves"
        for version, deps in sorted(unpackaged.items())
    ]
    return codes, warnings
