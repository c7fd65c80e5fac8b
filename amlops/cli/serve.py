"""`amlops serve`, `amlops invoke` and `amlops endpoint keys|logs|swagger`: real-time scoring on this machine."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from amlops.cli.options import EndpointOption, StackOption
from amlops.cli.output import labelled, status
from amlops.cli.output import out as console
from amlops.cli import remote as remote_cli
from amlops.errors import UsageError

endpoint_app = typer.Typer(help="The local endpoint's keys, request logs and swagger files.", no_args_is_help=True)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class _Stop(Exception):
    """SIGTERM arrived: leave the follow loop and stop the server cleanly."""


def _raise_stop(signum, frame):  # noqa: ARG001
    raise _Stop()


def serve_cmd(
    stack: str = StackOption,
    endpoint: Optional[list[str]] = typer.Option(
        None, "--endpoint", "-e",
        help="Serve this endpoint (its name in the stack file, the model's key or an amlops:multiModel group's key); repeat for several. Default: every online endpoint of the stack.",
    ),
    model: Optional[str] = typer.Option(None, "--model", metavar="NAME:VERSION", help="Serve this registered version instead of the stack's pin (one endpoint only)."),
    deployment: Optional[str] = typer.Option(None, "--deployment", "-d", help="Whose settings to use (default: the deployment with the most traffic; one endpoint only)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback unless told otherwise)."),
    port: int = typer.Option(1337, help="Port of the first endpoint (the book's LocalWebservice port); each next endpoint takes the next port; 0 picks free ones."),
    workers: Optional[int] = typer.Option(None, help="Worker processes per endpoint (default: the deployment's workerCount)."),
    auth: bool = typer.Option(True, "--auth/--no-auth", help="Require the endpoint key (Authorization: Bearer KEY)."),
    follow: bool = typer.Option(True, "--logs/--no-logs", help="Print the servers' log lines while serving."),
) -> None:
    """Serve scoring/score.py with each endpoint's registered model under the Azure ML inference server until Ctrl-C.

    A stack with several models serves all its online endpoints at once, each on its own port with its own keys.
    """
    from amlops.registry import Registry
    from amlops.serving import running
    from amlops.stackfile import find_group, load_endpoint, load_stack

    whole = load_stack(stack)
    chosen_endpoints = endpoint or [k for k, m in whole.models.items() if m.online is not None] + list(whole.multi_model)
    if not chosen_endpoints:
        raise UsageError(f"stack {stack} declares no online endpoint (models: {'; '.join(whole.choices())})")
    if len(chosen_endpoints) > 1 and (model or deployment):
        raise UsageError(f"--model and --deployment apply to one endpoint; serving {len(chosen_endpoints)}, choose one with --endpoint")
    # a model's endpoint: the stack narrowed to it; a multiModel group's: (key, group)
    cfgs = [find_group(whole, e) or load_endpoint(stack, e) for e in chosen_endpoints]
    names = [c[1].online.endpoint_name if isinstance(c, tuple) else c.online.endpoint_name for c in cfgs]
    if len(set(names)) != len(names):
        raise UsageError(f"--endpoint names one endpoint twice: {', '.join(chosen_endpoints)}")
    registry = Registry(whole.registry.tracking_uri)
    if host not in LOOPBACK:
        console.print(labelled("warning:", "yellow", f"listening on {host}: other machines can reach it"))
    served: list = []
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    terminated = False
    try:
        for i, cfg in enumerate(cfgs):
            at = 0 if port == 0 else port + i
            if isinstance(cfg, tuple):
                ep = _start_group(whole, *cfg, stack, registry, model, deployment, host, at, workers, auth)
            else:
                ep = _start(cfg, stack, registry, model, deployment, host, at, workers, auth)
            served.append(ep)
            running.record(ep.endpoint_name, running.Running(ep.url, ep.pid, ep.deployment, ep.model_ref))
        console.print("Ctrl-C stops " + ("them." if len(served) > 1 else "it."))
        _follow(served, follow)
    except KeyboardInterrupt:
        pass
    except _Stop:
        terminated = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        for ep in served:
            code = ep.stop()
            running.clear(ep.endpoint_name, ep.pid)
            console.print(f"stopped {ep.endpoint_name} (gunicorn exit code {code})")
    if terminated:
        _leave()


def _leave() -> None:
    """After SIGTERM, with the servers stopped and everything said: exit now, without tearing down the
    interpreter (the registry's MLflow and SQLAlchemy, imported to find the model, took up to 2.5 s
    of it on a loaded 2-core machine: benchmarks/serving/start.py; SIGTERM's target is 2 s)."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _start(cfg, stack: str, registry, model: str | None, deployment: str | None, host: str, port: int, workers: int | None, auth: bool):
    """Start one endpoint's server and say where it answers, its limits and how to call it."""
    from amlops.deployments import choose_deployment
    from amlops.serving.endpoint import LocalEndpoint, model_for
    from amlops.stackfile import endpoint_flag

    chosen = choose_deployment(cfg, deployment)
    name, version = model_for(cfg, chosen, model)
    model_dir = registry.download(name, version)
    monitor = cfg.model.monitor
    ep = LocalEndpoint(
        cfg, model_dir, deployment=chosen, host=host, port=port, workers=workers, auth=auth, model_ref=f"{name}:{version}",
        # the deployment's data collector, as Azure runs it beside score.py (amlops monitor run reads what it writes)
        data_collector=cfg.online.deployments[chosen].data_collector, target_column=monitor.target_column if monitor else None,
    )
    example = json.dumps({"data": [_example_row(model_dir)]})
    return _announce(ep, f"{name}:{version}", stack, endpoint_flag(cfg), example)


def _start_group(whole, key: str, group, stack: str, registry, model: str | None, deployment: str | None, host: str, port: int, workers: int | None, auth: bool):
    """Start an amlops:multiModel group's endpoint: its members' pinned versions combined into one folder
    (infra/multi_model.py, as `pulumi up` registers it) under scoring/score_multi.py, which routes by "model"."""
    from amlops.deployments import choose_deployment
    from amlops.serving.endpoint import LocalEndpoint

    chosen = choose_deployment(group.online, deployment)
    members, folder, ref, what = _group_model(whole, key, group, registry, model)
    ep = LocalEndpoint(whole, folder, online=group.online, entry_script="score_multi.py", deployment=chosen,
                       host=host, port=port, workers=workers, auth=auth, model_ref=ref)
    first = group.models[0]
    example = json.dumps({"model": first, "data": [_example_row(members[first])]})
    return _announce(ep, what, stack, f" --endpoint {key}", example)


def _group_model(whole, key: str, group, registry, model: str | None) -> tuple[dict[str, Path], Path, str, str]:
    """(member folders by key, their combined folder, its title, what it serves) of an amlops:multiModel group: each
    member's pinned version from the registry, combined as `pulumi up` registers them (infra/multi_model.py), titled
    `<prefix>-<group>-models` as infra/__main__.py declare_group packages its swagger."""
    from infra.multi_model import combine

    if model:
        raise UsageError(f"--model names one model; multiModel group {key} serves its members' pinned versions (amlops:models.<key>.version)")
    members = {k: registry.download(whole.models[k].name, whole.models[k].version) for k in group.models}
    ref = f"{whole.prefix}-{key}-models"
    what = f"{ref} ({', '.join(f'{k}={whole.models[k].name}:{whole.models[k].version}' for k in group.models)})"
    return members, combine(members), ref, what


def _announce(ep, what: str, stack: str, flag: str, example: str):
    """Start `ep` and say where it answers, its limits and how to call it."""
    started = time.perf_counter()
    with status(f"starting {what} under the Azure ML inference server ({ep.workers} workers)…"):
        ep.start()
    assert ep.pid is not None
    s = ep.settings
    console.print(
        f"serving {what} as {ep.endpoint_name}/{ep.deployment} at {ep.scoring_url} "
        f"(ready in {time.perf_counter() - started:.1f} s; {ep.workers} workers, pid {ep.pid})\n"
        f"  limits: timeout {s.request_timeout_ms} ms, body {s.max_body_bytes:,} bytes, {s.max_rows:,} rows per request\n"
        f"  auth: {'key (amlops endpoint keys --stack ' + stack + flag + ')' if ep.key is not None else 'off'}\n"
        f"  swagger: {ep.swagger_url} (?version=3 for OpenAPI 3)\n"
        f"  logs: {ep.log_path}; requests and traces: amlops endpoint logs --stack {stack}{flag}\n"
        + (f"  data collection: {', '.join(ep.collector.collections)} → amlops monitor run --stack {stack}{flag}\n" if ep.collector else "")
        + f"  try: amlops invoke --stack {stack}{flag} --data '{example}'",
        soft_wrap=True,
    )
    return ep


def _example_row(model_dir: Path) -> list:
    """One row the model takes, from its signature's input example (or zeros of its columns)."""
    from amlops.modelfile import example_row

    return example_row(model_dir)


def _follow(served: list, follow: bool) -> None:
    """Until a server exits: print each one's new log lines (prefixed with its endpoint when several), or just wait."""
    from amlops.serving.server import ServerExited

    logs = [(ep, ep.log_path.open(errors="replace") if follow and ep.log_path else None) for ep in served]
    prefix = len(served) > 1
    try:
        while all(ep.poll() is None for ep in served):
            quiet = True
            for ep, log in logs:
                line = log.readline() if log else ""
                if line:
                    quiet = False
                    console.print(Text(f"[{ep.endpoint_name}] " if prefix else "") + Text(line.rstrip("\n")))
            if quiet:
                time.sleep(0.2)
    finally:
        for _, log in logs:
            if log:
                log.close()
    ep = next(ep for ep in served if ep.poll() is not None)
    raise ServerExited(f"{ep.endpoint_name}: the server exited on its own (code {ep.poll()}); see {ep.log_path}")


def invoke_cmd(
    stack: str = StackOption,
    endpoint: Optional[str] = EndpointOption,
    data: Optional[str] = typer.Option(None, "--data", help='The JSON body, e.g. \'{"data": [[2000, 2, 45]]}\'.'),
    file: Optional[Path] = typer.Option(None, "--file", help="A file holding the JSON body."),
    url: Optional[str] = typer.Option(None, "--url", help="A scoring URI (…/score), e.g. an Azure endpoint's (default: the local `amlops serve`)."),
    key: Optional[str] = typer.Option(None, "--key", envvar="AMLOPS_ENDPOINT_KEY", help="The endpoint key (default for the local endpoint: its primary key)."),
    remote: bool = typer.Option(False, "--remote", help="Score on the stack's deployed Azure endpoint (scoring URI and key or token fetched through azure-ai-ml)."),
    subscription: Optional[str] = remote_cli.SubscriptionOption,
) -> None:
    """Send a scoring request to the local endpoint (or any scoring URI, or with --remote the deployed one) and print the answer."""
    from amlops.serving import client, running
    from amlops.serving.keys import load_or_create
    from amlops.stackfile import online_endpoint

    try:
        body = client.load_payload(data, file)
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"--file {file}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "a JSON body is UTF-8: re-save the file as UTF-8"
        ) from None
    if remote:
        return remote_cli.invoke(stack, endpoint, subscription, body, url, key)
    name, hint = online_endpoint(stack, endpoint)
    if url is None:
        url = running.find(name, hint).url + "/score"
    if key is None and _is_local(url, name, hint):
        key = load_or_create(name)[0].primary
    answer = client.invoke(url, body, key)
    console.print_json(json.dumps(answer.body))
    console.print(Text(f"{answer.status} in {answer.elapsed_ms:.1f} ms, request id {answer.request_id}", style="dim"))


def _is_local(url: str, endpoint_name: str, hint: str) -> bool:
    """Whether `url` is the stack's running local endpoint (same port on a loopback name): then its key applies."""
    from urllib.parse import urlsplit

    from amlops.serving import running

    try:
        served = urlsplit(running.find(endpoint_name, hint).url)
    except UsageError:
        return False
    asked = urlsplit(url)
    return asked.port == served.port and (asked.hostname == served.hostname or {asked.hostname, served.hostname} <= LOOPBACK)


@endpoint_app.command("keys")
def keys_cmd(
    stack: str = StackOption,
    endpoint: Optional[str] = EndpointOption,
    regenerate: Optional[str] = typer.Option(None, "--regenerate", metavar="primary|secondary", help="Replace this key; the other keeps working."),
) -> None:
    """Show the local endpoint's primary and secondary keys (generated on first use, stored 0600)."""
    from rich.table import Table

    from amlops.serving import keys
    from amlops.stackfile import online_endpoint

    name = online_endpoint(stack, endpoint)[0]
    if regenerate is not None:
        keys.regenerate(name, regenerate)
    current, path = keys.load_or_create(name)
    table = Table(title=f"keys of {name} ({path})", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    table.add_row("primary", current.primary)
    table.add_row("secondary", current.secondary)
    console.print(table)
    if regenerate is not None:
        console.print(f"regenerated the {regenerate} key; a running `amlops serve` accepts it within a second")


@endpoint_app.command("logs")
def logs_cmd(
    stack: str = StackOption,
    endpoint: Optional[str] = EndpointOption,
    tail: int = typer.Option(20, "--tail", "-n", help="How many recent requests to show."),
    request_id: Optional[str] = typer.Option(None, "--request-id", help="Only this request and its log lines."),
    remote: bool = typer.Option(False, "--remote", help="The deployed Azure deployment's container log instead (--tail lines of it)."),
    deployment: Optional[str] = typer.Option(None, "--deployment", "-d", help="With --remote: whose log (default: the stack's live deployment)."),
    container: str = typer.Option("inference-server", "--container", help="With --remote: inference-server or storage-initializer."),
    subscription: Optional[str] = remote_cli.SubscriptionOption,
) -> None:
    """Show recent requests (spans: status, latency, request id) and the script's log lines with their request ids; --remote: the deployed container's log."""
    if remote:
        return remote_cli.logs(stack, endpoint, subscription, deployment, container, tail)
    from rich.table import Table

    from amlops.serving.telemetry.localfile import telemetry_path
    from amlops.serving.telemetry.reader import recent
    from amlops.stackfile import online_endpoint

    name, hint = online_endpoint(stack, endpoint)
    path = telemetry_path(name)
    if not path.is_file():
        raise UsageError(f"no telemetry for {name} yet ({path}); serve it with `amlops serve {hint}` and send a request")
    spans, logs = recent(path, tail, request_id)
    table = Table(title=f"requests to {name} ({len(spans)} shown; {path})")
    for col, justify in (("time (UTC)", "left"), ("request", "left"), ("status", "right"), ("ms", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    # `--request-id` needs the whole id: the other columns wrap before it is cut
    ids = [str((s.get("attributes") or {}).get("request.id", "")) for s in spans]
    table.add_column("request id", no_wrap=True, min_width=max(map(len, ids), default=0))
    for s in spans:
        a = s.get("attributes") or {}
        table.add_row(
            (s.get("time") or "")[11:23], s.get("name", ""), str(a.get("http.response.status_code", "")),
            f"{s.get('duration_ms', 0):.2f}", str(a.get("request.id", "")),
        )
    console.print(table)
    console.print(Text(f"traces ({len(logs)})", style="bold"))
    for r in logs:
        rid = r.get("request_id") or "-"
        console.print(f"{(r.get('time') or '')[11:23]} {r.get('severity', ''):5} [{rid}] {r.get('body', '')}")


@endpoint_app.command("swagger")
def swagger_cmd(
    stack: str = StackOption,
    endpoint: Optional[str] = EndpointOption,
    model: Optional[str] = typer.Option(None, "--model", metavar="NAME:VERSION", help="Describe this registered version instead of the stack's pin."),
    deployment: Optional[str] = typer.Option(None, "--deployment", "-d", help="Whose maxRows to state (default: the deployment with the most traffic)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also copy swagger.json, swagger3.json and swagger3.1.json into this folder."),
) -> None:
    """Package scoring/ for a model (or an amlops:multiModel group): its swagger files, generated from the model's
    signature in Power BI's shape (a group's: each member's, routed by the request's "model" field)."""
    import shutil

    from amlops.deployments import choose_deployment
    from amlops.registry import Registry
    from amlops.serving import swagger
    from amlops.serving.endpoint import model_for
    from amlops.serving.package import package_scoring
    from amlops.stackfile import load_endpoint, load_stack

    whole = load_stack(stack)
    group = whole.group(endpoint) if endpoint is not None else None
    registry = Registry(whole.registry.tracking_uri)
    if group is not None:
        online = group[1].online
        chosen = choose_deployment(online, deployment)
        _, model_dir, title, what = _group_model(whole, *group, registry, model)
        shapes = (
            f"  swagger.json: Swagger 2.0, Power BI's shape with \"model\" (one of {', '.join(group[1].models)}) beside Inputs and GlobalParameters\n"
            f"  swagger3.json, swagger3.1.json: OpenAPI 3.1, each model's own request with \"model\" fixed to its key (oneOf), its own answer"
        )
    else:
        cfg = load_endpoint(stack, endpoint)
        online = cfg.online
        chosen = choose_deployment(cfg, deployment)
        name, version = model_for(cfg, chosen, model)
        model_dir = registry.download(name, version)
        title = what = f"{name}:{version}"
        shapes = (
            "  swagger.json: Swagger 2.0, Power BI's shape (Inputs.data records, GlobalParameters → Results)\n"
            "  swagger3.json, swagger3.1.json: OpenAPI 3.1, Power BI's shape and the book's {\"data\", \"method\"}"
        )
    max_rows = online.deployments[chosen].request_settings.max_rows
    app_root = package_scoring(model_dir, max_rows=max_rows, title=title)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for file in swagger.FILES:
            shutil.copyfile(app_root / file, out / file)
    console.print(
        f"packaged scoring/ for {what} ({chosen}: at most {max_rows:,} rows per request) at {app_root}\n"
        + shapes + (f"\n  copied to {out}" if out is not None else ""),
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    app.command("invoke")(invoke_cmd)
    app.add_typer(endpoint_app, name="endpoint")
