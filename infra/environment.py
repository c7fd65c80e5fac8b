"""An artifact's conda spec on an Azure ML inference base image, as an immutable EnvironmentVersion."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.content import text_hash
from infra.errors import ArtifactMissing, InvalidArgs

INFERENCE_BASE_IMAGE = "mcr.microsoft.com/azureml/curated/minimal-py311-inference:59"
"""Azure ML's minimal CPU inference image: the image of the curated environment
`minimal-py311-inference` (Azure/azureml-assets assets/inference/environments/minimal-py311-inference:
Ubuntu 22.04, Python 3.11, conda, azureml-inference-server-http). Curated images are published
under mcr.microsoft.com/azureml/curated/<environment>:<version>; version 59 is pinned (manifest
sha256:89a46a46b71b4692731654d0523f53c8d14929e41ea8129293dc4e39fcabb14c, linux/amd64) so a
rebuild never picks up a different base silently. Azure ML supports prebuilt inference images
for about six months after their release: move the pin (a new EnvironmentVersion) at least that
often, after checking `https://mcr.microsoft.com/v2/azureml/curated/minimal-py311-inference/tags/list`."""


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
    """The base image with a pinned tag, never :latest (default Azure ML's minimal Python 3.11 inference image)."""
    description: str = ""
    """The environment's description (default empty)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the version (default none); the content hash is added."""

    def validate(self) -> None:
        if not self.conda_file.is_file():
            raise ArtifactMissing(f"Environment {self.environment_name}: no environment spec at {self.conda_file}")
        if not self.image or ":" not in self.image.rsplit("/", 1)[-1]:
            raise InvalidArgs("Environment", "image", f"must be an image reference with a tag, got {self.image!r}")
        if self.image.rsplit(":", 1)[-1] == "latest":
            raise InvalidArgs(
                "Environment", "image", f"must pin a version, not :latest (the version hash would not see a new base), got {self.image!r}"
            )


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
