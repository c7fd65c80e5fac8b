"""`amlops model`: train the loans model, register versions, list and show them."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from amlops import data as data_mod
from amlops import training
from amlops.errors import UsageError
from amlops.paths import data_dir, state_dir
from amlops.registry import Registry, RegisterResult

DEFAULT_NAME = "chapter12-loans"
model_app = typer.Typer(help="Train, register and inspect model versions (MLflow registry).", no_args_is_help=True)
console = Console()


def trained_dir(name: str) -> Path:
    """Where `model train` leaves the candidate MLflow model folder."""
    return state_dir() / "trained" / name


def parse_ref(ref: str) -> tuple[str, int | None]:
    """`NAME` or `NAME:VERSION` → (name, version or None)."""
    name, sep, version = ref.partition(":")
    if not name:
        raise UsageError(f"expected NAME or NAME:VERSION, got {ref!r}")
    if not sep:
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise UsageError(f"version must be a whole number ≥ 1 in {ref!r}")
    return name, int(version)


def describe_registration(result: RegisterResult, name: str) -> str:
    """One line saying which version won and by how much."""
    prev = result.previous
    acc = f"{result.accuracy:.4f}" if result.accuracy is not None else "unknown"
    if result.registered is None:
        assert prev is not None
        return (
            f"not registered: the candidate's accuracy {acc} does not beat "
            f"{name}:{prev.version}'s {prev.accuracy:.4f} (Δ {result.delta:+.4f}); {name}:{prev.version} stays the latest"
        )
    new = result.registered
    if prev is None:
        return f"registered {name}:{new.version} (accuracy {acc}), the first version"
    if result.delta is None:
        return f"registered {name}:{new.version} (accuracy {acc}); {name}:{prev.version} had no accuracy to compare"
    return f"registered {name}:{new.version}: accuracy {acc} vs {name}:{prev.version}'s {prev.accuracy:.4f} (Δ {result.delta:+.4f})"


def train_model(rows: int, seed: int, name: str) -> tuple[Path, training.TrainingFacts]:
    """Generate the dataset (if asked size/seed), train, save the candidate folder."""
    generated = data_mod.generate_all(data_dir(), rows=rows, seed=seed)
    model, facts = training.train(generated.loans)
    out = training.save_model(model, facts, trained_dir(name))
    return out, facts


@model_app.command("train")
def train_cmd(
    rows: int = typer.Option(data_mod.DEFAULT_ROWS, help="Rows of synthetic loans to generate (the book: 500)."),
    seed: int = typer.Option(data_mod.DEFAULT_SEED, help="Seed of the data generator."),
    name: str = typer.Option(DEFAULT_NAME, help="Model name the candidate is trained for."),
) -> None:
    """Generate the loans data, fit LogisticRegression (80/20 split, seed 42), save an MLflow model."""
    out, facts = train_model(rows, seed, name)
    console.print(
        f"trained {name}: validation accuracy [bold]{facts.accuracy:.4f}[/bold] on {facts.validation_rows} rows "
        f"(scikit-learn {facts.framework_version}, {facts.serialization_format}); saved to {out}",
        highlight=False,
    )
    console.print(f"next: amlops model register --if-better", highlight=False)


@model_app.command("register")
def register_cmd(
    name: str = typer.Option(DEFAULT_NAME, help="Registered model name."),
    path: Optional[Path] = typer.Option(None, "--path", help="A pre-trained MLflow model folder (default: the last `model train`)."),
    if_better: bool = typer.Option(False, "--if-better", help="Register only if more accurate than the latest version."),
    accuracy: Optional[float] = typer.Option(None, help="Accuracy to record when the folder has none."),
    tag: list[str] = typer.Option([], "--tag", help="Extra tag KEY=VALUE (repeatable)."),
    trust: list[str] = typer.Option([], "--trust", metavar="TYPE", help="A type the skops file needs beyond skops' defaults, reviewed by you (repeatable; the command lists them)."),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI (default: sqlite under .amlops/)."),
) -> None:
    """Register a model version with accuracy, framework, dataset lineage, run id and its reviewed trusted types."""
    folder = path or trained_dir(name)
    if path is None and not (folder / "MLmodel").is_file():
        raise UsageError(f"no trained model at {folder}; run `amlops model train` first or pass --path DIR")
    extra = {}
    for item in tag:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag takes KEY=VALUE, got {item!r}")
        extra[key] = value
    result = Registry(tracking_uri).register(name, folder, if_better=if_better, accuracy=accuracy, extra_tags=extra, trust=trust)
    console.print(describe_registration(result, name), highlight=False)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if ms else "-"


@model_app.command("list")
def list_cmd(
    name: Optional[str] = typer.Argument(None, help="Only this model's versions."),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI."),
) -> None:
    """List registered models and their versions with accuracy and lineage."""
    reg = Registry(tracking_uri)
    names = [name] if name else reg.models()
    table = Table(title=f"registry: {reg.tracking_uri}")
    for col in ("model", "version", "accuracy", "dataset", "rows", "created (UTC)"):
        table.add_column(col)
    for n in names:
        versions = reg.versions(n)
        if name and not versions:
            reg.get(n)  # raises ModelNotFound with what is registered
        for v in versions:
            table.add_row(
                v.name, str(v.version), f"{v.accuracy:.4f}" if v.accuracy is not None else "-",
                v.tags.get("dataset_digest", "-")[:12], v.tags.get("dataset_rows", "-"), _when(v.created_ms),
            )
    console.print(table)


@model_app.command("show")
def show_cmd(
    ref: str = typer.Argument(..., metavar="NAME[:VERSION]", help="Model, optionally with a version (default: latest)."),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI."),
) -> None:
    """Show one version: accuracy, framework, lineage, run id, source and every tag."""
    name, version = parse_ref(ref)
    v = Registry(tracking_uri).get(name, version)
    table = Table(title=f"{v.name}:{v.version}", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    table.add_row("accuracy", f"{v.accuracy:.4f}" if v.accuracy is not None else "-")
    table.add_row("run id", v.run_id or "-")
    table.add_row("source", v.source)
    table.add_row("created (UTC)", _when(v.created_ms))
    for key in sorted(v.tags):
        if key not in ("accuracy", "run_id"):
            table.add_row(key, v.tags[key])
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
