"""A copy of the parts of a checkout the Pulumi program reads, so plan tests never see edits made while they run."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_tree(src: Path, dest: Path) -> Path:
    """infra/, stacks/, scoring/, batch/ and Pulumi.yaml, without caches."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("infra", "stacks", "scoring", "batch"):
        shutil.copytree(src / part, dest / part, ignore=ignore)
    shutil.copy2(src / "Pulumi.yaml", dest / "Pulumi.yaml")
    return dest


AZUREML_REGISTRY_LINE = "    azuremlRegistry: loansreg\n"


def with_local_models(tree: Path) -> Path:
    """The committed stacks name CI's Azure ML registry, which an offline plan resolves from its download
    cache only; a plan test of the local MLflow path (ModelVersion resources, scoring packaged from a
    locally registered model) takes the stacks without it."""
    for stack in (tree / "stacks").glob("Pulumi.*.yaml"):
        stack.write_text(stack.read_text().replace(AZUREML_REGISTRY_LINE, ""))
    return tree
