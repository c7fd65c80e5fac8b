"""The main job (`make run`): every capability, stage by stage, on this machine."""

from __future__ import annotations

import time

from rich.console import Console

from amlops import data as data_mod
from amlops import training
from amlops.paths import data_dir
from amlops.quickstart_context import Context, Stage
from amlops.registry import Registry
from amlops.stackfile import load_stack


def stage_data(ctx: Context) -> None:
    """Generate the book's 500 loans and the 512,000 pending loans; read the second model's diabetes data."""
    ctx.data = data_mod.generate_all(data_dir())
    d = ctx.data
    ctx.console.print(
        f"loans.csv: {d.loans.rows} rows (sha256 {d.loans.short_digest}); "
        f"pending loans: {d.pending_csv.rows:,} rows as CSV and Parquet",
        highlight=False,
    )
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True)
    ctx.console.print(
        f"diabetes: {len(bunch.frame)} patients, {bunch.data.shape[1]} float columns and the disease progression "
        "(scikit-learn's bundled copy: the second model's data, no download)",
        highlight=False,
    )


def stage_train_register(ctx: Context) -> None:
    """Train both models, register each with the if-better gate, and write the two-model stack every later stage
    works through: `ctx.stack` rewritten by `amlops config migrate` (the loans model keeps its names) plus the
    diabetes regressor pinned at its registered version."""
    from amlops.multimodel import diabetes
    from amlops.multimodel.stack import write_two_model_stack
    from amlops.paths import state_dir, trained_dir
    from amlops.quickstart_context import Trained
    from amlops.stackfile import load_stack, stack_path

    assert ctx.data is not None
    model, facts = training.train(ctx.data.loans)
    folder = training.save_model(model, facts, trained_dir(ctx.cfg.model.name))
    ctx.console.print(
        f"trained LogisticRegression: validation accuracy {facts.accuracy:.4f} "
        f"({facts.train_rows}/{facts.validation_rows} split, seed {facts.split_seed}, {facts.serialization_format})",
        highlight=False,
    )
    result = ctx.registry.register(ctx.cfg.model.name, folder, if_better=True)
    ctx.console.print(result.describe(), highlight=False)
    winner = result.registered or result.best
    assert winner is not None
    ctx.model_name, ctx.model_version = winner.name, winner.version

    ridge, r2 = diabetes.train(trained_dir(diabetes.NAME))
    second = ctx.registry.register(diabetes.NAME, ridge, extra_tags={"r2": f"{r2:.4f}"})
    version = (second.registered or second.best).version
    ctx.console.print(f"trained Ridge on scikit-learn's diabetes data: held-out R² {r2:.4f}; {second.describe()}",
                      highlight=False, markup=False)
    path = write_two_model_stack(stack_path(ctx.stack), state_dir() / "quickstart" / "stacks" / f"Pulumi.{ctx.stack}.yaml", version)
    ctx.whole, ctx.stacks_dir = load_stack(ctx.stack, path.parent), path.parent
    ctx.models = {
        "loans": Trained("loans", ctx.model_name, ctx.model_version, folder),
        "diabetes": Trained("diabetes", diabetes.NAME, version, ridge),
    }
    ctx.console.print(
        f"{path}: {ctx.stack} rewritten by `amlops config migrate` (comments kept) with a second model: "
        + "; ".join(ctx.whole.choices()),
        highlight=False, markup=False, soft_wrap=True,
    )


IMPORTED_NAME = "chapter12-loans-pkl"
"""The registry name the quickstart gives the book's pickled model once imported."""
IMPORTED_SECOND = "diabetes-ridge-pkl"
"""The same for the regressor, pickled as a user's older training script would have left it."""


def stage_import(ctx: Context) -> None:
    """The book registers a joblib `model.pkl`: pickle each trained model the way it does, then bring it in with
    `amlops model import` (explicit trust, checked estimator, skops + signature, lineage); the loans model behind
    the if-better gate (the regressor records no accuracy, so it is registered as it is)."""
    import joblib
    import skops.io

    from amlops.importing import import_pickle
    from amlops.paths import data_dir, imported_dir

    for model, _ in ctx.each():
        estimator = skops.io.load(model.folder / "model.skops", trusted=[])
        pkl = data_dir() / f"{model.key}-model.pkl" if model.key != "loans" else data_dir() / "model.pkl"
        joblib.dump(estimator, pkl)
        loans = model.key == "loans"
        name = IMPORTED_NAME if loans else IMPORTED_SECOND
        # the loans table mixes long and double columns, named as the book does; the Ridge's ten are double, the default
        imported = import_pickle(pkl, imported_dir(name), trust_pickle=True,
                                 columns="income:double,credit_cards:long,age:long" if loans else None)
        ctx.console.print(
            f"imported {pkl.name} (sha256 {imported.sha256[:12]}, {imported.estimator}) with columns "
            + ", ".join(f"{c.name}:{c.type}" for c in imported.columns) + " as an MLflow skops model",
            highlight=False, markup=False,
        )
        if loans:
            accuracy = training.read_facts(model.folder).get("accuracy")
            result = ctx.registry.register(name, imported.folder, if_better=True, accuracy=float(accuracy) if accuracy else None)
        else:
            result = ctx.registry.register(name, imported.folder)
        ctx.console.print(result.describe(), highlight=False, markup=False)


def stages() -> list[tuple[str, Stage]]:
    """The stages in order; each capability adds its own here."""
    from amlops.batching.quickstart import quickstart_stage as batch_stage
    from amlops.modelmonitor.quickstart import quickstart_stage as monitor_stage
    from amlops.multimodel.quickstart import quickstart_stage as models_stage
    from amlops.plan import quickstart_stage as plan_stage
    from amlops.preview.quickstart import quickstart_stage as preview_stage
    from amlops.profiling.quickstart import quickstart_stage as profile_stage
    from amlops.serving.quickstart import quickstart_stage as serve_stage

    return [
        ("data", stage_data),
        ("train and register", stage_train_register),
        ("import: the book's model.pkl, and the regressor pickled the same way", stage_import),
        ("serve: the scoring script under the Azure ML inference server", serve_stage),
        ("monitor: drift and data quality of the collected traffic against the training data", monitor_stage),
        ("models: both endpoints of the two-model stack served at once through the CLI", models_stage),
        ("profile: stepped load and a size recommendation per endpoint", profile_stage),
        ("batch: the 512,000 pending loans and 442 diabetes patients, each with its endpoint's batch settings", batch_stage),
        ("plan: the desired state of the Pulumi program, offline", plan_stage),
        ("preview: policy check, promotion dry run, diff", preview_stage),
    ]


FOUNDATION = ("data", "train and register")
"""The stages every later one needs (what a test may run alone)."""


def run(stack: str = "dev", console: Console | None = None, only: tuple[str, ...] | None = None) -> Context:
    """Run every stage (or the `only` ones, by title) against `stack`'s settings; stops at the first failure."""
    console = console or Console()
    cfg = load_stack(stack)
    ctx = Context(stack=stack, cfg=cfg, registry=Registry(cfg.registry.tracking_uri), console=console)
    started = time.perf_counter()
    for title, stage in stages():
        if only is not None and title not in only:
            continue
        console.rule(f"[bold]{title}")
        t0 = time.perf_counter()
        stage(ctx)
        console.print(f"[dim]{title}: {time.perf_counter() - t0:.1f} s[/dim]")
    console.rule()
    latest = ", ".join(f"[bold]{m.ref}[/bold]" for m in ctx.models.values()) or f"[bold]{ctx.model_name}:{ctx.model_version}[/bold]"
    console.print(f"quickstart done in {time.perf_counter() - started:.1f} s: the versions served: {latest}", highlight=False)
    return ctx
