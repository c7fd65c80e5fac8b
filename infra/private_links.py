"""Which private endpoints a private workspace needs, and the DNS zones that resolve each: plain data, so that
`amlops check` reads the same table as the Pulumi program without importing the Azure SDK.

Azure ML's contract: https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link
(the workspace's `amlworkspace` sub-resource, resolved by privatelink.api.azureml.ms and
privatelink.notebooks.azure.net) and https://learn.microsoft.com/azure/machine-learning/how-to-secure-workspace-vnet
(storage blob and file, key vault and container registry behind private endpoints). Zone names per
sub-resource: https://learn.microsoft.com/azure/private-link/private-endpoint-dns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PrivateLink:
    """One private endpoint: which target resource, which of its sub-resources, which DNS zones resolve it."""

    key: str
    """Short name in resource names (`network-pe-<key>`)."""
    target: str
    """Which resource it connects to: workspace, storage, key_vault or registry."""
    group_id: str
    """The private-link sub-resource (Azure's groupIds)."""
    zones: tuple[str, ...]
    """The privatelink DNS zones Azure documents for that sub-resource."""


PRIVATE_LINKS: tuple[PrivateLink, ...] = (
    PrivateLink("workspace", "workspace", "amlworkspace", ("privatelink.api.azureml.ms", "privatelink.notebooks.azure.net")),
    PrivateLink("blob", "storage", "blob", ("privatelink.blob.core.windows.net",)),
    PrivateLink("file", "storage", "file", ("privatelink.file.core.windows.net",)),
    PrivateLink("vault", "key_vault", "vault", ("privatelink.vaultcore.azure.net",)),
    PrivateLink("registry", "registry", "registry", ("privatelink.azurecr.io",)),
)
"""Every private endpoint a workspace without public access needs."""
TARGETS = ("workspace", "storage", "key_vault", "registry")
