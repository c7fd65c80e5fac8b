"""The online endpoint: blue/green deployments, traffic applied after them, and autoscale."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.autoscale import Autoscale, AutoscaleArgs
from infra.config import ENDPOINT_ENV, MAX_ROWS_ENV, DeploymentConfig, OnlineConfig, ProbeSettings
from infra.config.model_monitor import TARGET_COLUMN_ENV
from infra.durations import iso_ms, iso_seconds
from infra.errors import InvalidArgs
from infra.model_monitor import data_collector_args
from infra.naming import is_endpoint_name
from infra.roles import RoleAssignments, RoleAssignmentsArgs, RoleGrant
from infra.traffic import EndpointTraffic, endpoint_revision

AUTH_MODES = {"key": ml.EndpointAuthMode.KEY, "aml_token": ml.EndpointAuthMode.AML_TOKEN, "aad_token": ml.EndpointAuthMode.AAD_TOKEN}
WORKER_COUNT_ENV = "WORKER_COUNT"


@dataclass(frozen=True)
class KubernetesTarget:
    """Where Kubernetes deployments run: the attached compute and its instance type."""

    compute_id: pulumi.Input[str]
    instance_type: str


@dataclass(frozen=True)
class OnlineEndpointArgs:
    """What the OnlineEndpoint component needs."""

    settings: OnlineConfig
    """The stack's amlops:online (endpoint, deployments, traffic, mirror traffic, autoscale)."""
    endpoint_name: str
    """The endpoint's Azure name: the readable base with the stack suffix (infra.naming.endpoint_name)."""
    model_ids: dict[str, pulumi.Input[str]]
    """The model asset id each deployment serves, by deployment name."""
    code_ids: dict[str, pulumi.Input[str]]
    """The scoring CodeVersion id each deployment runs, by deployment name (scoring/ packaged with the swagger
    of the deployment's model version and maxRows: infra/scoring_package.py)."""
    environment_id: pulumi.Input[str]
    """The scoring EnvironmentVersion id."""
    subscription_id: pulumi.Input[str]
    """The subscription (the traffic step talks to Azure ML through azure-ai-ml)."""
    resource_group_name: pulumi.Input[str]
    """The workspace's resource group."""
    workspace_name: pulumi.Input[str]
    """The ML workspace."""
    location: str
    """The Azure region."""
    stack_suffix: str
    """The stack's name suffix (role assignment GUIDs)."""
    assets_container_id: pulumi.Input[str]
    """The asset container the deployments' model and code come from: the endpoint identity reads it."""
    model_name: str = ""
    """The registered model it serves (its name goes into the endpoint's description)."""
    names_from: str | None = None
    """The component name its Azure names derive from where they come from a Pulumi name (role assignment GUIDs,
    autoscale settings); default its own. A model migrated to `amlops:models` keeps its single-model name here."""
    scoring_script: str = "score.py"
    """The entry script inside the code asset (default score.py)."""
    kubernetes: KubernetesTarget | None = None
    """Required when settings.target is kubernetes; unused for managed (default none)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource (default none)."""
    target_column: str | None = None
    """The model monitor's target column: score.py names its model_outputs column so (AMLOPS_TARGET_COLUMN) on
    each deployment with a data collector; default none (score.py's `prediction`)."""

    def validate(self) -> None:
        s = self.settings
        if not self.model_name:
            raise InvalidArgs("OnlineEndpoint", "model_name", "is required: the endpoint's description names the model it serves")
        if not is_endpoint_name(self.endpoint_name):
            raise InvalidArgs(
                "OnlineEndpoint", "endpoint_name", f"must be 3-32 letters, digits or hyphens, starting with a letter, got {self.endpoint_name!r}"
            )
        if not s.deployments:
            raise InvalidArgs("OnlineEndpoint", "settings.deployments", "must declare at least one deployment")
        missing = sorted(set(s.deployments) - set(self.model_ids))
        if missing:
            raise InvalidArgs("OnlineEndpoint", "model_ids", f"has no model for deployments {missing}")
        missing = sorted(set(s.deployments) - set(self.code_ids))
        if missing:
            raise InvalidArgs("OnlineEndpoint", "code_ids", f"has no scoring code for deployments {missing}")
        if s.target == "kubernetes" and self.kubernetes is None:
            raise InvalidArgs("OnlineEndpoint", "kubernetes", "is required when settings.target is kubernetes")
        unknown = sorted((set(s.traffic) | set(s.mirror_traffic)) - set(s.deployments))
        if unknown:
            raise InvalidArgs("OnlineEndpoint", "settings.traffic", f"names unknown deployments {unknown}")


def _probe(p: ProbeSettings) -> ml.ProbeSettingsArgs:
    return ml.ProbeSettingsArgs(
        initial_delay=iso_seconds(p.initial_delay),
        period=iso_seconds(p.period),
        timeout=iso_seconds(p.timeout),
        failure_threshold=p.failure_threshold,
        success_threshold=p.success_threshold,
    )


def deployment_environment(d: DeploymentConfig, endpoint_name: str, target_column: str | None = None) -> dict[str, str]:
    """The scoring container's variables: the endpoint's name, the row limit and worker count, then the configured
    ones, and where the deployment collects data for a monitor, the column name of its logged predictions."""
    collected = {TARGET_COLUMN_ENV: target_column} if target_column and d.data_collector is not None else {}
    return {
        ENDPOINT_ENV: endpoint_name,
        MAX_ROWS_ENV: str(d.request_settings.max_rows),
        WORKER_COUNT_ENV: str(d.worker_count),
        **d.environment_variables,
        **collected,
    }


class OnlineEndpoint(pulumi.ComponentResource):
    """OnlineEndpoint → OnlineDeployment per config entry → EndpointTraffic → Autoscale per deployment."""

    endpoint_name: pulumi.Output[str]
    endpoint_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    """The object id of the endpoint's system-assigned identity (the deployments' containers run as it)."""
    scoring_uri: pulumi.Output[str]
    swagger_uri: pulumi.Output[str]
    deployment_names: list[str]
    deployment_ids: dict[str, pulumi.Output[str]]
    deployments: dict[str, ml.OnlineDeployment]
    """The deployment resources, by name (what depends on one deployment waits for it alone)."""

    def __init__(self, name: str, args: OnlineEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:online_endpoint:OnlineEndpoint", name, None, opts)
        s = args.settings
        scope = {"resource_group_name": args.resource_group_name, "workspace_name": args.workspace_name}
        description = f"model {args.model_name}, {s.target} online endpoint"
        endpoint = ml.OnlineEndpoint(
            f"{name}-endpoint",
            endpoint_name=args.endpoint_name,
            location=args.location,
            tags=args.tags,
            identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            properties=ml.OnlineEndpointPropertiesArgs(
                auth_mode=AUTH_MODES[s.auth_mode],
                compute=args.kubernetes.compute_id if s.target == "kubernetes" and args.kubernetes else None,
                description=description,
            ),
            **scope,
            # The traffic maps belong to the EndpointTraffic step, after the deployments.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["properties.traffic", "properties.mirrorTraffic"]),
        )
        principal_id = endpoint.identity.apply(lambda i: i.principal_id if i else None)
        # AcrPull on the workspace registry is Azure's own automatic assignment for a system-assigned
        # endpoint identity (concept-endpoints-online-auth); the asset container is ours to grant.
        roles = RoleAssignments(
            f"{name}-roles",
            RoleAssignmentsArgs(
                subscription_id=str(args.subscription_id),
                stack_suffix=args.stack_suffix,
                names_from=f"{args.names_from}-roles" if args.names_from else None,
                grants={
                    "assets-read": RoleGrant(
                        "Storage Blob Data Reader", principal_id, args.assets_container_id,
                        f"online endpoint {args.endpoint_name}: deployments read model and code files",
                        holder=endpoint,
                    )
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        autoscaled = s.autoscale.enabled and s.target == "managed"
        # Autoscale owns sku.capacity once it runs: a refresh must not turn its count into a diff
        # that `pulumi up` would "fix" back to instanceCount.
        deployment_opts = pulumi.ResourceOptions(
            parent=self, ignore_changes=["sku.capacity"] if autoscaled else None, depends_on=[roles]
        )
        deployments: dict[str, ml.OnlineDeployment] = {}
        for dep_name, d in sorted(s.deployments.items()):
            deployments[dep_name] = ml.OnlineDeployment(
                f"{name}-{dep_name}",
                deployment_name=dep_name,
                endpoint_name=endpoint.name,
                location=args.location,
                tags=args.tags,
                sku=ml.SkuArgs(name="Default", capacity=d.instance_count),
                properties=self._properties(args, d, args.model_ids[dep_name], args.code_ids[dep_name]),
                **scope,
                opts=deployment_opts,
            )
        traffic = {dep: s.traffic.get(dep, 0) for dep in sorted(s.deployments)}
        EndpointTraffic(
            f"{name}-traffic",
            subscription_id=args.subscription_id,
            endpoint_name=endpoint.name,
            traffic=traffic,
            mirror_traffic={dep: pct for dep, pct in sorted(s.mirror_traffic.items()) if pct > 0},
            # The endpoint's own PUT carries no traffic maps; re-apply them whenever it is updated.
            endpoint_revision=endpoint_revision(args.endpoint_name, s.auth_mode, s.target, description, args.tags),
            **scope,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(deployments.values())),
        )
        if autoscaled:
            for dep_name, deployment in deployments.items():
                Autoscale(
                    f"{name}-{dep_name}-autoscale",
                    AutoscaleArgs(
                        deployment_id=deployment.id,
                        deployment_name=dep_name,
                        endpoint_id=endpoint.id,
                        resource_group_name=args.resource_group_name,
                        location=args.location,
                        settings=s.autoscale,
                        tags=args.tags,
                        setting_name=f"{args.names_from}-{dep_name}-autoscale" if args.names_from else None,
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
        props = endpoint.properties
        self.endpoint_name = endpoint.name
        self.endpoint_id = endpoint.id
        self.principal_id = principal_id
        self.scoring_uri = props.apply(lambda p: p.scoring_uri)
        self.swagger_uri = props.apply(lambda p: p.swagger_uri)
        self.deployment_names = sorted(deployments)
        self.deployment_ids = {k: v.id for k, v in deployments.items()}
        self.deployments = deployments
        self.register_outputs(
            {
                "endpointName": self.endpoint_name,
                "scoringUri": self.scoring_uri,
                "swaggerUri": self.swagger_uri,
                "deploymentNames": self.deployment_names,
            }
        )

    @staticmethod
    def _properties(args: OnlineEndpointArgs, d: DeploymentConfig, model_id: pulumi.Input[str], code_id: pulumi.Input[str]):
        common = dict(
            model=model_id,
            code_configuration=ml.CodeConfigurationArgs(code_id=code_id, scoring_script=args.scoring_script),
            environment_id=args.environment_id,
            environment_variables=deployment_environment(d, args.endpoint_name, args.target_column),
            data_collector=data_collector_args(d.data_collector) if d.data_collector is not None else None,
            app_insights_enabled=d.app_insights_enabled,
            request_settings=ml.OnlineRequestSettingsArgs(
                request_timeout=iso_ms(d.request_settings.request_timeout_ms),
                max_concurrent_requests_per_instance=d.request_settings.max_concurrent_requests_per_instance,
                max_queue_wait=iso_ms(d.request_settings.max_queue_wait_ms),
            ),
            liveness_probe=_probe(d.liveness_probe),
            readiness_probe=_probe(d.readiness_probe),
        )
        # Typed Args for the union: a plain dict would go out with snake_case keys Azure ignores.
        if args.settings.target == "kubernetes" and args.kubernetes is not None:
            return ml.KubernetesOnlineDeploymentArgs(
                endpoint_compute_type="Kubernetes", instance_type=args.kubernetes.instance_type, **common
            )
        return ml.ManagedOnlineDeploymentArgs(endpoint_compute_type="Managed", instance_type=d.instance_type, **common)
