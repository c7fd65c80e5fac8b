"""`amlops:workspace`: the ML workspace and its dependencies."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from infra.config.base import ConfigModel


class WorkspaceConfig(ConfigModel):
    """The ML workspace and its dependencies."""

    public_network_access: Literal["Enabled", "Disabled"] = "Enabled"
    """Default Enabled; prod sets Disabled (reach it through private endpoints)."""
    sku: Literal["Basic"] = "Basic"
    """The ML workspace SKU; Azure ML v2 offers Basic only."""
    purge_protection: bool = False
    """Key vault purge protection; default off (dev/staging), on in prod."""
    hbi_workspace: bool = False
    """High business impact: Microsoft-managed encryption with less telemetry."""
    storage_sku: Literal["Standard_LRS", "Standard_ZRS", "Standard_GRS", "Standard_RAGRS"] = (
        "Standard_LRS"
    )
    """The storage account's replication; default Standard_LRS."""
    registry_sku: Literal["Basic", "Standard", "Premium"] = "Basic"
    """The container registry SKU; Premium is needed for private endpoints."""
    log_retention_days: int = Field(30, ge=30, le=730)
    """Log Analytics retention in days (30-730)."""
    protect: bool | None = None
    """Pulumi `protect` on the stateful resources (workspace, storage, key vault, registry,
    logs); default: the same as purgeProtection, so on in prod."""

    deployer_principal_type: Literal["ServicePrincipal", "User", "Group"] = "ServicePrincipal"
    """What kind of principal runs `pulumi up` (its data-plane role assignment must say so; Azure refuses a
    mismatch): ServicePrincipal for CI (default; a workload identity is one), User for a person."""

    def protect_state(self) -> bool:
        """Whether `pulumi destroy` must refuse to delete the stateful resources."""
        return self.purge_protection if self.protect is None else self.protect
