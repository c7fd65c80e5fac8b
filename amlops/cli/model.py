"""`amlops model`: train the loans model, register or import versions, list and show them."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from amlops import data as data_mod  # its defaults only: numpy, pandas and pyarrow load where it generates data
from amlops.cli.output import out as console
from amlops.errors import UsageError
from amlops.modelref import parse_model_ref
from amlops.paths import data_dir, imported_dir, trained_dir

if TYPE_CHECKING:
    from amlops import training

DEFAULT_NAME = "chapter12-loans"
model_app = typer.Typer(help="Train, register and inspect model versions (MLflow registry).", no_args_is_help=True)


def train_model(rows: int, seed: int, name: str) -> tuple[Path, training.TrainingFacts]:
    """Generate the dataset (if asked size/seed), train, save the candidate folder."""
    from amlops import training

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
        f"trained {name}: validation accuracy {facts.accuracy:.4f} on {facts.validation_rows} rows "
        f"(scikit-learn {facts.framework_version}, {facts.serialization_format}); saved to {out}",
        soft_wrap=True,
    )
    console.print("next: amlops model register --if-better")


@model_app.command("register")
def register_cmd(
    name: str = typer.Option(DEFAULT_NAME, help="Registered model name."),
    path: Optional[Path] = typer.Option(None, "--path", help="A pre-trained MLflow model folder (default: the last `model train`)."),
    if_better: bool = typer.Option(False, "--if-better", help="Register only if more accurate than the best registered version (the message names it)."),
    accuracy: Optional[float] = typer.Option(None, help="Accuracy to record when the folder has none."),
    tag: list[str] = typer.Option([], "--tag", help="Extra tag KEY=VALUE (repeatable)."),
    trust: list[str] = typer.Option([], "--trust", metavar="TYPE", help="A type the skops file needs beyond skops' defaults, reviewed by you (repeatable; the command lists them)."),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI (default: sqlite under .amlops/)."),
) -> None:
    """Register a model version with accuracy, framework, dataset lineage, run id and its reviewed trusted types."""
    folder = path or trained_dir(name)
    if path is None and not (folder / "MLmodel").is_file():
        raise UsageError(f"no trained model at {folder}; run `amlops model train` first or pass --path DIR")
    from amlops.registry import Registry

    extra = {}
    for item in tag:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag takes KEY=VALUE, got {item!r}")
        extra[key] = value
    result = Registry(tracking_uri).register(name, folder, if_better=if_better, accuracy=accuracy, extra_tags=extra, trust=trust)
    console.print(result.describe())


@model_app.command("import")
def import_cmd(
    path: Path = typer.Argument(..., help="A joblib or pickle file holding a fitted scikit-learn estimator (the book's model.pkl)."),
    name: str = typer.Option(..., "--name", help="Registered model name."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="You trust the file: loading a pickle runs the code it contains."),
    columns: Optional[str] = typer.Option(None, "--columns", help="NAME[:TYPE],... in training order, when the model has no feature names or a column is not double (TYPE: double, float, long, integer, boolean, string)."),
    trust: list[str] = typer.Option([], "--trust", metavar="TYPE", help="A type the model needs beyond skops' defaults, reviewed by you (repeatable; the command lists them)."),
    accuracy: Optional[float] = typer.Option(None, help="Accuracy to record (the file carries none)."),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI (default: sqlite under .amlops/)."),
) -> None:
    """Import a joblib/pickle model: check it, save it as an MLflow skops model with a signature, register it with its lineage."""
    from amlops.importing import import_pickle
    from amlops.registry import Registry

    imported = import_pickle(path, imported_dir(name), trust_pickle=trust_pickle, trust=trust, columns=columns)
    cols = ", ".join(f"{c.name} ({c.type})" for c in imported.columns)
    console.print(
        f"imported {path} (sha256 {imported.sha256[:12]}…, {imported.estimator}) as an MLflow skops model; columns: {cols}",
        soft_wrap=True,
    )
    result = Registry(tracking_uri).register(name, imported.folder, accuracy=accuracy, trust=imported.trusted)
    console.print(result.describe())


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if ms else "-"


@model_app.command("list")
def list_cmd(
    name: Optional[str] = typer.Argument(None, help="Only this model's versions."),
    tracking_uri: Optional[str] = typer.Option(None, envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI."),
) -> None:
    """List registered models and their versions with accuracy and lineage."""
    from rich.table import Table

    from amlops.registry import Registry

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
    from rich.table import Table

    from amlops.registry import Registry

    name, version = parse_model_ref(ref, "model show", version_required=False)
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
