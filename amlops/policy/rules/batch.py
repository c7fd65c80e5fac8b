"""Rules on batch endpoints, held per endpoint (each model's own); a finding names the model and endpoint."""

from __future__ import annotations

from typing import Iterator

from amlops.policy.owners import endpoint_name, owner_of
from amlops.policy.rules.registry import MANDATORY, Finding, rule
from amlops.policy.subject import Subject

BATCH_AUTH_MODES = ("AADToken",)


@rule("endpoint-auth", MANDATORY)
def batch_auth(s: Subject) -> Iterator[Finding]:
    """The batch endpoints' part of endpoint-auth: Microsoft Entra tokens only. Reads the plan: authMode."""
    for res in s.of_type("machinelearningservices:BatchEndpoint"):
        mode = res.get("properties.authMode")
        if mode not in BATCH_AUTH_MODES:
            yield res.urn, (
                f"{owner_of(s, res).names(endpoint_name(res))}{res.label}: properties.authMode is {mode!r}, must be AADToken "
                "(batch endpoints accept Microsoft Entra tokens only); fix the batch endpoint in infra/"
            )
