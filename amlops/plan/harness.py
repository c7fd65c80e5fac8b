"""Run a checkout's Pulumi program for one stack under pulumi mocks and print its plan as JSON.

    python harness.py --stack prod --root /path/to/checkout [--stacks /path/to/stack/files]

A standalone script on purpose: it imports nothing from `amlops`, only the standard
library, pulumi and the checkout's own `infra` package, so it can plan any git revision
checked out in a temporary worktree. One process plans one stack (a second set_mocks in
a process keeps the first root stack). Exit 0 with one JSON document on stdout; exit 1
with the error on stderr (config errors as their rendered lines).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import runpy
import sys
from pathlib import Path
from typing import Any

KIND = "amlops-plan"
FORMAT_VERSION = 1
NOTE = (
    "desired state of the Pulumi program under pulumi mocks; not a cloud preview "
    "(ids, URIs and keys are placeholders; Azure may still refuse what this declares)"
)
PROJECT = "amlops"
SECRET = "[secret]"
SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TENANT_ID = "11111111-1111-1111-1111-111111111111"
OFFLINE_ENV = "AMLOPS_PLAN_OFFLINE"
# A dynamic provider arrives as a pickled blob that changes with any byte of its module.
_OPAQUE_INPUTS = {"__provider": "[dynamic provider]"}
# Which input carries the Azure name, per resource kind (mocks invent no names).
_NAME_INPUTS = {
    "ResourceGroup": "resourceGroupName",
    "StorageAccount": "accountName",
    "BlobContainer": "containerName",
    "Blob": "blobName",
    "Vault": "vaultName",
    "Registry": "registryName",
    "Workspace": "workspaceName",
    "Component": "resourceName",
    "Compute": "computeName",
    "OnlineEndpoint": "endpointName",
    "BatchEndpoint": "endpointName",
    "OnlineDeployment": "deploymentName",
    "BatchDeployment": "deploymentName",
    "AutoscaleSetting": "autoscaleSettingName",
    "ActionGroup": "actionGroupName",
    "MetricAlert": "ruleName",
    "ScheduledQueryRule": "ruleName",
}


def _asset(value: Any, root: Path) -> dict[str, Any] | None:
    """An asset as the plan shows it: where it comes from (relative to the checkout) and a content hash."""
    from pulumi import asset

    if isinstance(value, asset.FileAsset):
        path = Path(value.path)
        shown = path.resolve().relative_to(root).as_posix() if path.resolve().is_relative_to(root) else str(path)
        return {"fileAsset": shown, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:12]}
    if isinstance(value, asset.StringAsset):
        return {"stringAsset": hashlib.sha256(value.text.encode()).hexdigest()[:12]}
    if isinstance(value, (asset.Asset, asset.Archive)):
        return {type(value).__name__: str(getattr(value, "uri", getattr(value, "path", "")))}
    return None


def _is_secret(value: Any) -> bool:
    """A value the program marked secret, as the RPC layer hands it over (wrapped with the secret signature)."""
    from pulumi.runtime import rpc

    return rpc.is_rpc_secret(value)


def _unwrap(value: Any) -> Any:
    """The plain value under any secret wrapping (for the mock's own lookups, never for the plan)."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return _unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _normalize(value: Any, root: Path) -> Any:
    """JSON-stable: secrets hidden, ints that arrived as floats become ints, mappings sorted, assets described."""
    if _is_secret(value):
        # Secret inputs (at any depth) never reach the plan's text: `amlops plan` output lands in PR comments.
        return SECRET
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalize(v, root) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_normalize(v, root) for v in value]
    described = _asset(value, root)
    return value if described is None else described


def _mock_outputs(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A deterministic id and the outputs the program reads (names, URIs, connection strings)."""
    # Outputs echo the inputs as they came, secret wrapping included, so secretness flows on as in Azure.
    outputs = dict(inputs)
    plain = _unwrap(inputs)
    package, module, kind = (typ.split(":") + ["", "", ""])[:3]
    azure_name = plain.get(_NAME_INPUTS.get(kind, "name")) or name
    outputs["name"] = azure_name
    resource_id = (
        f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/mock/providers/"
        f"{package}.{module}/{kind[:1].lower()}{kind[1:]}s/{azure_name}"
    )
    if "version" in plain and kind.endswith("Version"):
        resource_id += f"/versions/{plain['version']}"
    if typ.endswith(":OnlineEndpoint"):
        host = f"https://{azure_name}.{plain.get('location', 'westeurope')}.inference.ml.azure.com"
        props = dict(plain.get("properties") or {})
        props.update(scoringUri=f"{host}/score", swaggerUri=f"{host}/swagger.json")
        outputs["properties"] = props
    elif typ.endswith(":Component") and "applicationinsights" in typ:
        outputs["connectionString"] = (
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
            "IngestionEndpoint=https://mock.in.applicationinsights.azure.com/"
        )
        outputs["instrumentationKey"] = "00000000-0000-0000-0000-000000000000"
    elif typ.endswith(":Workspace") and "machinelearningservices" in typ:
        outputs["identity"] = {**(plain.get("identity") or {}), "principalId": "mock-principal"}
    if "SystemAssigned" in str((plain.get("identity") or {}).get("type", "")) and "principalId" not in (outputs.get("identity") or {}):
        # Azure gives every system-assigned identity an object id; role assignments name it.
        outputs["identity"] = {**(plain.get("identity") or {}), "principalId": f"mock-principal-{azure_name}"}
    return resource_id, outputs


def _config_strings(stack_file: Path) -> dict[str, str]:
    """The stack file's config as set_all_config wants it: strings, JSON for everything else."""
    import yaml

    doc = yaml.safe_load(stack_file.read_text()) or {}
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise ValueError(f"{stack_file}: `config:` is not a mapping")
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def run(stack: str, root: Path, stacks: Path | None = None) -> dict[str, Any]:
    """Plan `stack` of the checkout at `root` (its stack file from `stacks`, default root/stacks); raises what the program raises."""
    stack_file = ((stacks or root / "stacks") / f"Pulumi.{stack}.yaml").resolve()
    root = root.resolve()
    sys.path.insert(0, str(root))
    os.chdir(root)
    os.environ.setdefault(OFFLINE_ENV, "1")

    import pulumi
    from pulumi.runtime import mocks as pmocks
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    records: dict[str, dict[str, Any]] = {}
    stack_outputs: dict[str, Any] = {}
    warnings: list[str] = []

    class Mocks(pmocks.Mocks):
        def new_resource(self, args: pmocks.MockResourceArgs):
            return _mock_outputs(args.typ, args.name, args.inputs)

        def call(self, args: pmocks.MockCallArgs):
            if args.token == "azure-native:authorization:getClientConfig":
                return {
                    "clientId": "mock-client",
                    "objectId": "mock-object",
                    "subscriptionId": SUBSCRIPTION_ID,
                    "tenantId": TENANT_ID,
                }
            return {}

    class RecordingMonitor(pmocks.MockMonitor):
        """The mock monitor, keeping what a plan shows: parent, dependencies and options."""

        def RegisterResource(self, request):
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                inputs = pulumi.runtime.rpc.deserialize_properties(request.object, keep_unknowns=False)
                inputs = {k: _OPAQUE_INPUTS.get(k, v) for k, v in inputs.items()}
                records[response.urn] = {
                    "urn": response.urn,
                    "type": request.type,
                    "name": request.name,
                    "parent": request.parent or None,
                    "dependencies": sorted(set(request.dependencies)),
                    "protect": bool(request.protect),
                    "ignoreChanges": sorted(request.ignoreChanges),
                    "custom": bool(request.custom),
                    "inputs": _normalize(inputs, root),
                }
                # An alias (a migrated model's components: infra/__main__.py) is what keeps a resource's old URN.
                aliases = sorted(a.spec.name for a in request.aliases if a.HasField("spec") and a.spec.name)
                if aliases:
                    records[response.urn]["aliases"] = aliases
            return response

    class WarningCollector(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                warnings.append(record.getMessage())

    logger = logging.getLogger("amlops.plan.harness")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    logger.addHandler(WarningCollector())
    mocks = Mocks()
    pmocks.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, logger=logger, monitor=RecordingMonitor(mocks))
    pulumi.runtime.set_all_config(_config_strings(stack_file))

    program = root / "infra" / "__main__.py"
    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(program), run_name="__main__")))

    root_stack = pulumi.runtime.settings.get_root_resource()
    for key, value in sorted(root_stack.outputs.items()):
        output = pulumi.Output.from_input(value)
        resolved = _sync_await(output.future())
        stack_outputs[key] = SECRET if _sync_await(output.is_secret()) else _normalize(resolved, root)

    root_urn = f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{stack}"
    for record in records.values():
        if record["parent"] == root_urn:
            record["parent"] = None
        record["dependencies"] = [d for d in record["dependencies"] if d != root_urn]
    return {
        "kind": KIND,
        "version": FORMAT_VERSION,
        "stack": stack,
        "note": NOTE,
        "resources": [records[urn] for urn in sorted(records)],
        "outputs": stack_outputs,
        "warnings": warnings,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the stack to plan (stacks/Pulumi.<stack>.yaml)")
    parser.add_argument("--root", default=".", help="the checkout holding infra/ and stacks/")
    parser.add_argument("--stacks", default=None, help="the folder of the stack file (default: stacks/ of --root)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    stacks = Path(args.stacks) if args.stacks else None
    stack_file = (stacks or root / "stacks") / f"Pulumi.{args.stack}.yaml"
    if not stack_file.is_file():
        print(f"no stack file {stack_file}", file=sys.stderr)
        return 2
    # pulumi logs a failing program's error too; the message below is the one to read.
    logging.getLogger().setLevel(logging.CRITICAL)
    try:
        plan = run(args.stack, root, stacks)
    except Exception as exc:  # noqa: BLE001 - a plan failure is reported, never a traceback
        import pulumi

        if isinstance(exc, pulumi.RunError):
            print(str(exc), file=sys.stderr)
        else:
            import traceback

            traceback.print_exc()
        return 1
    json.dump(plan, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
