"""The Azure ML workspace and what it stands on: resource group, storage, key vault, registry, logs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import (
    applicationinsights,
    containerregistry,
    keyvault,
    machinelearningservices as ml,
    operationalinsights,
    resources,
    storage,
)

from infra.config import NetworkConfig, WorkspaceConfig
from infra.errors import InvalidArgs
from infra.naming import ResourceNames
from infra.network import managed_network, registry_access, storage_access, vault_access
from infra.roles import RoleAssignments, RoleAssignmentsArgs, RoleGrant


@dataclass(frozen=True)
class WorkspaceArgs:
    """What the Workspace component needs."""

    names: ResourceNames
    """The Azure names of every resource here (infra.naming.derive_names)."""
    location: str
    """The Azure region of every resource."""
    tenant_id: pulumi.Input[str]
    """The Entra tenant the key vault trusts (from azure-native's client config)."""
    settings: WorkspaceConfig
    """The stack's amlops:workspace settings."""
    subscription_id: str
    """The subscription (role definition ids are subscription-scoped)."""
    deployer_object_id: pulumi.Input[str]
    """The object id of the principal running `pulumi up` (azure-native's client config): it uploads the assets."""
    network: NetworkConfig = NetworkConfig()
    """The stack's amlops:network: public access of the workspace's dependencies and the managed network (default public)."""
    image_build_compute: str | None = None
    """The compute cluster that builds environment images when the registry is not public (ACR tasks cannot reach a
    registry behind a firewall or private endpoint); default none (the registry builds them)."""
    app_insights: bool = True
    """Declare Log Analytics + workspace-based Application Insights (default true)."""
    protect: bool = False
    """Pulumi `protect` on the stateful resources (default false; prod sets it)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource (default none)."""

    def validate(self) -> None:
        if not self.location:
            raise InvalidArgs("Workspace", "location", "must name an Azure region, got ''")
        if not self.subscription_id:
            raise InvalidArgs("Workspace", "subscription_id", "must be a subscription id, got ''")


class Workspace(pulumi.ComponentResource):
    """An ML workspace with a system-assigned identity and its four dependencies linked."""

    resource_group_name: pulumi.Output[str]
    workspace_name: pulumi.Output[str]
    workspace_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    storage_account_name: pulumi.Output[str]
    storage_account_id: pulumi.Output[str]
    assets_container_name: pulumi.Output[str]
    """The container's name, available only once the deployer may write to it (uploads wait for the grant)."""
    assets_container_id: pulumi.Output[str]
    assets_datastore_name: pulumi.Output[str]
    """The identity-based datastore over the asset container (code and model URIs are azureml://datastores/<it>/paths/...)."""
    key_vault_id: pulumi.Output[str]
    registry_id: pulumi.Output[str]
    app_insights_id: pulumi.Output[str] | None
    app_insights_connection_string: pulumi.Output[str] | None

    def __init__(self, name: str, args: WorkspaceArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:workspace:Workspace", name, None, opts)
        n, s = args.names, args.settings
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        common = {"location": args.location, "tags": args.tags}

        group = resources.ResourceGroup(f"{name}-rg", resource_group_name=n.resource_group, **common, opts=stateful)
        rg = group.name
        account = storage.StorageAccount(
            f"{name}-storage",
            account_name=n.storage_account,
            resource_group_name=rg,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=s.storage_sku),
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            allow_blob_public_access=False,
            enable_https_traffic_only=True,
            **storage_access(args.network),
            **common,
            opts=stateful,
        )
        container = storage.BlobContainer(
            f"{name}-assets",
            container_name=n.assets_container,
            account_name=account.name,
            resource_group_name=rg,
            public_access=storage.PublicAccess.NONE,
            # Holds every uploaded code and model version the deployments reference.
            opts=stateful,
        )
        vault = keyvault.Vault(
            f"{name}-keyvault",
            vault_name=n.key_vault,
            resource_group_name=rg,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                # Azure refuses purge protection false once set; leave it out instead.
                enable_purge_protection=True if s.purge_protection else None,
                **vault_access(args.network),
            ),
            **common,
            opts=stateful,
        )
        registry = containerregistry.Registry(
            f"{name}-registry",
            registry_name=n.container_registry,
            resource_group_name=rg,
            sku=containerregistry.SkuArgs(name=s.registry_sku),
            admin_user_enabled=False,
            **registry_access(args.network),
            **common,
            opts=stateful,
        )
        insights = None
        if args.app_insights:
            logs = operationalinsights.Workspace(
                f"{name}-logs",
                workspace_name=n.log_analytics,
                resource_group_name=rg,
                sku=operationalinsights.WorkspaceSkuArgs(name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018),
                retention_in_days=s.log_retention_days,
                **common,
                opts=stateful,
            )
            insights = applicationinsights.Component(
                f"{name}-appinsights",
                resource_name_=n.app_insights,
                resource_group_name=rg,
                kind="web",
                application_type=applicationinsights.ApplicationType.WEB,
                ingestion_mode=applicationinsights.IngestionMode.LOG_ANALYTICS,
                workspace_resource_id=logs.id,
                **common,
                opts=stateful,
            )
        workspace = ml.Workspace(
            f"{name}-workspace",
            workspace_name=n.workspace,
            resource_group_name=rg,
            identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            sku=ml.SkuArgs(name=s.sku, tier=s.sku),
            storage_account=account.id,
            key_vault=vault.id,
            container_registry=registry.id,
            application_insights=insights.id if insights else None,
            public_network_access=s.public_network_access,
            hbi_workspace=s.hbi_workspace,
            managed_network=managed_network(args.network),
            image_build_compute=args.image_build_compute,
            friendly_name=n.workspace,
            **common,
            opts=stateful,
        )

        principal_id = workspace.identity.apply(lambda i: i.principal_id if i else None)
        roles = RoleAssignments(
            f"{name}-roles",
            RoleAssignmentsArgs(
                subscription_id=args.subscription_id,
                stack_suffix=n.suffix,
                grants={
                    # The identity-based asset datastore: the service reads it as the workspace.
                    "workspace-assets-read": RoleGrant(
                        "Storage Blob Data Reader", principal_id, container.id,
                        "workspace identity: service data access to the asset datastore", holder=workspace,
                    ),
                    # Uploads of code and model files (data plane, so they work without shared keys too).
                    "deployer-assets-write": RoleGrant(
                        "Storage Blob Data Contributor", args.deployer_object_id, container.id,
                        "deploy principal: uploads code and model files to the asset container",
                        principal_type=s.deployer_principal_type,
                    ),
                },
            ),
            opts=child,
        )

        # The asset container as an identity-based datastore (no stored credential): jobs read it as the
        # compute identity, the service as the workspace identity
        # (https://learn.microsoft.com/azure/machine-learning/how-to-datastore#create-an-azure-blob-datastore,
        # "identity-based access"); code and model versions point into it with azureml://datastores/ URIs.
        datastore = ml.Datastore(
            f"{name}-datastore",
            name=n.assets_datastore,
            resource_group_name=rg,
            workspace_name=workspace.name,
            properties=ml.AzureBlobDatastoreArgs(
                datastore_type="AzureBlob",
                account_name=account.name,
                container_name=container.name,
                endpoint="core.windows.net",
                protocol="https",
                credentials=ml.NoneDatastoreCredentialsArgs(credentials_type="None"),
                service_data_access_auth_identity=ml.ServiceDataAccessAuthIdentity.WORKSPACE_SYSTEM_ASSIGNED_IDENTITY,
                description="code and model files uploaded by amlops, one content-addressed folder per version",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[roles]),
        )

        self.resource_group_name = rg
        self.workspace_name = workspace.name
        self.workspace_id = workspace.id
        self.principal_id = principal_id
        self.storage_account_name = account.name
        self.storage_account_id = account.id
        self.assets_container_name = pulumi.Output.all(container.name, *roles.assignment_ids.values()).apply(lambda v: v[0])
        self.assets_container_id = container.id
        self.assets_datastore_name = datastore.name
        self.key_vault_id = vault.id
        self.registry_id = registry.id
        self.app_insights_id = insights.id if insights else None
        self.app_insights_connection_string = (
            pulumi.Output.secret(insights.connection_string) if insights else None
        )
        self.register_outputs(
            {
                "resourceGroupName": self.resource_group_name,
                "workspaceName": self.workspace_name,
                "workspaceId": self.workspace_id,
                "storageAccountName": self.storage_account_name,
                "assetsContainerName": self.assets_container_name,
            }
        )
