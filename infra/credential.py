"""The one Azure credential rule: GitHub's OIDC token exchanged in a workflow, else DefaultAzureCredential.

Every Azure call uses it: amlops' remote commands, `amlops publish`, the promotion gate, and the
Pulumi program's post-deployment steps (infra/traffic.py, infra/batch_defaults.py,
infra/managed_network.py), which run inside `pulumi up` in the deploy workflow. It lives in infra/
because infra never imports amlops and amlops may import infra. Its dependencies (azure-identity)
are imported only when a credential is built.

In a GitHub Actions job with `id-token: write`, the runner exposes ACTIONS_ID_TOKEN_REQUEST_URL and
ACTIONS_ID_TOKEN_REQUEST_TOKEN; the token requested for the audience `api://AzureADTokenExchange` is
exchanged for the app registration AZURE_CLIENT_ID's access token (workload identity federation), so
no client secret and no `azure/login` step is needed:
  https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#updating-your-actions-for-oidc
  https://learn.microsoft.com/en-us/python/api/azure-identity/azure.identity.clientassertioncredential
Elsewhere DefaultAzureCredential applies (environment, workload identity, managed identity, `az login`):
  https://learn.microsoft.com/en-us/python/api/azure-identity/azure.identity.defaultazurecredential
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from typing import Any, Callable, Mapping

AUDIENCE = "api://AzureADTokenExchange"
"""The audience Microsoft Entra expects in a federated token (the default of a federated credential)."""
REQUEST_URL_ENV = "ACTIONS_ID_TOKEN_REQUEST_URL"
REQUEST_TOKEN_ENV = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"


def github_oidc_token(env: Mapping[str, str], opener: Callable[[urllib.request.Request], Any] = urllib.request.urlopen) -> str:
    """A fresh GitHub OIDC token for AUDIENCE (GitHub's tokens live minutes: ask on every exchange)."""
    url = env[REQUEST_URL_ENV]
    sep = "&" if urllib.parse.urlparse(url).query else "?"
    request = urllib.request.Request(
        f"{url}{sep}audience={urllib.parse.quote(AUDIENCE, safe='')}",
        headers={"Authorization": f"Bearer {env[REQUEST_TOKEN_ENV]}", "Accept": "application/json"},
    )
    with opener(request) as resp:
        return json.loads(resp.read())["value"]


def in_github_oidc(env: Mapping[str, str]) -> bool:
    """True in a GitHub job that may request an OIDC token and names the identity to exchange it for."""
    return all(env.get(k) for k in (REQUEST_URL_ENV, REQUEST_TOKEN_ENV, "AZURE_CLIENT_ID", "AZURE_TENANT_ID"))


def credential(env: Mapping[str, str] | None = None):
    """The TokenCredential MLClient uses: GitHub OIDC federation in a workflow, else DefaultAzureCredential."""
    env = os.environ if env is None else env
    if in_github_oidc(env):
        from azure.identity import ClientAssertionCredential

        return ClientAssertionCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], lambda: github_oidc_token(env))
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)
