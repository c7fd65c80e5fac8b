"""Role assignments: built-in Azure roles for the identities that run and deploy the stack, each on one resource.

Role definition ids are the built-in roles' fixed GUIDs, the same in every subscription
(https://learn.microsoft.com/azure/role-based-access-control/built-in-roles; each entry below
names its category page). Who needs what is Azure ML's documented contract:
https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication
("the compute cluster uses a managed identity to retrieve connection information for datastores
from Azure Key Vault and to pull Docker images from ACR"; identity-based datastores use it for
data) and https://learn.microsoft.com/azure/machine-learning/concept-endpoints-online-auth (an
online endpoint's identity reads blobs with a role holding
`Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read`; a system-assigned endpoint
identity is granted AcrPull on the workspace registry and Storage Blob Data Reader on the default
storage by Azure itself, so declaring those again would be refused as RoleAssignmentExists).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization

from infra.errors import InvalidArgs

BUILT_IN_ROLES: dict[str, str] = {
    # https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers#acrpull
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    # https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-data-reader
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    # https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-data-contributor
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    # https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-secrets-user
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}
"""Built-in role name → role definition GUID (never a custom role: these exist in every tenant)."""

PRINCIPAL_TYPES = ("ServicePrincipal", "User", "Group")
_NAMESPACE = uuid.UUID("6f1d5a3e-1c5b-4f0e-9a55-0d6c2b9c7a10")


@dataclass(frozen=True)
class RoleGrant:
    """One built-in role for one principal on one resource."""

    role: str
    """A key of BUILT_IN_ROLES."""
    principal_id: pulumi.Input[str]
    """The object id of the identity (a resource's system-assigned identity, or the deploy principal)."""
    scope: pulumi.Input[str]
    """The ARM id of the one resource the role applies to (never a resource group or subscription)."""
    why: str
    """What the identity does with it: the assignment's description in Azure."""
    holder: pulumi.Resource | None = None
    """The resource whose system-assigned identity `principal_id` is: the assignment waits for it explicitly."""
    principal_type: str = "ServicePrincipal"
    """ServicePrincipal (managed identities; naming it avoids the replication-delay failure on a new identity),
    User or Group; Azure refuses an assignment whose type does not match the principal."""


def role_definition_id(subscription_id: str, role: str) -> str:
    """The subscription-scoped id Azure wants for a built-in role."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{BUILT_IN_ROLES[role]}"


def assignment_name(stack_suffix: str, resource_name: str) -> str:
    """A GUID (what Azure requires as the assignment's name), stable for one stack and one declared grant."""
    return str(uuid.uuid5(_NAMESPACE, f"{stack_suffix}/{resource_name}"))


@dataclass(frozen=True)
class RoleAssignmentsArgs:
    """What the RoleAssignments component needs."""

    subscription_id: str
    """The subscription the role definitions are looked up in."""
    stack_suffix: str
    """The stack's name suffix (infra.naming): the assignment GUIDs differ per stack and subscription."""
    grants: dict[str, RoleGrant]
    """By a short kebab-case role name (`compute-acr-pull`); each becomes `<component>-<role name>`."""
    names_from: str | None = None
    """The component name the assignment GUIDs derive from (default: its own); a renamed component keeps its
    old one here, so its assignments keep their Azure names (a role assignment's name cannot change)."""

    def validate(self) -> None:
        if not self.subscription_id:
            raise InvalidArgs("RoleAssignments", "subscription_id", "must be a subscription id, got ''")
        for key, grant in self.grants.items():
            if grant.role not in BUILT_IN_ROLES:
                raise InvalidArgs("RoleAssignments", f"grants.{key}.role", f"must be one of {', '.join(BUILT_IN_ROLES)}, got {grant.role!r}")
            if grant.principal_type not in PRINCIPAL_TYPES:
                raise InvalidArgs(
                    "RoleAssignments", f"grants.{key}.principal_type", f"must be ServicePrincipal, User or Group, got {grant.principal_type!r}"
                )


class RoleAssignments(pulumi.ComponentResource):
    """One authorization.RoleAssignment per grant, scoped to the grant's resource."""

    assignment_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: RoleAssignmentsArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:roles:RoleAssignments", name, None, opts)
        self.assignment_ids = {}
        for key, grant in sorted(args.grants.items()):
            resource_name = f"{name}-{key}"
            assignment = authorization.RoleAssignment(
                resource_name,
                role_assignment_name=assignment_name(args.stack_suffix, f"{args.names_from or name}-{key}"),
                role_definition_id=role_definition_id(args.subscription_id, grant.role),
                principal_id=grant.principal_id,
                principal_type=grant.principal_type,
                scope=grant.scope,
                description=grant.why,
                # Every field is create-only and the name is fixed: a changed principal or scope must
                # delete the old assignment before the new one takes its name.
                opts=pulumi.ResourceOptions(
                    parent=self, delete_before_replace=True, depends_on=[grant.holder] if grant.holder else None
                ),
            )
            self.assignment_ids[key] = assignment.id
        self.register_outputs({"assignmentIds": self.assignment_ids})
