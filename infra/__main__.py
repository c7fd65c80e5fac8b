"""The Pulumi program: read the stack's `amlops:` config once, validate it, wire the components.

`pulumi up -s <stack>` runs it against Azure; `amlops plan` runs it under pulumi mocks
(AMLOPS_PLAN_OFFLINE=1), where a model version missing from the registry becomes a
warning instead of a failure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi_azure_native import authorization

from infra.batch_endpoint import BatchEndpoint, BatchEndpointArgs, SCRIPTS, SHARED_MODULES
from infra.code_asset import CodeAsset, CodeAssetArgs
from infra.compute import Compute, ComputeArgs
from pydantic.alias_generators import to_camel

from infra.config import KEYS, PROJECT, ConfigError, ModelConfig, MultiModelConfig, OnlineConfig, StackConfig, parse_config
from infra.environment import Environment, EnvironmentArgs
from infra.errors import InfraError
from infra.managed_network import ManagedNetworkProvision
from infra.model_asset import ModelAsset, ModelAssetArgs, ModelFiles
from infra.model_monitor import ModelMonitor, ModelMonitorArgs
from infra.model_resolution import model_files
from infra.model_source import ModelSourceError
from infra.multi_model import combine
from infra.multi_model_asset import CombinedModel, CombinedModelArgs
from infra.monitoring import AlertTarget, Monitoring, MonitoringArgs
from infra.naming import MONITORING_COMPONENT, derive_names, endpoint_name
from infra.network import PrivateNetwork, PrivateNetworkArgs
from infra.online_endpoint import KubernetesTarget, OnlineEndpoint, OnlineEndpointArgs
from infra.schedule import BatchSchedule, BatchScheduleArgs
from infra.scoring_package import DEFAULT_MAX_ROWS, package_scoring, scoring_codes
from infra.workspace import Workspace, WorkspaceArgs

OFFLINE_ENV = "AMLOPS_PLAN_OFFLINE"


def read_config(stack: str) -> StackConfig:
    """Every `amlops:` key through pulumi.Config, validated by infra.config."""
    config = pulumi.Config(PROJECT)
    raw = {}
    for key in KEYS:
        field = StackConfig.model_fields.get(key)
        camel = to_camel(key)
        value = config.get(camel) if field is not None and field.annotation is str else config.get_object(camel)
        if value is not None:
            raw[camel] = value
    return parse_config(raw, source=f"stacks/Pulumi.{stack}.yaml")


@dataclass(frozen=True)
class Shared:
    """What every model's resources use: the workspace, the compute, the environments and the batch code."""

    root: Path
    cfg: StackConfig
    client: Any
    names: Any
    ws: Workspace
    compute: Compute
    scope: dict[str, Any]
    run_scope: dict[str, Any]
    """The scope of what runs in the workspace (after its managed network is provisioned)."""
    upload: dict[str, Any]
    env: dict[str, Environment]
    batch_code: CodeAsset
    kubernetes: bool


@dataclass
class Served:
    """One model's declared resources."""

    model: ModelAsset
    scoring: CodeAsset | None
    online: OnlineEndpoint | None
    batch: BatchEndpoint | None

    def exports(self) -> dict[str, Any]:
        out: dict[str, Any] = {"modelVersions": sorted(self.model.asset_ids)}
        if self.online is not None and self.scoring is not None:
            out |= {
                "onlineEndpointName": self.online.endpoint_name,
                "scoringUri": self.online.scoring_uri,
                "swaggerUri": self.online.swagger_uri,
                "onlineDeploymentNames": self.online.deployment_names,
                "scoringCodeVersion": self.scoring.version,
            }
        if self.batch is not None:
            out |= {"batchEndpointName": self.batch.endpoint_name, "batchDeploymentName": self.batch.deployment_name}
        return out


def declare_online(
    s: Shared, name: str, online: OnlineConfig, *, model_ids: dict[str, Any], code_ids: dict[str, Any], model_name: str,
    scoring_script: str = "score.py", names_from: str | None = None, target_column: str | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> OnlineEndpoint:
    """One online endpoint (a model's or a group's) with its deployments' models and scoring code; `names_from`
    and `opts`: a migrated model's old name for its Azure names and its alias (declare_model); `target_column`:
    the model monitor's, on each deployment that collects data."""
    cfg = s.cfg
    return OnlineEndpoint(
        name,
        OnlineEndpointArgs(
            settings=online,
            endpoint_name=endpoint_name(online.endpoint_name, s.names.suffix),
            model_name=model_name,
            names_from=names_from,
            model_ids=model_ids,
            code_ids=code_ids,
            scoring_script=scoring_script,
            environment_id=s.env["scoring"].environment_id,
            subscription_id=s.client.subscription_id,
            location=cfg.location,
            stack_suffix=s.names.suffix,
            assets_container_id=s.ws.assets_container_id,
            kubernetes=(
                KubernetesTarget(s.compute.kubernetes_id, cfg.compute.kubernetes.instance_type)
                if online.target == "kubernetes" and s.compute.kubernetes_id is not None and cfg.compute.kubernetes
                else None
            ),
            tags=dict(cfg.tags),
            target_column=target_column,
            **s.run_scope,
        ),
        opts,
    )


def declare_model(s: Shared, key: str, m: ModelConfig, files: tuple[ModelFiles, ...]) -> Served:
    """One model's resources, each named `<key>-<role>` (plain `<role>` in a single-model stack file):
    its model versions, its packaged scoring code, its online endpoint and its batch endpoint (and schedule)."""
    cfg, ws, label = s.cfg, s.ws, s.cfg.label(key)

    def opts(role: str) -> pulumi.ResourceOptions | None:
        """A migrated model's component keeps its single-model URN (its children follow through Pulumi's alias inheritance)."""
        return pulumi.ResourceOptions(aliases=[pulumi.Alias(name=role)]) if cfg.migrated(key) else None

    model = ModelAsset(
        f"{label}model",
        ModelAssetArgs(
            model_name=m.name,
            versions=files,
            azureml_registry=m.azureml_registry,
            tags={"registry": "mlflow"},
            **s.scope,
            **({} if m.azureml_registry else s.upload),
        ),
        opts("model"),
    )
    scoring = online = batch = None
    if m.online is not None:
        # Each online deployment runs scoring/ packaged with the swagger of its model version, exactly what
        # `amlops serve` serves; the first package (the pinned version's) keeps the plain resource names.
        codes, missing_swagger = scoring_codes(m, {f.version: f.folder for f in files}, s.root / "scoring")
        for warning in missing_swagger:
            pulumi.log.warn(f"model {key}: {warning}" if label else warning)
        scoring = CodeAsset(
            f"{label}scoring-code",
            CodeAssetArgs(
                asset_name=f"{cfg.prefix}-{cfg.asset_label(key)}scoring",
                folder=codes[0].folder,
                variants={c.label: c.folder for c in codes[1:]},
                entry_scripts=("score.py",),
                description="scoring/: the scoring entry scripts",
                **s.scope,
                **s.upload,
            ),
            opts("scoring-code"),
        )
        scoring_ids = {codes[0].label: scoring.code_id, **scoring.variant_ids}
        online = declare_online(
            s,
            f"{label}online",
            m.online,
            model_ids={d: model.asset_ids[m.deployment_model_version(d)] for d in m.online.deployments},
            code_ids={d: scoring_ids[c.label] for c in codes for d in c.deployments},
            model_name=m.name,
            names_from="online" if cfg.migrated(key) else None,
            target_column=m.monitor.target_column if m.monitor is not None else None,
            opts=opts("online"),
        )
        if m.monitor is not None:
            monitored = m.monitored_deployment()
            collector = m.online.deployments[monitored].data_collector  # the config rules hold both
            assert monitored is not None and collector is not None and cfg.monitoring.action_group_email
            ModelMonitor(
                f"{label}monitor",
                ModelMonitorArgs(
                    settings=m.monitor,
                    schedule_name=f"{m.online.endpoint_name}-monitor",
                    endpoint_name=online.endpoint_name,
                    deployment_name=monitored,
                    emails=[cfg.monitoring.action_group_email],
                    collections=collector.collections,
                    depends_on=[online.deployments[monitored]],
                    **s.run_scope,
                ),
                opts("monitor"),
            )
    if m.batch is not None:
        batch = BatchEndpoint(
            f"{label}batch",
            BatchEndpointArgs(
                settings=m.batch,
                model_id=model.asset_ids[m.version],
                code_id=s.batch_code.code_id,
                environment_id=s.env["batch"].environment_id,
                compute_id=s.compute.cluster_id,
                subscription_id=s.client.subscription_id,
                stack_suffix=s.names.suffix,
                location=cfg.location,
                tags=dict(cfg.tags),
                **s.run_scope,
            ),
            opts("batch"),
        )
        if m.batch.schedule is not None:
            # A scheduled run is a pipeline job with the batch deployment's script, code, environment, model,
            # cluster and settings (infra/schedule.py): the same scoring, on a documented schedule action.
            BatchSchedule(
                f"{label}batch-schedule",
                BatchScheduleArgs(
                    settings=m.batch,
                    schedule_name=f"{m.batch.endpoint_name}-schedule",
                    model_id=model.asset_ids[m.version],
                    code_id=s.batch_code.code_id,
                    environment_id=s.env["batch"].environment_id,
                    compute_id=s.compute.cluster_id,
                    workspace_id=ws.workspace_id,
                    tags=dict(cfg.tags),
                    **s.run_scope,
                ),
                opts("batch-schedule"),
            )
    return Served(model, scoring, online, batch)


@dataclass
class ServedGroup:
    """One multi-model group's declared resources."""

    model: CombinedModel
    scoring: CodeAsset
    online: OnlineEndpoint

    def exports(self) -> dict[str, Any]:
        return {
            "modelVersion": self.model.version,
            "onlineEndpointName": self.online.endpoint_name,
            "scoringUri": self.online.scoring_uri,
            "swaggerUri": self.online.swagger_uri,
            "onlineDeploymentNames": self.online.deployment_names,
            "scoringCodeVersion": self.scoring.version,
        }


def declare_group(s: Shared, key: str, g: MultiModelConfig, files: dict[str, tuple[ModelFiles, ...]]) -> ServedGroup:
    """One amlops:multiModel group's resources, each named `<key>-<role>`: the members' MLflow folders at their
    pinned versions as one combined model asset, scoring/ with score_multi.py as the entry script (it routes each
    request by its "model" field to that member's copy of score.py), and the group's online endpoint."""
    cfg = s.cfg
    pins = {member: cfg.models[member].version for member in g.models}
    folders = {member: next(f.folder for f in files[member] if f.version == pins[member]) for member in g.models}
    missing = sorted(member for member, folder in folders.items() if folder is None)
    if missing:
        pulumi.log.warn(
            f"multiModel {key}: model{'s' if len(missing) > 1 else ''} {', '.join(missing)} unresolved; the combined model is planned "
            "without its content hash and the scoring code without swagger (Azure would serve the inference server's generic one)"
        )
    combined = None if missing else combine(folders)  # type: ignore[arg-type]
    model = CombinedModel(
        f"{key}-models",
        CombinedModelArgs(
            model_name=f"{cfg.prefix}-{key}-models",
            folder=combined,
            members={member: f"{cfg.models[member].name}:{pins[member]}" for member in g.models},
            tags={"registry": "mlflow"},
            **s.scope,
            **s.upload,
        ),
    )
    # scoring/ packaged with the members' specs routed by "model" (infra/swagger_multi.py), per distinct maxRows,
    # exactly as `amlops serve` packages it; plain scoring/ when a member is not on this machine.
    title = f"{cfg.prefix}-{key}-models"
    rows = {d: dep.request_settings.max_rows for d, dep in g.online.deployments.items()}
    packages = {
        n: (package_scoring(combined, max_rows=n, title=title, scoring_dir=s.root / "scoring") if combined is not None else s.root / "scoring")
        for n in sorted(set(rows.values()) or {DEFAULT_MAX_ROWS})
    }
    main_rows = DEFAULT_MAX_ROWS if DEFAULT_MAX_ROWS in packages else next(iter(packages))
    scoring = CodeAsset(
        f"{key}-scoring-code",
        CodeAssetArgs(
            asset_name=f"{cfg.prefix}-{key}-scoring",
            folder=packages[main_rows],
            variants={f"rows{n}": folder for n, folder in packages.items() if n != main_rows and combined is not None},
            entry_scripts=("score_multi.py", "score.py"),
            description="scoring/: score_multi.py routes each request to one model's score.py",
            **s.scope,
            **s.upload,
        ),
    )
    code_ids = {n: scoring.variant_ids.get(f"rows{n}", scoring.code_id) for n in packages}
    online = declare_online(
        s,
        f"{key}-online",
        g.online,
        model_ids={d: model.asset_id for d in g.online.deployments},
        code_ids={d: code_ids[n] for d, n in rows.items()},
        model_name=" + ".join(cfg.models[member].name for member in g.models),
        scoring_script="score_multi.py",
    )
    return ServedGroup(model, scoring, online)


def main() -> None:
    stack = pulumi.get_stack()
    root = Path(__file__).resolve().parent.parent
    offline = os.environ.get(OFFLINE_ENV) == "1"
    try:
        cfg = read_config(stack)
        # In a GitHub job (GITHUB_ACTIONS=true on every runner) the models come from an Azure ML registry:
        # https://docs.github.com/en/actions/writing-workflows/choosing-what-your-workflow-does/store-information-in-variables#default-environment-variables
        refusal = cfg.ci_refusal(f"stacks/Pulumi.{stack}.yaml") if os.environ.get("GITHUB_ACTIONS") == "true" and not offline else None
        if refusal:
            raise pulumi.RunError(refusal)
        files = {key: model_files(m, cfg.registry.tracking_uri, offline) for key, m in cfg.models.items()}
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
        onlines = [m.online for m in cfg.models.values() if m.online is not None] + [g.online for g in cfg.multi_model.values()]
        kubernetes = any(online.target == "kubernetes" for online in onlines)
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
        batch_scripts = sorted({s for m in cfg.models.values() if m.batch for s in (SCRIPTS[m.batch.mode], *SHARED_MODULES)})
        code_batch = CodeAsset(
            "batch-code",
            CodeAssetArgs(
                asset_name=f"{cfg.prefix}-batch",
                folder=root / "batch",
                variants={},
                entry_scripts=tuple(batch_scripts) or SHARED_MODULES,
                description="batch/: the batch entry scripts",
                **scope,
                **upload,
            ),
        )
        env = {
            artifact: Environment(
                f"{artifact}-env",
                EnvironmentArgs(
                    environment_name=f"{cfg.prefix}-{artifact}-env",
                    conda_file=root / artifact / "environment" / "conda.yaml",
                    description=f"{artifact}/environment/conda.yaml on the inference base image",
                    **scope,
                ),
            )
            for artifact in ("scoring", "batch")
        }
        shared = Shared(root, cfg, client, names, ws, compute, scope, run_scope, upload, env, code_batch, kubernetes)
        # A model served only by a group declares no resources of its own (the group's combined model holds it).
        served = {key: declare_model(shared, key, m, files[key]) for key, m in cfg.models.items() if m.online or m.batch}
        groups = {key: declare_group(shared, key, g, files) for key, g in cfg.multi_model.items()}
        targets = tuple(
            AlertTarget(
                cfg.label(key).rstrip("-"),
                s.online.endpoint_id,
                m.online.alerts or cfg.monitoring.alerts,
                endpoint_name(m.online.endpoint_name, names.suffix),
                keep_names=cfg.migrated(key),
            )
            for key, m in cfg.models.items()
            if key in served and (s := served[key]).online is not None and m.online is not None
        ) + tuple(
            AlertTarget(key, s.online.endpoint_id, g.online.alerts or cfg.monitoring.alerts, endpoint_name(g.online.endpoint_name, names.suffix))
            for key, s in groups.items()
            if (g := cfg.multi_model[key])
        )
        if cfg.monitoring.alerts_enabled and ws.app_insights_id is not None and cfg.monitoring.action_group_email and targets:
            Monitoring(
                MONITORING_COMPONENT,
                MonitoringArgs(
                    email=cfg.monitoring.action_group_email,
                    targets=targets,
                    app_insights_id=ws.app_insights_id,
                    resource_group_name=ws.resource_group_name,
                    location=location,
                    action_group_name=names.action_group,
                    action_group_short_name=names.action_group_short,
                    tags=tags,
                ),
            )
    except InfraError as exc:
        raise pulumi.RunError(f"stacks/Pulumi.{stack}.yaml: {exc}") from None

    pulumi.export("resourceGroupName", ws.resource_group_name)
    pulumi.export("workspaceName", ws.workspace_name)
    pulumi.export("batchCodeVersion", code_batch.version)
    if cfg.single_form:  # the outputs a single-model stack always had
        for export, value in next(iter(served.values())).exports().items():
            pulumi.export(export, value)
    else:
        pulumi.export("models", {key: s.exports() for key, s in served.items()})
    if groups:
        pulumi.export("multiModel", {key: g.exports() for key, g in groups.items()})
    if ws.app_insights_connection_string is not None:
        pulumi.export("appInsightsConnectionString", ws.app_insights_connection_string)


main()
