"""The quickstart's many-models stage: a second model of another kind (a Ridge regressor) joins the loans
model in one stack (`amlops config migrate` plus a `models.diabetes` entry); both online endpoints are
served at once, each on its own port with its own key, and each answers with its own model."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

from amlops.multimodel import diabetes
from amlops.multimodel.stack import write_two_model_stack
from amlops.paths import state_dir, trained_dir
from amlops.serving.endpoint import LocalEndpoint
from amlops.stackfile import stack_path

LOANS_ROWS = [[2000, 2, 45], [9000, 1, 60]]


def quickstart_stage(ctx) -> None:
    """Register the regressor, write the two-model stack, serve both endpoints and call each."""
    import httpx

    folder, r2 = diabetes.train(trained_dir(diabetes.NAME))
    result = ctx.registry.register(diabetes.NAME, folder, extra_tags={"r2": f"{r2:.4f}"})
    version = (result.registered or result.best).version
    ctx.console.print(f"trained Ridge on scikit-learn's diabetes data: held-out R² {r2:.4f}; {result.describe()}", highlight=False, markup=False)
    path = write_two_model_stack(stack_path(ctx.stack), state_dir() / "quickstart" / "stacks" / f"Pulumi.{ctx.stack}.yaml", version)
    from amlops.stackfile import load_stack

    whole = load_stack(ctx.stack, path.parent)
    ctx.console.print(
        f"{path}: {ctx.stack} rewritten by `amlops config migrate` (comments kept) with a second model: "
        + "; ".join(whole.choices()),
        highlight=False, markup=False,
    )
    versions = {"loans": (ctx.model_name, ctx.model_version), "diabetes": (diabetes.NAME, version)}
    bodies = {"loans": {"data": LOANS_ROWS}, "diabetes": {"data": json.loads((folder / "input_example.json").read_text())["data"][:2]}}
    t0 = time.perf_counter()
    with ExitStack() as running:
        served = {}
        for key, (name, ver) in versions.items():
            cfg = whole.narrow(key)
            served[key] = running.enter_context(LocalEndpoint(cfg, ctx.registry.download(name, ver), model_ref=f"{name}:{ver}"))
        ctx.console.print(f"serving both endpoints at once in {time.perf_counter() - t0:.1f} s:", highlight=False)
        answers = {}
        for key, ep in served.items():
            r = httpx.post(ep.scoring_url, json=bodies[key], headers=ep.headers, timeout=30)
            answers[key] = r.json()
            other = next(e for k, e in served.items() if k != key)
            refused = httpx.post(ep.scoring_url, json=bodies[key], headers=other.headers, timeout=30).status_code
            ctx.console.print(
                f"  {key:<9} {ep.model_ref:<22} {ep.scoring_url}  → {r.status_code} {json.dumps(answers[key])[:80]}"
                f"  (the other endpoint's key: {refused})",
                highlight=False, markup=False,
            )
    ctx.facts["many_models"] = {"answers": answers, "stack": str(path), "choices": whole.choices()}
    ctx.console.print(
        f"  each endpoint has its own keys and telemetry under .amlops/endpoints/<endpoint>/; "
        f"the same with the CLI: AMLOPS_STACKS_DIR={path.parent} amlops serve --stack {ctx.stack}",
        highlight=False, markup=False,
    )
