"""The quickstart's serving stage: serve the registered model, send the book's payloads,
fetch the swagger, read the telemetry back, stop the server."""

from __future__ import annotations

import json
import time

from amlops.serving.endpoint import LocalEndpoint
from amlops.serving.telemetry.reader import recent

BOOK_ROWS = [[2000, 2, 45], [9000, 1, 60]]
BOOK_RECORDS = [{"income": 2000, "credit_cards": 2, "age": 45}, {"income": 9000, "credit_cards": 1, "age": 60}]


def quickstart_stage(ctx) -> None:
    """Serve ctx.model_name:ctx.model_version with the stack's deployment settings and exercise it over HTTP."""
    import httpx

    model_dir = ctx.registry.download(ctx.model_name, ctx.model_version)
    ref = f"{ctx.model_name}:{ctx.model_version}"
    t0 = time.perf_counter()
    with LocalEndpoint(ctx.cfg, model_dir, model_ref=ref) as ep:
        ctx.console.print(
            f"serving {ref} ({ep.endpoint_name}/{ep.deployment}, {ep.workers} workers) at {ep.scoring_url}, "
            f"ready in {time.perf_counter() - t0:.1f} s",
            highlight=False,
        )
        with httpx.Client(headers=ep.headers, timeout=30) as client:
            for label, payload in (
                ("arrays, predict", {"data": BOOK_ROWS}),
                ("records, predict", {"data": BOOK_RECORDS, "method": "predict"}),
                ("arrays, predict_proba", {"data": BOOK_ROWS, "method": "predict_proba"}),
                ("records, predict_proba", {"data": BOOK_RECORDS, "method": "predict_proba"}),
                ("Power BI's shape", {"Inputs": {"data": BOOK_RECORDS}, "GlobalParameters": {"method": "predict"}}),
                ("a missing column", {"data": [{"income": 2000, "credit_cards": 2}]}),
            ):
                r = client.post(ep.scoring_url, json=payload)
                ctx.console.print(f"  {label:<24} → {r.status_code} {_short(r.json())}  ({r.elapsed.total_seconds() * 1000:.1f} ms)", highlight=False)
            r = httpx.post(ep.scoring_url, json={"data": BOOK_ROWS}, timeout=30)
            ctx.console.print(f"  {'without a key':<24} → {r.status_code} {r.json()['message']}", highlight=False)
            n, started = 200, time.perf_counter()
            for _ in range(n):
                client.post(ep.scoring_url, json={"data": BOOK_ROWS[:1]}).raise_for_status()
            per = (time.perf_counter() - started) / n * 1000
            ctx.console.print(f"  {n} sequential single-row requests: {per:.2f} ms each, {1000 / per:,.0f} req/s from one client", highlight=False)
            v2 = client.get(ep.swagger_url).json()
            v3 = client.get(ep.swagger_url, params={"version": "3"}).json()
            ctx.console.print(
                f"  swagger: {v2['swagger']} ({len(v2['paths'])} paths, definitions {', '.join(v2['definitions'])}); "
                f"OpenAPI {v3['openapi']} at ?version=3",
                highlight=False,
            )
    if ep.telemetry_path is not None:
        spans, logs = recent(ep.telemetry_path, 1000)
        statuses: dict[int, int] = {}
        for s in spans:
            code = (s.get("attributes") or {}).get("http.response.status_code", 0)
            statuses[code] = statuses.get(code, 0) + 1
        ctx.console.print(
            f"  telemetry: {len(spans)} request spans on record by status {dict(sorted(statuses.items()))}, "
            f"{len(logs)} log lines ({ep.telemetry_path}); `amlops endpoint logs --stack {ctx.stack}` shows them",
            highlight=False,
        )
    ctx.console.print("  server stopped", highlight=False)


def _short(body: object) -> str:
    text = json.dumps(body)
    return text if len(text) <= 90 else text[:87] + "..."
