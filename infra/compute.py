"""The AmlCompute cluster batch jobs run on, and the attach of an AKS cluster for Kubernetes online endpoints."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.config import ComputeConfig
from infra.durations import iso_seconds
from infra.errors import InvalidArgs


@dataclass(frozen=True)
class ComputeArgs:
    """What the Compute component needs."""

    resource_group_name: pulumi.Input[str]
    """The workspace's resource group."""
    workspace_name: pulumi.Input[str]
    """The ML workspace the computes belong to."""
    location: str
    """The Azure region of the cluster."""
    settings: ComputeConfig
    """The stack's amlops:compute settings (VM size, priority, nodes, idle scale-down, AKS attach)."""
    attach_kubernetes: bool = False
    """Attach settings.kubernetes as a Kubernetes compute (default false; online.target kubernetes)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource (default none)."""

    def validate(self) -> None:
        if self.attach_kubernetes and self.settings.kubernetes is None:
            raise InvalidArgs("Compute", "settings.kubernetes", "is required to attach a Kubernetes compute")
        if self.settings.min_nodes > self.settings.max_nodes:
            raise InvalidArgs("Compute", "settings.min_nodes", f"must be ≤ max_nodes ({self.settings.max_nodes})")


class Compute(pulumi.ComponentResource):
    """The `cpu-sm-cluster` (scales to zero when idle) and, optionally, an attached AKS cluster."""

    cluster_id: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    kubernetes_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: ComputeArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:compute:Compute", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        cluster = ml.Compute(
            f"{name}-cluster",
            compute_name=s.name,
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            location=args.location,
            tags=args.tags,
            properties=ml.AmlComputeArgs(
                compute_type="AmlCompute",
                description=f"{s.priority} {s.vm_size} nodes, {s.min_nodes}-{s.max_nodes}",
                properties=ml.AmlComputePropertiesArgs(
                    vm_size=s.vm_size,
                    vm_priority=s.priority,
                    os_type=ml.OsType.LINUX,
                    remote_login_port_public_access=ml.RemoteLoginPortPublicAccess.DISABLED,
                    scale_settings=ml.ScaleSettingsArgs(
                        min_node_count=s.min_nodes,
                        max_node_count=s.max_nodes,
                        node_idle_time_before_scale_down=iso_seconds(s.idle_seconds_before_scale_down),
                    ),
                ),
            ),
            opts=child,
        )
        self.cluster_id = cluster.id
        self.cluster_name = cluster.name
        self.kubernetes_id = None
        if args.attach_kubernetes and s.kubernetes is not None:
            k = s.kubernetes
            attached = ml.Compute(
                f"{name}-kubernetes",
                compute_name=k.name,
                resource_group_name=args.resource_group_name,
                workspace_name=args.workspace_name,
                location=args.location,
                tags=args.tags,
                properties=ml.KubernetesArgs(
                    compute_type="Kubernetes",
                    resource_id=k.resource_id,
                    description=f"AKS cluster with the Azure ML extension {k.extension_name!r}",
                    properties=ml.KubernetesPropertiesArgs(
                        namespace=k.namespace,
                        default_instance_type=k.instance_type,
                    ),
                ),
                opts=child,
            )
            self.kubernetes_id = attached.id
        self.register_outputs({"clusterId": self.cluster_id, "clusterName": self.cluster_name})
