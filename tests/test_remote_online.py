"""`amlops invoke --remote` and `amlops endpoint logs --remote`, through fakes of MLClient's operations."""

from __future__ import annotations

import json

import pytest

from cli_support import run_cli
from remote_fakes import SUBSCRIPTION, Azure, ScoringServer, dev_target, install

BODY = '{"data": [[42000.0, 2, 35], [18000.0, 5, 22]]}'


@pytest.fixture
def azure(monkeypatch) -> Azure:
    return install(monkeypatch)


@pytest.fixture
def target():
    return dev_target()


@pytest.mark.parametrize(("auth_mode", "keys", "bearer"), [
    ("key", ("EndpointAuthKeys", {"primary_key": "pk-1", "secondary_key": "sk-1"}), "Bearer pk-1"),
    ("aml_token", ("EndpointAuthToken", {"access_token": "aml-tok"}), "Bearer aml-tok"),
    ("aad_token", ("EndpointAadToken", {"obj": ("aad-tok", 0)}), "Bearer aad-tok"),
])
def test_remote_invoke_sends_the_endpoints_key_or_token_and_prints_the_answer(azure, target, capsys, monkeypatch, auth_mode, keys, bearer):
    from azure.ai.ml import entities

    with ScoringServer({"predict": [1, 0]}) as server:
        azure.endpoint = entities.ManagedOnlineEndpoint(name=target.online_endpoint, auth_mode=auth_mode, scoring_uri=server.url)
        if keys[0] == "EndpointAadToken":  # get_keys of an aad_token endpoint: the caller's own Entra token
            from azure.core.credentials import AccessToken

            azure.keys = entities.EndpointAadToken(AccessToken(*keys[1]["obj"]))
        else:
            azure.keys = getattr(entities, keys[0])(**keys[1])
        code, out, err = run_cli(capsys, monkeypatch, "invoke", "--stack", "dev", "--remote", "--data", BODY)
    assert (code, err) == (0, "")
    assert server.requests == [{"path": "/score", "authorization": bearer, "body": BODY}]
    assert json.loads(out[: out.rindex("}") + 1]) == {"predict": [1, 0]}
    assert out.splitlines()[-1].startswith(f"200 from {target.online_endpoint} in ")
    assert out.splitlines()[-1].endswith(" ms, request id req-42")
    assert azure.clients == [
        {"subscription_id": SUBSCRIPTION, "resource_group_name": target.resource_group, "workspace_name": target.workspace}
    ]
    assert [c[:2] for c in azure.calls] == [
        ("online_endpoints.get", (target.online_endpoint,)), ("online_endpoints.get_keys", (target.online_endpoint,)),
    ]


def test_remote_invoke_of_an_undeployed_stack_says_what_to_check(azure, target, capsys, monkeypatch):
    from azure.core.exceptions import ResourceNotFoundError

    azure.raise_on["online_endpoints.get"] = ResourceNotFoundError("Endpoint not found")
    code, out, err = run_cli(capsys, monkeypatch, "invoke", "--stack", "dev", "--remote", "--data", BODY)
    assert (code, out) == (1, "")
    assert err == (
        f"error: online endpoint {target.online_endpoint}: not found (Endpoint not found); is stack dev deployed "
        f"(`pulumi up`) to subscription {SUBSCRIPTION}, workspace {target.workspace} in resource group {target.resource_group}?\n"
    )


def test_remote_invoke_error_status_exits_1_with_the_endpoints_message(azure, target, capsys, monkeypatch):
    from azure.ai.ml import entities

    with ScoringServer({"message": "row 0: income must be a number"}, status=400) as server:
        azure.endpoint = entities.ManagedOnlineEndpoint(name=target.online_endpoint, auth_mode="key", scoring_uri=server.url)
        azure.keys = entities.EndpointAuthKeys(primary_key="pk", secondary_key="sk")
        code, out, err = run_cli(capsys, monkeypatch, "invoke", "--stack", "dev", "--remote", "--data", '{"data": [["x", 1, 2]]}')
    assert (code, out) == (1, "")
    assert err == f"error: {server.url} answered 400: row 0: income must be a number\n"


def test_remote_invoke_with_url_or_key_is_a_usage_error(azure, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "invoke", "--stack", "dev", "--remote", "--key", "k", "--data", BODY)
    assert (code, out, azure.calls) == (2, "", [])
    assert err == "error: --remote fetches the endpoint's scoring URI and key from Azure; drop --url and --key (or drop --remote)\n"


@pytest.mark.parametrize(("args", "container_type"), [((), None), (("--container", "storage-initializer"), "storage-initializer")])
def test_remote_logs_print_the_live_deployments_container_log(azure, target, capsys, monkeypatch, args, container_type):
    azure.logs = "2026-11-29 18:00:01 INFO azmlinfsrv - scoring request [x]\nready"
    code, out, err = run_cli(capsys, monkeypatch, "endpoint", "logs", "--stack", "dev", "--remote", "--tail", "50", *args)
    assert (code, err) == (0, "")
    container = container_type or "inference-server"
    assert out == f"{container} logs of blue on {target.online_endpoint} (last 50 lines)\n{azure.logs}\n"
    assert azure.calls == [(
        "online_deployments.get_logs", (),
        {"name": "blue", "endpoint_name": target.online_endpoint, "lines": 50, "container_type": container_type},
    )]


def test_remote_logs_unknown_container_or_deployment_is_refused(azure, capsys, monkeypatch):
    code, _, err = run_cli(capsys, monkeypatch, "endpoint", "logs", "--stack", "dev", "--remote", "--container", "sidecar")
    assert (code, err) == (1, "error: container must be one of inference-server, storage-initializer, got 'sidecar'\n")
    code, _, err = run_cli(capsys, monkeypatch, "endpoint", "logs", "--stack", "dev", "--remote", "-d", "purple")
    assert (code, err) == (2, "error: no deployment 'purple' in amlops:online.deployments; known: blue\n")
    assert azure.calls == []
