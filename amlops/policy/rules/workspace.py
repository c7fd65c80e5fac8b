"""Rules on the workspace's shared resources (storage, key vault, state protection, tags): one set for all models."""

from __future__ import annotations

from typing import Iterator, Mapping

from amlops.policy.rules.registry import MANDATORY, Finding, rule
from amlops.policy.subject import Subject


@rule("prod-keyvault-purge-protection", MANDATORY)
def prod_keyvault_purge_protection(s: Subject) -> Iterator[Finding]:
    """In prod key vaults have purge protection. Reads the plan: properties.enablePurgeProtection."""
    if not s.is_prod:
        return
    for res in s.of_type("keyvault:Vault"):
        if res.get("properties.enablePurgeProtection") is not True:
            yield res.urn, (
                f"{res.label}: properties.enablePurgeProtection is not true in prod; "
                f"set amlops:workspace.purgeProtection: true in {s.stack_file}"
            )


TLS_OK = ("TLS1_2", "TLS1_3")


@rule("storage-min-tls", MANDATORY)
def storage_min_tls(s: Subject) -> Iterator[Finding]:
    """Storage accounts refuse TLS older than 1.2. Reads the plan: minimumTlsVersion."""
    for res in s.of_type("storage:StorageAccount"):
        value = res.get("minimumTlsVersion")
        if value not in TLS_OK:
            yield res.urn, (
                f"{res.label}: minimumTlsVersion is {value!r}, must be TLS1_2 or newer; "
                "set minimum_tls_version=storage.MinimumTlsVersion.TLS1_2 on the account in infra/"
            )


@rule("storage-no-public-blob", MANDATORY)
def storage_no_public_blob(s: Subject) -> Iterator[Finding]:
    """Storage accounts allow no anonymous (public) blob access. Reads the plan: allowBlobPublicAccess."""
    for res in s.of_type("storage:StorageAccount"):
        value = res.get("allowBlobPublicAccess")
        if value is not False:
            yield res.urn, (
                f"{res.label}: allowBlobPublicAccess is {value!r}, must be false; "
                "set allow_blob_public_access=False on the account in infra/"
            )


STATEFUL_TYPES = (
    "storage:StorageAccount",
    "storage:BlobContainer",
    "keyvault:Vault",
    "machinelearningservices:Workspace",
    "containerregistry:Registry",
    "operationalinsights:Workspace",
)
"""Resources that hold data or secrets: deleting one loses it."""


@rule("prod-stateful-protected", MANDATORY)
def prod_stateful_protected(s: Subject) -> Iterator[Finding]:
    """In prod, resources that hold data are protected from deletion. Reads the plan: the protect option."""
    if not s.is_prod:
        return
    for type_ in STATEFUL_TYPES:
        for res in s.of_type(type_):
            if not res.protect:
                yield res.urn, (
                    f"{res.label}: holds state but is not protected in prod; "
                    "create it with ResourceOptions(protect=True) when the stack is prod (infra/)"
                )


TAGGABLE_TYPES = (
    "resources:ResourceGroup",
    "storage:StorageAccount",
    "keyvault:Vault",
    "containerregistry:Registry",
    "operationalinsights:Workspace",
    "applicationinsights:Component",
    "machinelearningservices:Workspace",
    "machinelearningservices:Compute",
    "machinelearningservices:OnlineEndpoint",
    "machinelearningservices:OnlineDeployment",
    "machinelearningservices:BatchEndpoint",
    "machinelearningservices:BatchDeployment",
    "monitor:AutoscaleSetting",
    "monitor:ActionGroup",
    "monitor:MetricAlert",
    "monitor:ScheduledQueryRule",
    "network:VirtualNetwork",
    "network:PrivateEndpoint",
    "privatedns:PrivateZone",
    "privatedns:VirtualNetworkLink",
)
"""Azure resource types that carry tags (tracked resources)."""


@rule("required-tags", MANDATORY)
def required_tags(s: Subject) -> Iterator[Finding]:
    """Every taggable resource carries the required tags (environment, owner, costCenter). Reads the plan: tags."""
    for type_ in TAGGABLE_TYPES:
        for res in s.of_type(type_):
            tags = res.inputs.get("tags")
            tags = tags if isinstance(tags, Mapping) else {}
            missing = [t for t in s.required_tags if not tags.get(t)]
            if missing:
                yield res.urn, (
                    f"{res.label}: missing tag(s) {', '.join(missing)}; add them under amlops:tags in {s.stack_file} "
                    "(and pass the stack's tags to this resource in infra/)"
                )
