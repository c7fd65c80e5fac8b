"""The quickstart's serving stage: serve the registered model with the stack's data collector on, send the book's
payloads, fetch the swagger, send loans drawn from the training distribution and then the same loans with one
feature shifted (what the monitor stage judges), read the telemetry back, stop the server."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from amlops.deployments import choose_deployment
from amlops.modelmonitor.collected import root as collected_root
from amlops.serving.endpoint import LocalEndpoint
from amlops.serving.telemetry.reader import recent

BOOK_ROWS = [[2000, 2, 45], [9000, 1, 60]]
BOOK_RECORDS = [{"income": 2000, "credit_cards": 2, "age": 45}, {"income": 9000, "credit_cards": 1, "age": 60}]
MONITORED_ROWS = 300
"""Loans per traffic phase, ten per request: enough for Azure's histograms (Sturges: 10 bins) to tell a shift."""
TRAFFIC_SEED = 7
"""Another draw than the training data's (seed 42), from the same distribution."""
SHIFTED = "income"
"""The feature the shifted phase changes (doubled): the one the monitor must name."""


def quickstart_stage(ctx) -> None:
    """Serve ctx.model_name:ctx.model_version with the stack's deployment settings and exercise it over HTTP."""
    import httpx

    model_dir = ctx.registry.download(ctx.model_name, ctx.model_version)
    ref = f"{ctx.model_name}:{ctx.model_version}"
    t0 = time.perf_counter()
    deployment = ctx.cfg.online.deployments[choose_deployment(ctx.cfg)]
    monitor = ctx.cfg.model.monitor
    with LocalEndpoint(ctx.cfg, model_dir, model_ref=ref, data_collector=deployment.data_collector,
                       target_column=monitor.target_column if monitor else None) as ep:
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
            if ep.collector is not None:
                _monitored_traffic(ctx, ep, client)
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


def _monitored_traffic(ctx, ep, client) -> None:
    """Two phases of collected traffic, a whole second apart (records carry whole seconds): loans from the training
    distribution, then the same loans with SHIFTED doubled; their time windows go to ctx.facts for the monitor stage."""
    from amlops import data as data_mod

    loans = data_mod.generate_loans(MONITORED_ROWS, TRAFFIC_SEED)[list(data_mod.FEATURES)]
    windows = {}
    for phase, frame in (("in-distribution", loans), (f"{SHIFTED} doubled", loans.assign(**{SHIFTED: loans[SHIFTED] * 2}))):
        time.sleep(1.05)
        start = datetime.now(timezone.utc).replace(microsecond=0)
        for at in range(0, len(frame), 10):
            client.post(ep.scoring_url, json={"data": frame.iloc[at : at + 10].to_dict("records")}).raise_for_status()
        windows[phase] = start
    logged = {c: ep.collector.received[c] for c in ep.collector.collections}
    expected = ep.collector.wait_for(dict.fromkeys(ep.collector.collections, logged.get("model_inputs", 0)), timeout=30)
    time.sleep(1.05)
    windows["end"] = datetime.now(timezone.utc).replace(microsecond=0)
    ctx.facts["monitor_windows"] = windows
    ctx.console.print(
        f"  data collection: {MONITORED_ROWS} loans from the training distribution, then the same with {SHIFTED} doubled; "
        f"{', '.join(f'{c} {n:,} records' for c, n in ep.collector.received.items())} logged (one a request)"
        f"{'' if expected else ' (not all outputs arrived)'}",
        highlight=False,
    )
    ctx.console.print(f"  collected records: {collected_root()}", highlight=False)


def _short(body: object) -> str:
    text = json.dumps(body)
    return text if len(text) <= 90 else text[:87] + "..."
