"""`amlops publish`: copy a registered model version to the Azure ML registry the stacks deploy from (CI's registry)."""

from __future__ import annotations

from typing import Optional

import typer

from amlops.cli.options import StackOption
from amlops.cli.output import out
from amlops.errors import UsageError


def publish(
    ref: str = typer.Argument(..., metavar="NAME:VERSION", help="A version in the MLflow registry (`amlops model list`)."),
    stack: str = StackOption,
    registry: Optional[str] = typer.Option(None, "--registry", help="The Azure ML registry (default: the stack's amlops:model.azuremlRegistry)."),
    if_better: bool = typer.Option(False, "--if-better", help="Publish only if more accurate than every version already in the Azure ML registry."),
) -> None:
    """Publish NAME:VERSION (MLflow folder and tags) to the stack's Azure ML registry as its next version."""
    from amlops.azure.registry import AzureModelRegistry
    from amlops.modelref import parse_model_ref
    from amlops.registry import Registry
    from amlops.stackfile import load_stack

    name, version = parse_model_ref(ref, "publish")
    assert version is not None  # version_required
    cfg = load_stack(stack)
    target = registry or cfg.model.azureml_registry
    if target is None:
        raise UsageError(
            f"stack {stack} names no Azure ML registry: set amlops:model.azuremlRegistry in stacks/Pulumi.{stack}.yaml "
            "or pass --registry NAME"
        )
    local = Registry(cfg.registry.tracking_uri)
    source = local.get(name, version)
    result = AzureModelRegistry(target).publish(source, local.download(name, version), if_better=if_better)
    out.print(result.describe())


def register(app: typer.Typer) -> None:
    app.command("publish")(publish)
