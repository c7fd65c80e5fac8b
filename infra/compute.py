"""The AmlCompute cluster batch jobs run on, and the attach of an AKS cluster for Kubernetes online endpoints."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.config import ComputeConfig
from infra.durations import iso_seconds
from infra.errors import InvalidArgs
from infra.roles import RoleAssignments, RoleAssignmentsArgs, RoleGrant


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
    subscription_id: str
    """The subscription (role definition ids are subscription-scoped)."""
    stack_suffix: str
    """The stack's name suffix (role assignment GUIDs)."""
    registry_id: pulumi.Input[str]
    """The workspace's container registry: the cluster pulls environment images with AcrPull (no admin user)."""
    key_vault_id: pulumi.Input[str]
    """The workspace's key vault: the cluster reads datastore connection secrets from it."""
    assets_container_id: pulumi.Input[str]
    """The asset container: jobs read code and model files through the identity-based datastore."""
    managed_network: bool = False
    """The workspace has a managed network (isolationMode not Disabled): nodes get no public IP, they live in it
    (https://learn.microsoft.com/azure/machine-learning/how-to-managed-network-compute); default false."""
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
    """The cluster's id, resolved only once its roles are assigned: a job or deployment using it waits for them."""
    cluster_name: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    """The object id of the cluster's system-assigned identity."""
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
            # Pulls images from a registry without an admin user and reads identity-based datastores.
            identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            properties=ml.AmlComputeArgs(
                compute_type="AmlCompute",
                description=f"{s.priority} {s.vm_size} nodes, {s.min_nodes}-{s.max_nodes}",
                properties=ml.AmlComputePropertiesArgs(
                    vm_size=s.vm_size,
                    vm_priority=s.priority,
                    os_type=ml.OsType.LINUX,
                    remote_login_port_public_access=ml.RemoteLoginPortPublicAccess.DISABLED,
                    enable_node_public_ip=False if args.managed_network else None,
                    scale_settings=ml.ScaleSettingsArgs(
                        min_node_count=s.min_nodes,
                        max_node_count=s.max_nodes,
                        node_idle_time_before_scale_down=iso_seconds(s.idle_seconds_before_scale_down),
                    ),
                ),
            ),
            opts=child,
        )
        principal_id = cluster.identity.apply(lambda i: i.principal_id if i else None)
        why = f"compute cluster {s.name}"
        roles = RoleAssignments(
            f"{name}-roles",
            RoleAssignmentsArgs(
                subscription_id=args.subscription_id,
                stack_suffix=args.stack_suffix,
                grants={
                    "acr-pull": RoleGrant("AcrPull", principal_id, args.registry_id, f"{why}: pulls environment images", cluster),
                    "secrets-user": RoleGrant("Key Vault Secrets User", principal_id, args.key_vault_id, f"{why}: reads datastore connection secrets", cluster),
                    "assets-read": RoleGrant("Storage Blob Data Reader", principal_id, args.assets_container_id, f"{why}: reads code and model files", cluster),
                },
            ),
            opts=child,
        )
        self.cluster_id = pulumi.Output.all(cluster.id, *roles.assignment_ids.values()).apply(lambda v: v[0])
        self.cluster_name = cluster.name
        self.principal_id = principal_id
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
