"""Which model folder a batch job loads: the stack's pinned version, a NAME:VERSION override, or a local folder."""

from __future__ import annotations

from pathlib import Path

from amlops.errors import UsageError
from amlops.modelref import parse_model_ref
from infra.config import StackConfig


def resolve_model(cfg: StackConfig, ref: str | None = None, folder: Path | None = None) -> tuple[Path, str]:
    """The MLflow model folder for the job and how to name it: `folder` as is, else the registry's `ref`
    (NAME:VERSION) or the stack's pin (model.name, model.version), downloaded into the local cache."""
    if folder is not None:
        if not (folder / "MLmodel").is_file():
            raise UsageError(f"--model-dir {folder}: not an MLflow model folder (no MLmodel file)")
        return folder, str(folder)
    from amlops.registry import Registry

    name, version = cfg.model.name, cfg.model.version
    if ref is not None:
        name, parsed = parse_model_ref(ref, "--model")
        assert parsed is not None  # a version is required
        version = parsed
    return Registry(cfg.registry.tracking_uri).download(name, version), f"{name}:{version}"
