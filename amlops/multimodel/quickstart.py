"""The quickstart's many-models stage: a second model of another kind (a Ridge regressor) joins the loans
model in one stack (`amlops config migrate` plus a `models.diabetes` entry); both online endpoints are
served at once, each on its own port with its own key, and each answers with its own model."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

from amlops.serving.endpoint import LocalEndpoint

LOANS_ROWS = [[2000, 2, 45], [9000, 1, 60]]


def quickstart_stage(ctx) -> None:
    """Serve both endpoints of the two-model stack the train stage wrote, at once, and call each."""
    import httpx

    whole, path = ctx.whole, ctx.stacks_dir / f"Pulumi.{ctx.stack}.yaml"
    versions = {key: (m.name, m.version) for key, m in ctx.models.items()}
    folder = ctx.models["diabetes"].folder
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
