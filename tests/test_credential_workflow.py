"""The one credential rule, as it runs in the deploy workflow: GitHub's OIDC token, asked for in a fresh process.

The environment is derived from deploy-stack.yml (workflow, job and step env, plus the runner's
ACTIONS_ID_TOKEN_* variables the job's `id-token: write` brings), so dropping a variable from the
workflow fails here. The network stops at the Microsoft Entra exchange: every non-loopback name
lookup is refused below the socket layer and recorded.
"""

from __future__ import annotations

import pytest

from infra import credential as cred
from workflow_env import OidcStandIn, RUNNER_TOKEN, find_step, run_commands, run_offline, step_env, workflow

SECRETS = {
    "AZURE_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
    "AZURE_TENANT_ID": "66666666-7777-8888-9999-000000000000",
    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-0000000000aa",
    "PULUMI_ACCESS_TOKEN": "pul-placeholder",
}
ENTRA = "login.microsoftonline.com"
"""Where azure-identity exchanges the federated token (the public cloud's default authority)."""


def _deploy_env(step: str, oidc: OidcStandIn) -> dict[str, str]:
    return step_env("deploy-stack.yml", "up", step, oidc_url=oidc.url, secrets=SECRETS, inputs={"stack": "dev"})


_TRAFFIC_STEP = '''
from infra.traffic import EndpointTrafficProvider
props = {"subscription_id": "sub-1", "resource_group_name": "rg-1", "workspace_name": "ws-1",
         "endpoint_name": "ep-1", "traffic": {"blue": 100}, "mirror_traffic": {}, "endpoint_revision": "r1"}
try:
    EndpointTrafficProvider().create(props)
    _report("applied")
except Exception as exc:
    _report(type(exc).__name__)
'''


def _assert_oidc_then_entra(oidc: OidcStandIn, outcome: dict, where: str) -> None:
    # Asked once per attempt (the SDK retries the refused exchange), always for Entra's audience.
    assert oidc.requests and {tuple(r["query"].get("audience", [])) for r in oidc.requests} == {(cred.AUDIENCE,)}, (
        f"{where}: the GitHub OIDC endpoint was asked {oidc.requests}; outcome {outcome}"
    )
    assert oidc.requests[0]["query"]["api-version"] == ["2.0"], f"{where}: the runner's own query is kept"
    assert oidc.requests[0]["authorization"] == f"Bearer {RUNNER_TOKEN}", where
    # The first host beyond loopback is Entra's token endpoint: the exchange, not Azure Resource Manager
    # with no token, not IMDS (managed identity), not a CLI login.
    assert set(outcome["asked"]) == {ENTRA}, f"{where}: hosts asked, in order: {outcome['asked']}"


def test_credential_pulumi_up_post_deployment_step_asks_githubs_oidc_endpoint_in_a_fresh_process():
    with OidcStandIn() as oidc:
        env = _deploy_env("pulumi up", oidc)
        outcome, done = run_offline(_TRAFFIC_STEP, env)
    _assert_oidc_then_entra(oidc, outcome, "deploy-stack.yml `pulumi up` → infra.traffic")
    assert outcome["result"] in {"ClientAuthenticationError", "ServiceRequestError"}, done.stderr[-2000:]


def test_credential_smoke_test_amlops_invoke_remote_asks_githubs_oidc_endpoint():
    doc = workflow("deploy-stack.yml")
    step = find_step(doc["jobs"]["up"], "smoke test the online endpoint (azure-ai-ml)")
    with OidcStandIn() as oidc:
        env = _deploy_env("smoke test the online endpoint (azure-ai-ml)", oidc)
        [command] = run_commands(step, env)
        assert command[:4] == [".venv/bin/amlops", "invoke", "--stack", "dev"], command
        body = (
            "import sys\nfrom amlops.cli import main\nsys.argv = ['amlops', *sys.argv[1:]]\n"
            "try:\n    main()\n    _report(0)\nexcept SystemExit as exc:\n    _report(exc.code)\n"
        )
        outcome, done = run_offline(body, env, command[1:])
    _assert_oidc_then_entra(oidc, outcome, "deploy-stack.yml smoke test → amlops invoke --remote")
    assert outcome["result"] == 1, done.stdout + done.stderr
    # azure-identity logs each refused attempt; the CLI's own answer is one line naming the endpoint.
    assert "Traceback" not in done.stderr and done.stderr.splitlines()[-1].startswith("error: online endpoint loans-dev-online-"), done.stderr


@pytest.mark.parametrize("dropped", ["AZURE_CLIENT_ID", "AZURE_TENANT_ID"])
def test_credential_without_a_workflow_variable_the_oidc_endpoint_is_never_asked(dropped):
    """The derivation is what makes the tests above meaningful: drop one variable and GitHub's endpoint goes unasked."""
    with OidcStandIn() as oidc:
        env = _deploy_env("pulumi up", oidc)
        del env[dropped]
        outcome, _ = run_offline(_TRAFFIC_STEP, env)
    assert oidc.requests == [] and outcome["result"] != "applied"


def test_credential_deploy_callers_grant_the_id_token_the_called_job_needs():
    """A called workflow's job gets an OIDC token only if its caller's job grants id-token: write too."""
    doc = workflow("deploy.yml")
    callers = {k: j for k, j in doc["jobs"].items() if j.get("uses", "").endswith("deploy-stack.yml")}
    assert sorted(callers) == ["dev", "prod", "staging"]
    assert {k: j["permissions"].get("id-token") for k, j in callers.items()} == dict.fromkeys(callers, "write")
    assert workflow("deploy-stack.yml")["jobs"]["up"]["permissions"]["id-token"] == "write"


def test_credential_outside_github_is_azure_default_chain():
    from azure.identity import DefaultAzureCredential

    assert isinstance(cred.credential({"AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"}), DefaultAzureCredential)


def test_credential_one_module_builds_azure_credentials():
    """The rule lives in one place: no other module of the program or the toolkit imports azure.identity."""
    from workflow_env import ROOT

    builders = sorted(
        str(p.relative_to(ROOT)) for folder in ("infra", "amlops", "scoring", "batch")
        for p in (ROOT / folder).rglob("*.py") if "azure.identity" in p.read_text()
    )
    assert builders == ["infra/credential.py"]
