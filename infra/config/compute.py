"""`amlops:compute`: the batch cluster and an optional attached AKS cluster."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from infra.config.base import check_compute_name, ConfigModel
from infra.skus import COMPUTE_VM_SIZES


class KubernetesAttachConfig(ConfigModel):
    """An existing AKS cluster attached as a Kubernetes compute (online target `kubernetes`)."""

    name: str = "aks-online"
    """The compute name inside the workspace (2-16 characters)."""
    resource_id: str
    """The AKS cluster's ARM id; it must run the Azure ML extension."""
    namespace: str = "azureml"
    """The namespace the Azure ML extension serves from."""
    extension_name: str = "azureml"
    """The name of the Azure ML extension installed on the cluster."""
    instance_type: str = "defaultinstancetype"
    """The instance type defined by the extension's InstanceType CRD."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_compute_name(v)

    @field_validator("resource_id")
    @classmethod
    def _aks_id(cls, value: str) -> str:
        if "/providers/Microsoft.ContainerService/managedClusters/" not in value:
            raise ValueError(
                "must be an AKS cluster id (/subscriptions/…/providers/"
                f"Microsoft.ContainerService/managedClusters/NAME), got {value!r}"
            )
        return value


class ComputeConfig(ConfigModel):
    """The AmlCompute cluster batch jobs run on."""

    name: str = "cpu-sm-cluster"
    """The cluster name (2-16 letters, digits, hyphens); the book's `cpu-sm-cluster`."""
    vm_size: str = "Standard_DS3_v2"
    """One of the known VM sizes (infra/skus.py)."""
    priority: Literal["LowPriority", "Dedicated"] = "LowPriority"
    """LowPriority outside prod: cheaper, can be pre-empted."""
    min_nodes: int = Field(0, ge=0, le=100)
    """Default 0 so an idle cluster costs nothing."""
    max_nodes: int = Field(4, ge=1, le=100)
    """Must be ≥ minNodes."""
    idle_seconds_before_scale_down: int = Field(120, ge=60, le=86400)
    """Seconds a node idles before it is released (60-86400)."""
    kubernetes: KubernetesAttachConfig | None = None
    """An AKS cluster to attach; required when online.target is kubernetes."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_compute_name(v)

    @field_validator("vm_size")
    @classmethod
    def _vm_size(cls, v: str) -> str:
        if v not in COMPUTE_VM_SIZES:
            raise ValueError(f"must be one of {', '.join(COMPUTE_VM_SIZES)}, got {v!r}")
        return v
