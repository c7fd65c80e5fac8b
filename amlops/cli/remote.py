"""The `--remote` halves of `amlops invoke` and `amlops endpoint logs`: the stack's deployed endpoint, via azure-ai-ml."""

from __future__ import annotations

import json
from typing import Optional

import typer

from amlops.cli.output import out
from amlops.errors import UsageError

SubscriptionOption = typer.Option(
    None, "--subscription", envvar="AZURE_SUBSCRIPTION_ID", help="Where the stack is deployed (remote commands only; default: AZURE_SUBSCRIPTION_ID)."
)


def invoke(stack: str, endpoint: Optional[str], subscription: Optional[str], body: bytes, url: Optional[str], key: Optional[str]) -> None:
    """Score `body` on the deployed endpoint (scoring URI and key or token from azure-ai-ml) and print the answer."""
    from amlops.azure.online import remote_invoke
    from amlops.azure.target import connect

    if url is not None or key is not None:
        raise UsageError("--remote fetches the endpoint's scoring URI and key from Azure; drop --url and --key (or drop --remote)")
    client, target = connect(stack, subscription, endpoint, need="online")
    answer = remote_invoke(client, target, body)
    out.print_json(json.dumps(answer.body))
    out.print(f"{answer.status} from {target.online_endpoint} in {answer.elapsed_ms:.1f} ms, request id {answer.request_id}")


def logs(stack: str, endpoint: Optional[str], subscription: Optional[str], deployment: Optional[str], container: str, lines: int) -> None:
    """Print the last `lines` lines of a deployed deployment's container log (default: the stack's live deployment)."""
    from amlops.azure.online import remote_logs
    from amlops.azure.target import connect
    from amlops.deployments import choose_deployment
    from amlops.stackfile import load_endpoint, load_stack

    group = load_stack(stack).group(endpoint) if endpoint is not None else None
    chosen = choose_deployment(group[1].online if group else load_endpoint(stack, endpoint), deployment)
    client, target = connect(stack, subscription, endpoint, need="online")
    text = remote_logs(client, target, chosen, lines, container)
    out.print(f"{container} logs of {chosen} on {target.online_endpoint} (last {lines} lines)")
    out.print(text)
