"""The Pulumi program: read the stack's `amlops:` config once, validate it, wire the components.

`pulumi up -s <stack>` runs it against Azure; `amlops plan` runs it under pulumi mocks
(AMLOPS_PLAN_OFFLINE=1), where a model version missing from the registry becomes a
warning instead of a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pulumi
from pulumi_azure_native import authorization

from infra.batch_endpoint import BatchEndpoint, BatchEndpointArgs, SCRIPTS, SHARED_MODULES
from infra.code_asset import CodeAsset, CodeAssetArgs
from infra.compute import Compute, ComputeArgs
from infra.config import KEYS, PROJECT, ConfigError, StackConfig, parse_config
from infra.environment import Environment, EnvironmentArgs
from infra.errors import InfraError
from infra.managed_network import ManagedNetworkProvision
from infra.model_asset import ModelAsset, ModelAssetArgs, ModelFiles
from infra.model_source import ModelSourceError, resolve
from infra.monitoring import Monitoring, MonitoringArgs
from infra.naming import derive_names, endpoint_name
from infra.network import PrivateNetwork, PrivateNetworkArgs
from infra.online_endpoint import KubernetesTarget, OnlineEndpoint, OnlineEndpointArgs
from infra.schedule import BatchSchedule, BatchScheduleArgs
from infra.scoring_package import scoring_codes
from infra.workspace import Workspace, WorkspaceArgs

OFFLINE_ENV = "AMLOPS_PLAN_OFFLINE"


def read_config(stack: str) -> StackConfig:
    """Every `amlops:` key through pulumi.Config, validated by infra.config."""
    config = pulumi.Config(PROJECT)
    raw = {}
    for key in KEYS:
        camel = StackConfig.model_fields[key].alias or key
        value = config.get(camel) if StackConfig.model_fields[key].annotation is str else config.get_object(camel)
        if value is not None:
            raw[camel] = value
    return parse_config(raw, source=f"stacks/Pulumi.{stack}.yaml")


def model_files(cfg: StackConfig, offline: bool) -> tuple[ModelFiles, ...]:
    """Every distinct model version the deployments serve (and the batch deployment's), with its files."""
    versions = {cfg.model.version} | {cfg.deployment_model_version(d) for d in cfg.online.deployments}
    if cfg.model.azureml_registry is not None:
        return tuple(ModelFiles(v, None) for v in sorted(versions))
    found = []
    for version in sorted(versions):
        try:
            found.append(ModelFiles(version, resolve(cfg.model.name, version, cfg.registry.tracking_uri).folder))
        except ModelSourceError as exc:
            if not offline:
                raise
            pulumi.log.warn(f"{exc}; planned with an unresolved content hash")
            found.append(ModelFiles(version, None))
    return tuple(found)


def main() -> None:
    stack = pulumi.get_stack()
    root = Path(__file__).resolve().parent.parent
    offline = os.environ.get(OFFLINE_ENV) == "1"
    try:
        cfg = read_config(stack)
        models = model_files(cfg, offline)
    except ConfigError as exc:
        raise pulumi.RunError(exc.render()) from None
    except ModelSourceError as exc:
        raise pulumi.RunError(str(exc)) from None

    # A plain (blocking) invoke: the subscription id goes into the globally unique names.
    client = authorization.get_client_config()
    names = derive_names(pulumi.get_project(), stack, cfg.prefix, scope=client.subscription_id)
    tags = dict(cfg.tags)
    location = cfg.location
    try:
        ws = Workspace(
            "workspace",
            WorkspaceArgs(
                names=names,
                location=location,
                tenant_id=client.tenant_id,
                subscription_id=client.subscription_id,
                deployer_object_id=client.object_id,
                settings=cfg.workspace,
                network=cfg.network,
                image_build_compute=cfg.compute.name if cfg.network.access != "public" else None,
                app_insights=cfg.monitoring.app_insights,
                protect=cfg.workspace.protect_state(),
                tags=tags,
            ),
        )
        scope = {"resource_group_name": ws.resource_group_name, "workspace_name": ws.workspace_name}
        # A managed network is provisioned before any compute or deployment runs in it (infra/managed_network.py):
        # they name the workspace through the provisioning's output, so each of their resources depends on it
        # (a component's depends_on would not reach its children).
        run_scope = scope
        if cfg.network.isolation_mode != "Disabled":
            provisioned = ManagedNetworkProvision(
                "workspace-managed-network",
                subscription_id=client.subscription_id,
                isolation_mode=cfg.network.isolation_mode,
                # A step of the workspace: it names the workspace (so it waits for it) and is shown under it.
                opts=pulumi.ResourceOptions(parent=ws),
                **scope,
            )
            run_scope = {**scope, "workspace_name": provisioned.workspace_name}
        net = None
        if cfg.network.virtual_network is not None:
            net = PrivateNetwork(
                "network",
                PrivateNetworkArgs(
                    settings=cfg.network.virtual_network,
                    virtual_network_name=names.virtual_network,
                    private_endpoint_prefix=names.private_endpoint_prefix,
                    targets={
                        "workspace": ws.workspace_id,
                        "storage": ws.storage_account_id,
                        "key_vault": ws.key_vault_id,
                        "registry": ws.registry_id,
                    },
                    resource_group_name=ws.resource_group_name,
                    location=location,
                    tags=tags,
                ),
            )
        upload = {
            "storage_account_name": ws.storage_account_name,
            "container_name": ws.assets_container_name,
            "datastore_name": ws.assets_datastore_name,
        }
        if net is not None:
            # The runner inside the network uploads through the blob private endpoint: wait for it and its DNS records.
            upload["container_name"] = pulumi.Output.all(ws.assets_container_name, *net.dns_zone_group_ids.values()).apply(lambda v: v[0])
        kubernetes = cfg.online.target == "kubernetes"
        compute = Compute(
            "compute",
            ComputeArgs(
                location=location,
                settings=cfg.compute,
                subscription_id=client.subscription_id,
                stack_suffix=names.suffix,
                registry_id=ws.registry_id,
                key_vault_id=ws.key_vault_id,
                assets_container_id=ws.assets_container_id,
                managed_network=cfg.network.isolation_mode != "Disabled",
                attach_kubernetes=kubernetes,
                tags=tags,
                **run_scope,
            ),
        )
        # Each online deployment runs scoring/ packaged with the swagger of its model version, exactly what
        # `amlops serve` serves; the first package (the pinned version's) keeps the plain resource names.
        scoring, missing_swagger = scoring_codes(cfg, {m.version: m.folder for m in models}, root / "scoring")
        for warning in missing_swagger:
            pulumi.log.warn(warning)
        folders = {
            "scoring": (scoring[0].folder, {c.label: c.folder for c in scoring[1:]}),
            "batch": (root / "batch", {}),
        }
        scripts = {"scoring": ("score.py",), "batch": (SCRIPTS[cfg.batch.mode], *SHARED_MODULES)}
        code, env = {}, {}
        for artifact, entry_scripts in scripts.items():
            code[artifact] = CodeAsset(
                f"{artifact}-code",
                CodeAssetArgs(
                    asset_name=f"{cfg.prefix}-{artifact}",
                    folder=folders[artifact][0],
                    variants=folders[artifact][1],
                    entry_scripts=entry_scripts,
                    description=f"{artifact}/: the {artifact} entry scripts",
                    **scope,
                    **upload,
                ),
            )
            env[artifact] = Environment(
                f"{artifact}-env",
                EnvironmentArgs(
                    environment_name=f"{cfg.prefix}-{artifact}-env",
                    conda_file=root / artifact / "environment" / "conda.yaml",
                    description=f"{artifact}/environment/conda.yaml on the inference base image",
                    **scope,
                ),
            )
        model = ModelAsset(
            "model",
            ModelAssetArgs(
                model_name=cfg.model.name,
                versions=models,
                azureml_registry=cfg.model.azureml_registry,
                tags={"registry": "mlflow"},
                **scope,
                **({} if cfg.model.azureml_registry else upload),
            ),
        )
        scoring_ids = {scoring[0].label: code["scoring"].code_id, **code["scoring"].variant_ids}
        online = OnlineEndpoint(
            "online",
            OnlineEndpointArgs(
                settings=cfg.online,
                endpoint_name=endpoint_name(cfg.online.endpoint_name, names.suffix),
                model_ids={d: model.asset_ids[cfg.deployment_model_version(d)] for d in cfg.online.deployments},
                code_ids={d: scoring_ids[c.label] for c in scoring for d in c.deployments},
                environment_id=env["scoring"].environment_id,
                subscription_id=client.subscription_id,
                location=location,
                stack_suffix=names.suffix,
                assets_container_id=ws.assets_container_id,
                kubernetes=(
                    KubernetesTarget(compute.kubernetes_id, cfg.compute.kubernetes.instance_type)
                    if kubernetes and compute.kubernetes_id is not None and cfg.compute.kubernetes
                    else None
                ),
                tags=tags,
                **run_scope,
            ),
        )
        if cfg.monitoring.alerts_enabled and ws.app_insights_id is not None and cfg.monitoring.action_group_email:
            Monitoring(
                "monitoring",
                MonitoringArgs(
                    email=cfg.monitoring.action_group_email,
                    alerts=cfg.monitoring.alerts,
                    endpoint_id=online.endpoint_id,
                    app_insights_id=ws.app_insights_id,
                    resource_group_name=ws.resource_group_name,
                    location=location,
                    action_group_name=names.action_group,
                    action_group_short_name=names.action_group_short,
                    tags=tags,
                ),
            )
        batch = BatchEndpoint(
            "batch",
            BatchEndpointArgs(
                settings=cfg.batch,
                model_id=model.asset_ids[cfg.model.version],
                code_id=code["batch"].code_id,
                environment_id=env["batch"].environment_id,
                compute_id=compute.cluster_id,
                subscription_id=client.subscription_id,
                stack_suffix=names.suffix,
                location=location,
                tags=tags,
                **run_scope,
            ),
        )
        if cfg.batch.schedule is not None:
            BatchSchedule(
                "batch-schedule",
                BatchScheduleArgs(
                    settings=cfg.batch,
                    schedule_name=f"{cfg.batch.endpoint_name}-schedule",
                    endpoint_name=batch.endpoint_name,
                    default_deployment=batch.default_deployment,
                    workspace_id=ws.workspace_id,
                    tags=tags,
                    **run_scope,
                ),
            )
    except InfraError as exc:
        raise pulumi.RunError(f"stacks/Pulumi.{stack}.yaml: {exc}") from None

    pulumi.export("resourceGroupName", ws.resource_group_name)
    pulumi.export("workspaceName", ws.workspace_name)
    pulumi.export("onlineEndpointName", online.endpoint_name)
    pulumi.export("scoringUri", online.scoring_uri)
    pulumi.export("swaggerUri", online.swagger_uri)
    pulumi.export("onlineDeploymentNames", online.deployment_names)
    pulumi.export("batchEndpointName", batch.endpoint_name)
    pulumi.export("batchDeploymentName", batch.deployment_name)
    pulumi.export("scoringCodeVersion", code["scoring"].version)
    pulumi.export("batchCodeVersion", code["batch"].version)
    pulumi.export("modelVersions", sorted(model.asset_ids))
    if ws.app_insights_connection_string is not None:
        pulumi.export("appInsightsConnectionString", ws.app_insights_connection_string)


main()
