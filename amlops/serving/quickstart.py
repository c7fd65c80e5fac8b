"""The quickstart's serving stage: serve each model of the two-model stack in turn with its deployment's settings
and data collector, send it its payloads (the book's for the loans model, its input example's for the diabetes
regressor), fetch its swagger, send rows drawn from its training distribution and then the same rows with one
feature shifted (what the monitor stage judges), read its telemetry back, stop its server."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from amlops.deployments import choose_deployment
from amlops.modelmonitor.collected import root as collected_root
from amlops.serving.endpoint import LocalEndpoint
from amlops.serving.telemetry.reader import recent

BOOK_ROWS = [[2000, 2, 45], [9000, 1, 60]]
BOOK_RECORDS = [{"income": 2000, "credit_cards": 2, "age": 45}, {"income": 9000, "credit_cards": 1, "age": 60}]
MONITORED_ROWS = 300
"""Rows per traffic phase, ten per request: enough for Azure's histograms (Sturges: 10 bins) to tell a shift."""
TRAFFIC_SEED = 7
"""Another draw than the training data's (seed 42), from the same distribution."""
SHIFTED = "income"
"""The loans feature the shifted phase changes (doubled): the one the monitor must name."""
DIABETES_SHIFTED = "bmi"
"""The diabetes feature its shifted phase raises: the one the monitor must name."""
DIABETES_SHIFT_SD = 2
"""By how many of its standard deviations (over the 442 rows) the shifted phase raises DIABETES_SHIFTED."""
TIMED_REQUESTS = 200


@dataclass(frozen=True)
class Exercise:
    """What the stage sends one model: labelled payloads, one small body (timed, and sent without a key), and two
    phases of collected traffic (phase name → feature rows) with the words that describe them."""

    payloads: list[tuple[str, dict]]
    small: dict
    phases: Callable[[], dict]
    described: str


def loans_exercise(model_dir: Path) -> Exercise:
    """The book's payloads in both shapes and both methods, Power BI's shape and a missing column; loans from the
    training distribution, then the same loans with SHIFTED doubled."""
    from amlops import data as data_mod

    def phases() -> dict:
        loans = data_mod.generate_loans(MONITORED_ROWS, TRAFFIC_SEED)[list(data_mod.FEATURES)]
        return {"in-distribution": loans, f"{SHIFTED} doubled": loans.assign(**{SHIFTED: loans[SHIFTED] * 2})}

    return Exercise(
        payloads=[
            ("arrays, predict", {"data": BOOK_ROWS}),
            ("records, predict", {"data": BOOK_RECORDS, "method": "predict"}),
            ("arrays, predict_proba", {"data": BOOK_ROWS, "method": "predict_proba"}),
            ("records, predict_proba", {"data": BOOK_RECORDS, "method": "predict_proba"}),
            ("Power BI's shape", {"Inputs": {"data": BOOK_RECORDS}, "GlobalParameters": {"method": "predict"}}),
            ("a missing column", {"data": [{"income": 2000, "credit_cards": 2}]}),
        ],
        small={"data": BOOK_ROWS},
        phases=phases,
        described=f"{MONITORED_ROWS} loans from the training distribution, then the same with {SHIFTED} doubled",
    )


def diabetes_exercise(model_dir: Path) -> Exercise:
    """Two rows of the model's input example (its 10 float columns) as arrays and records, Power BI's shape,
    predict_proba (a regressor has none) and a missing column; rows drawn from the diabetes data, then the same rows
    with DIABETES_SHIFTED raised by DIABETES_SHIFT_SD standard deviations."""
    from amlops.multimodel import diabetes

    example = json.loads((model_dir / "input_example.json").read_text())
    rows = example["data"][:2]
    records = [dict(zip(example["columns"], row)) for row in rows]
    without = {k: v for k, v in records[0].items() if k != DIABETES_SHIFTED}

    def phases() -> dict:
        drawn = diabetes.features(MONITORED_ROWS, TRAFFIC_SEED)
        step = DIABETES_SHIFT_SD * float(diabetes.features()[DIABETES_SHIFTED].std())
        return {"in-distribution": drawn, f"{DIABETES_SHIFTED} shifted": drawn.assign(**{DIABETES_SHIFTED: drawn[DIABETES_SHIFTED] + step})}

    return Exercise(
        payloads=[
            ("arrays, predict", {"data": rows}),
            ("records, predict", {"data": records, "method": "predict"}),
            ("Power BI's shape", {"Inputs": {"data": records}, "GlobalParameters": {"method": "predict"}}),
            ("records, predict_proba", {"data": records, "method": "predict_proba"}),
            ("a missing column", {"data": [without]}),
        ],
        small={"data": rows},
        phases=phases,
        described=(f"{MONITORED_ROWS} patients drawn from the diabetes data, then the same with {DIABETES_SHIFTED} "
                   f"raised by {DIABETES_SHIFT_SD} standard deviations"),
    )


EXERCISES = {"loans": loans_exercise, "diabetes": diabetes_exercise}
"""What the stage sends each model of the two-model stack, by its key."""


def quickstart_stage(ctx) -> None:
    """Serve each model of the two-model stack (ctx.each()) with its deployment settings and exercise it over HTTP."""
    for trained, cfg in ctx.each():
        _serve(ctx, trained, cfg)


def _serve(ctx, trained, cfg) -> None:
    """One model served under the real inference server with its stack's settings, called, then stopped."""
    import httpx

    model_dir = ctx.registry.download(trained.name, trained.version)
    exercise = EXERCISES[trained.key](model_dir)
    t0 = time.perf_counter()
    deployment = cfg.online.deployments[choose_deployment(cfg)]
    monitor = cfg.model.monitor
    with LocalEndpoint(cfg, model_dir, model_ref=trained.ref, data_collector=deployment.data_collector,
                       target_column=monitor.target_column if monitor else None) as ep:
        ctx.console.print(
            f"serving {trained.ref} ({ep.endpoint_name}/{ep.deployment}, {ep.workers} workers) at {ep.scoring_url}, "
            f"ready in {time.perf_counter() - t0:.1f} s",
            highlight=False,
        )
        with httpx.Client(headers=ep.headers, timeout=30) as client:
            for label, payload in exercise.payloads:
                r = client.post(ep.scoring_url, json=payload)
                ctx.console.print(f"  {label:<24} → {r.status_code} {_short(r.json())}  ({r.elapsed.total_seconds() * 1000:.1f} ms)", highlight=False)
            r = httpx.post(ep.scoring_url, json=exercise.small, timeout=30)
            ctx.console.print(f"  {'without a key':<24} → {r.status_code} {r.json()['message']}", highlight=False)
            one = {"data": exercise.small["data"][:1]}
            started = time.perf_counter()
            for _ in range(TIMED_REQUESTS):
                client.post(ep.scoring_url, json=one).raise_for_status()
            per = (time.perf_counter() - started) / TIMED_REQUESTS * 1000
            ctx.console.print(f"  {TIMED_REQUESTS} sequential single-row requests: {per:.2f} ms each, {1000 / per:,.0f} req/s from one client", highlight=False)
            v2 = client.get(ep.swagger_url).json()
            v3 = client.get(ep.swagger_url, params={"version": "3"}).json()
            ctx.console.print(
                f"  swagger: {v2['swagger']} ({len(v2['paths'])} paths, definitions {', '.join(v2['definitions'])}); "
                f"OpenAPI {v3['openapi']} at ?version=3",
                highlight=False,
            )
            if ep.collector is not None:
                _monitored_traffic(ctx, trained.key, exercise, ep, client)
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


def _monitored_traffic(ctx, key: str, exercise: Exercise, ep, client) -> None:
    """Two phases of collected traffic, a whole second apart (records carry whole seconds); their time windows go to
    ctx.facts["monitor_windows"][key] for the monitor stage."""
    windows = {}
    for phase, frame in exercise.phases().items():
        time.sleep(1.05)
        start = datetime.now(timezone.utc).replace(microsecond=0)
        for at in range(0, len(frame), 10):
            client.post(ep.scoring_url, json={"data": frame.iloc[at : at + 10].to_dict("records")}).raise_for_status()
        windows[phase] = start
    logged = {c: ep.collector.received[c] for c in ep.collector.collections}
    expected = ep.collector.wait_for(dict.fromkeys(ep.collector.collections, logged.get("model_inputs", 0)), timeout=30)
    time.sleep(1.05)
    windows["end"] = datetime.now(timezone.utc).replace(microsecond=0)
    ctx.facts.setdefault("monitor_windows", {})[key] = windows
    ctx.console.print(
        f"  data collection: {exercise.described}; "
        f"{', '.join(f'{c} {n:,} records' for c, n in ep.collector.received.items())} logged (one a request)"
        f"{'' if expected else ' (not all outputs arrived)'}",
        highlight=False,
    )
    ctx.console.print(f"  collected records: {collected_root()}", highlight=False)


def _short(body: object) -> str:
    text = json.dumps(body)
    return text if len(text) <= 90 else text[:87] + "..."
