"""The batch endpoint, its batch model deployment and its default deployment: the book's ParallelRunStep in Azure ML v2.

Both modes are a batch *model* deployment (code configuration + model): Azure calls the
entry script's run() with lists of file paths, miniBatchSize counts files, errorThreshold
counts failed files, and append_row writes what run() returns to outputFileName
(https://learn.microsoft.com/azure/machine-learning/how-to-batch-scoring-script,
https://learn.microsoft.com/azure/machine-learning/reference-yaml-deployment-batch).
The book's tabular dataset cannot be the input of a batch endpoint ("Data assets of
type table (MLTable) aren't currently supported",
https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs),
so a large table is scored as a folder of part files (`amlops batch split`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.batch_defaults import BatchEndpointDefault
from infra.config import BatchConfig
from infra.durations import iso_seconds
from infra.errors import InvalidArgs
from infra.naming import endpoint_name

SCRIPTS = {"tabular": "tabular_batch.py", "files": "file_batch.py"}
"""The entry script per batch mode."""
SHARED_MODULES = ("model_loader.py", "tables.py")
"""Modules both entry scripts import from the batch/ code asset."""
OUTPUT_ACTIONS = {"append_row": ml.BatchOutputAction.APPEND_ROW, "summary_only": ml.BatchOutputAction.SUMMARY_ONLY}
LOGGING_LEVELS = {"DEBUG": ml.BatchLoggingLevel.DEBUG, "INFO": ml.BatchLoggingLevel.INFO, "WARNING": ml.BatchLoggingLevel.WARNING}
"""Azure's batch logging levels, all three of them."""


@dataclass(frozen=True)
class BatchEndpointArgs:
    """What the BatchEndpoint component needs."""

    settings: BatchConfig
    """The stack's amlops:batch (names, mode, every batch setting)."""
    model_id: pulumi.Input[str]
    """The model asset the deployment scores with."""
    code_id: pulumi.Input[str]
    """The batch CodeVersion id (holds both entry scripts and their shared modules)."""
    environment_id: pulumi.Input[str]
    """The batch EnvironmentVersion id."""
    compute_id: pulumi.Input[str]
    """The AmlCompute cluster the jobs run on."""
    resource_group_name: pulumi.Input[str]
    """The workspace's resource group."""
    workspace_name: pulumi.Input[str]
    """The ML workspace."""
    subscription_id: pulumi.Input[str]
    """The subscription (the default-deployment step calls azure-ai-ml)."""
    stack_suffix: str
    """The stack's name suffix: endpoint names are unique per region, so the base name gets it."""
    location: str
    """The Azure region."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource (default none)."""

    def validate(self) -> None:
        b = self.settings
        if b.mode not in SCRIPTS:
            raise InvalidArgs("BatchEndpoint", "settings.mode", f"must be one of {', '.join(SCRIPTS)}, got {b.mode!r}")
        if b.logging_level not in LOGGING_LEVELS:
            raise InvalidArgs("BatchEndpoint", "settings.logging_level", f"must be one of {', '.join(LOGGING_LEVELS)}, got {b.logging_level!r}")
        if b.mini_batch_error_threshold is not None:
            raise InvalidArgs("BatchEndpoint", "settings.mini_batch_error_threshold", "is a parallel-job setting; batch model deployments have none")
        if b.mode == "tabular" and b.output_action != "append_row":
            raise InvalidArgs("BatchEndpoint", "settings.output_action", "must be append_row in tabular mode")
        try:
            endpoint_name(b.endpoint_name, self.stack_suffix)
        except ValueError as exc:
            raise InvalidArgs("BatchEndpoint", "settings.endpoint_name", str(exc)) from None


def deployment_properties(args: BatchEndpointArgs) -> ml.BatchDeploymentPropertiesArgs:
    """The batch model deployment: every setting of the stack, each in the field Azure reads."""
    b = args.settings
    return ml.BatchDeploymentPropertiesArgs(
        description=f"{b.mode} batch scoring with {SCRIPTS[b.mode]}: run() gets lists of {b.mini_batch_size} file(s)",
        model=ml.IdAssetReferenceArgs(reference_type="Id", asset_id=args.model_id),
        code_configuration=ml.CodeConfigurationArgs(code_id=args.code_id, scoring_script=SCRIPTS[b.mode]),
        environment_id=args.environment_id,
        compute=args.compute_id,
        resources=ml.DeploymentResourceConfigurationArgs(instance_count=b.instance_count),
        max_concurrency_per_instance=b.max_concurrency_per_instance,
        mini_batch_size=b.mini_batch_size,
        error_threshold=b.error_threshold,
        retry_settings=ml.BatchRetrySettingsArgs(max_retries=b.retry_settings.max_retries, timeout=iso_seconds(b.retry_settings.timeout)),
        output_action=OUTPUT_ACTIONS[b.output_action],
        output_file_name=b.output_file_name,
        logging_level=LOGGING_LEVELS[b.logging_level],
        environment_variables=b.deployment_environment() or None,
    )


class BatchEndpoint(pulumi.ComponentResource):
    """BatchEndpoint (Microsoft Entra token auth) → batch model deployment on the cluster → its default deployment."""

    endpoint_name: pulumi.Output[str]
    deployment_name: pulumi.Output[str]
    default_deployment: pulumi.Output[str]

    def __init__(self, name: str, args: BatchEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:batch_endpoint:BatchEndpoint", name, None, opts)
        b = args.settings
        scope = {"resource_group_name": args.resource_group_name, "workspace_name": args.workspace_name}
        endpoint = ml.BatchEndpoint(
            f"{name}-endpoint",
            endpoint_name=endpoint_name(b.endpoint_name, args.stack_suffix),
            location=args.location,
            tags=args.tags,
            identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            properties=ml.BatchEndpointPropertiesArgs(
                auth_mode=ml.EndpointAuthMode.AAD_TOKEN,
                description=f"batch scoring ({b.mode} mode); default deployment {b.deployment_name}",
            ),
            **scope,
            # the default deployment is set by the step below once the deployment exists
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["properties.defaults"]),
        )
        deployment = ml.BatchDeployment(
            f"{name}-deployment",
            deployment_name=b.deployment_name,
            endpoint_name=endpoint.name,
            location=args.location,
            tags=args.tags,
            properties=deployment_properties(args),
            **scope,
            opts=pulumi.ResourceOptions(parent=self),
        )
        default = BatchEndpointDefault(
            f"{name}-default",
            subscription_id=args.subscription_id,
            endpoint_name=endpoint.name,
            deployment_name=deployment.name,
            **scope,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )
        self.endpoint_name = endpoint.name
        self.deployment_name = deployment.name
        self.default_deployment = default.deployment_name
        self.register_outputs(
            {"endpointName": self.endpoint_name, "deploymentName": self.deployment_name, "defaultDeployment": self.default_deployment}
        )
