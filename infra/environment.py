"""An artifact's conda spec on an Azure ML inference base image, as an immutable EnvironmentVersion."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.content import text_hash
from infra.errors import ArtifactMissing, InvalidArgs

INFERENCE_BASE_IMAGE = "mcr.microsoft.com/azureml/minimal-py311-inference:latest"
"""Azure ML's minimal CPU inference image (Python 3.11, azureml-inference-server-http)."""


@dataclass(frozen=True)
class EnvironmentArgs:
    """What the Environment component needs."""

    environment_name: str
    """The environment container's name in the workspace (e.g. loans-scoring-env)."""
    conda_file: Path
    """The conda spec (conda.yaml) the image is built with."""
    resource_group_name: pulumi.Input[str]
    """The workspace's resource group."""
    workspace_name: pulumi.Input[str]
    """The ML workspace that holds the environment."""
    image: str = INFERENCE_BASE_IMAGE
    """The base image (default Azure ML's minimal Python 3.11 inference image)."""
    description: str = ""
    """The environment's description (default empty)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the version (default none); the content hash is added."""

    def validate(self) -> None:
        if not self.conda_file.is_file():
            raise ArtifactMissing(f"Environment {self.environment_name}: no environment spec at {self.conda_file}")
        if not self.image or ":" not in self.image.rsplit("/", 1)[-1]:
            raise InvalidArgs("Environment", "image", f"must be an image reference with a tag, got {self.image!r}")


class Environment(pulumi.ComponentResource):
    """EnvironmentContainer + EnvironmentVersion; the version is a hash of image and conda spec."""

    environment_id: pulumi.Output[str]
    version: str

    def __init__(self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:environment:Environment", name, None, opts)
        conda = args.conda_file.read_text()
        digest = text_hash(args.image, conda)
        container = ml.EnvironmentContainer(
            f"{name}-container",
            name=args.environment_name,
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            properties=ml.EnvironmentContainerPropertiesArgs(description=args.description),
            opts=pulumi.ResourceOptions(parent=self),
        )
        version = ml.EnvironmentVersion(
            f"{name}-version",
            name=container.name,
            version=digest,
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            properties=ml.EnvironmentVersionPropertiesArgs(
                image=args.image,
                conda_file=conda,
                os_type=ml.OperatingSystemType.LINUX,
                description=args.description,
                tags={**args.tags, "contentHash": digest},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.environment_id = version.id
        self.version = digest
        self.register_outputs({"environmentId": self.environment_id, "version": digest})
