"""The batch endpoint and its deployment: the book's ParallelRunStep as Azure ML v2 batch inference."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.config import BatchConfig
from infra.durations import iso_seconds
from infra.errors import InvalidArgs

SCRIPTS = {"tabular": "tabular_batch.py", "files": "file_batch.py"}
"""The entry script per batch mode."""
OUTPUT_ACTIONS = {"append_row": ml.BatchOutputAction.APPEND_ROW, "summary_only": ml.BatchOutputAction.SUMMARY_ONLY}
# Azure's batch logging has three levels; ERROR and CRITICAL ask for at most warnings.
LOGGING_LEVELS = {
    "DEBUG": ml.BatchLoggingLevel.DEBUG,
    "INFO": ml.BatchLoggingLevel.INFO,
    "WARNING": ml.BatchLoggingLevel.WARNING,
    "ERROR": ml.BatchLoggingLevel.WARNING,
    "CRITICAL": ml.BatchLoggingLevel.WARNING,
}
MINI_BATCH_ERROR_THRESHOLD_ENV = "AMLOPS_MINI_BATCH_ERROR_THRESHOLD"
LOGGING_LEVEL_ENV = "AMLOPS_LOGGING_LEVEL"


@dataclass(frozen=True)
class BatchEndpointArgs:
    """What the BatchEndpoint component needs."""

    settings: BatchConfig
    """The stack's amlops:batch (names, mode, every batch setting)."""
    model_id: pulumi.Input[str]
    """The model asset the deployment scores with."""
    code_id: pulumi.Input[str]
    """The batch CodeVersion id (holds tabular_batch.py and file_batch.py)."""
    environment_id: pulumi.Input[str]
    """The batch EnvironmentVersion id."""
    compute_id: pulumi.Input[str]
    """The AmlCompute cluster the jobs run on."""
    resource_group_name: pulumi.Input[str]
    """The workspace's resource group."""
    workspace_name: pulumi.Input[str]
    """The ML workspace."""
    location: str
    """The Azure region."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource (default none)."""

    def validate(self) -> None:
        if self.settings.mode not in SCRIPTS:
            raise InvalidArgs("BatchEndpoint", "settings.mode", f"must be one of {', '.join(SCRIPTS)}, got {self.settings.mode!r}")
        if self.settings.logging_level not in LOGGING_LEVELS:
            raise InvalidArgs(
                "BatchEndpoint", "settings.logging_level", f"must be one of {', '.join(LOGGING_LEVELS)}, got {self.settings.logging_level!r}"
            )


def batch_environment(b: BatchConfig) -> dict[str, str]:
    """Settings Azure's batch deployment has no field for, passed to the entry script, then the configured ones."""
    return {
        MINI_BATCH_ERROR_THRESHOLD_ENV: str(b.mini_batch_error_threshold),
        LOGGING_LEVEL_ENV: b.logging_level,
        **b.environment_variables,
    }


class BatchEndpoint(pulumi.ComponentResource):
    """BatchEndpoint (Microsoft Entra token auth) → BatchDeployment on the cluster."""

    endpoint_name: pulumi.Output[str]
    deployment_name: pulumi.Output[str]

    def __init__(self, name: str, args: BatchEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:batch_endpoint:BatchEndpoint", name, None, opts)
        b = args.settings
        scope = {"resource_group_name": args.resource_group_name, "workspace_name": args.workspace_name}
        endpoint = ml.BatchEndpoint(
            f"{name}-endpoint",
            endpoint_name=b.endpoint_name,
            location=args.location,
            tags=args.tags,
            identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            properties=ml.BatchEndpointPropertiesArgs(
                auth_mode=ml.EndpointAuthMode.AAD_TOKEN,
                description="the loans model, batch scoring (the book's ParallelRunStep)",
            ),
            **scope,
            opts=pulumi.ResourceOptions(parent=self),
        )
        deployment = ml.BatchDeployment(
            f"{name}-deployment",
            deployment_name=b.deployment_name,
            endpoint_name=endpoint.name,
            location=args.location,
            tags=args.tags,
            properties=ml.BatchDeploymentPropertiesArgs(
                description=f"{b.mode} batch scoring with {SCRIPTS[b.mode]}",
                model=ml.IdAssetReferenceArgs(reference_type="Id", asset_id=args.model_id),
                code_configuration=ml.CodeConfigurationArgs(code_id=args.code_id, scoring_script=SCRIPTS[b.mode]),
                environment_id=args.environment_id,
                compute=args.compute_id,
                resources=ml.DeploymentResourceConfigurationArgs(instance_count=b.instance_count),
                max_concurrency_per_instance=b.max_concurrency_per_instance,
                mini_batch_size=b.mini_batch_items(),
                error_threshold=b.error_threshold,
                retry_settings=ml.BatchRetrySettingsArgs(
                    max_retries=b.retry_settings.max_retries, timeout=iso_seconds(b.retry_settings.timeout)
                ),
                output_action=OUTPUT_ACTIONS[b.output_action],
                output_file_name=b.output_file_name,
                logging_level=LOGGING_LEVELS[b.logging_level],
                environment_variables=batch_environment(b),
            ),
            **scope,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.endpoint_name = endpoint.name
        self.deployment_name = deployment.name
        self.register_outputs({"endpointName": self.endpoint_name, "deploymentName": self.deployment_name})
