"""Remote commands find the stack's deployed workspace by the names `pulumi up` derived, with GitHub's OIDC or Azure's default credential."""

from __future__ import annotations

import io
import json

import pytest

from infra import credential as cred
from amlops.azure.errors import RemoteUsageError
from amlops.azure.target import ml_client, target_for
from amlops.plan import run_plan
from amlops.plan.harness import SUBSCRIPTION_ID
from amlops.stackfile import load_stack


@pytest.mark.parametrize("stack", ["dev"])
def test_remote_target_names_are_the_ones_the_pulumi_program_declares(stack):
    plan = run_plan(stack)
    declared = {}
    for r in plan["resources"]:
        t, inputs = r["type"], r["inputs"]
        if t == "azure-native:resources:ResourceGroup":
            declared["resource_group"] = inputs["resourceGroupName"]
        elif t == "azure-native:machinelearningservices:Workspace":
            declared["workspace"] = inputs["workspaceName"]
        elif t == "azure-native:machinelearningservices:OnlineEndpoint":
            declared["online_endpoint"] = inputs["endpointName"]
        elif t == "azure-native:machinelearningservices:BatchEndpoint":
            declared["batch_endpoint"] = inputs["endpointName"]
        elif t == "azure-native:machinelearningservices:BatchDeployment":
            declared["batch_deployment"] = inputs["deploymentName"]
    target = target_for(stack, load_stack(stack), SUBSCRIPTION_ID)
    assert {k: getattr(target, k) for k in declared} == declared
    assert len(declared) == 5


def test_remote_target_without_subscription_is_a_usage_error_naming_the_fix():
    with pytest.raises(RemoteUsageError) as err:
        target_for("dev", load_stack("dev"), None, env={})
    assert str(err.value) == (
        "the remote commands need the subscription stack dev is deployed to: pass --subscription ID or set "
        "AZURE_SUBSCRIPTION_ID (see `az account show --query id`)"
    )


def test_remote_ml_client_is_scoped_to_the_stacks_workspace():
    seen = {}
    target = target_for("dev", load_stack("dev"), "sub-1")
    ml_client(target, credential="cred", factory=lambda **kw: seen.update(kw))
    assert seen == {
        "credential": "cred", "subscription_id": "sub-1",
        "resource_group_name": target.resource_group, "workspace_name": target.workspace,
    }


class _Resp(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_remote_credential_in_github_exchanges_the_oidc_token_for_the_app():
    env = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.actions.example/x?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-secret",
        "AZURE_CLIENT_ID": "client-1", "AZURE_TENANT_ID": "tenant-1",
    }
    sent = []

    def opener(request):
        sent.append(request)
        return _Resp(json.dumps({"value": "github-jwt"}).encode())

    assert cred.github_oidc_token(env, opener) == "github-jwt"
    assert sent[0].full_url == "https://token.actions.example/x?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange"
    assert sent[0].get_header("Authorization") == "Bearer runner-secret"
    from azure.identity import ClientAssertionCredential, DefaultAzureCredential

    assert isinstance(cred.credential(env), ClientAssertionCredential)
    assert isinstance(cred.credential({"AZURE_CLIENT_ID": "client-1"}), DefaultAzureCredential)
