"""The declared batch endpoint against Azure's own objects: azure-ai-ml's ModelBatchDeployment builds the REST body
Azure expects, and every batch key of every stack must land in the field Azure reads (or be refused)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.ai.ml.entities import BatchRetrySettings, CodeConfiguration, ModelBatchDeployment, ModelBatchDeploymentSettings

from amlops.plan import run_plan
from amlops.stackfile import load_stack
from infra.batch_defaults import BatchDefaultProvider
from infra.config import ID_COLUMNS_ENV, ConfigError, parse_config
from infra.naming import stack_suffix
from tree_support import copy_tree

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")
ML = "azure-native:machinelearningservices"
# The REST fields a batch model deployment has (azure-ai-ml's BatchDeploymentProperties) that amlops declares.
FIELDS = ("model", "codeConfiguration", "environmentId", "compute", "miniBatchSize", "maxConcurrencyPerInstance",
          "errorThreshold", "retrySettings", "outputAction", "outputFileName", "environmentVariables")


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    return {"AMLOPS_STATE_DIR": str(tmp_path_factory.mktemp("empty-state")), "MLFLOW_TRACKING_URI": ""}


@pytest.fixture(scope="module")
def plans(tmp_path_factory, env) -> dict[str, dict[str, Any]]:
    tree = copy_tree(ROOT, tmp_path_factory.mktemp("tree"))
    return {stack: run_plan(stack, tree, env=env) for stack in STACKS}


def named(plan: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in plan["resources"] if r["name"] == name]
    return found


def azure_ai_ml_body(stack: str, props: dict[str, Any]) -> dict[str, Any]:
    """The REST properties azure-ai-ml sends for the same deployment, built from the stack file (not from the plan)."""
    b = load_stack(stack).batch
    deployment = ModelBatchDeployment(
        name=b.deployment_name,
        endpoint_name="e",
        model=props["model"]["assetId"],
        code_configuration=CodeConfiguration(code=props["codeConfiguration"]["codeId"], scoring_script=f"{b.mode}_batch.py".replace("files_", "file_")),
        environment=props["environmentId"],
        compute=props["compute"],
        settings=ModelBatchDeploymentSettings(
            mini_batch_size=b.mini_batch_size,
            instance_count=b.instance_count,
            max_concurrency_per_instance=b.max_concurrency_per_instance,
            output_action=b.output_action,
            output_file_name=b.output_file_name,
            retry_settings=BatchRetrySettings(max_retries=b.retry_settings.max_retries, timeout=b.retry_settings.timeout),
            logging_level=b.logging_level.lower(),
            environment_variables=b.deployment_environment(),
            error_threshold=b.error_threshold,
        ),
    )
    return deployment._to_rest_object(location="westeurope").as_dict()["properties"]


@pytest.mark.parametrize("stack", STACKS)
def test_plan_batch_deployment_equals_azure_ai_ml_model_batch_deployment(plans, stack):
    d = named(plans[stack], "batch-deployment")
    props = d["inputs"]["properties"]
    expected = azure_ai_ml_body(stack, props)
    for key in FIELDS:
        assert props.get(key) == expected.get(key), f"{d['urn']}: properties.{key}: plan {props.get(key)!r}, azure-ai-ml {expected.get(key)!r}"
    assert props["resources"]["instanceCount"] == expected["resources"]["instanceCount"], d["urn"]
    assert props["loggingLevel"].lower() == expected["loggingLevel"], d["urn"]
    assert "deploymentConfiguration" not in props, f"{d['urn']}: a model deployment, not a pipeline component deployment"


@pytest.mark.parametrize("stack", STACKS)
def test_plan_batch_environment_holds_only_what_the_scripts_read(plans, stack):
    d = named(plans[stack], "batch-deployment")
    variables = d["inputs"]["properties"].get("environmentVariables") or {}
    cfg = load_stack(stack).batch
    assert variables == cfg.deployment_environment(), d["urn"]
    ours = sorted(k for k in variables if k.startswith("AMLOPS_"))
    assert ours == ([ID_COLUMNS_ENV] if cfg.id_columns else []), f"{d['urn']}: {ours}"
    assert f'ID_COLUMNS_ENV = "{ID_COLUMNS_ENV}"' in (ROOT / "batch" / "tables.py").read_text()  # the scripts read it


@pytest.mark.parametrize("stack", STACKS)
def test_plan_batch_endpoint_name_suffixed_and_default_deployment_set_after_it(plans, stack):
    plan = plans[stack]
    ep, d, default = named(plan, "batch-endpoint"), named(plan, "batch-deployment"), named(plan, "batch-default")
    cfg = load_stack(stack)
    suffix = stack_suffix("amlops", stack, cfg.prefix, "00000000-0000-0000-0000-000000000000")
    assert ep["inputs"]["endpointName"] == f"{cfg.batch.endpoint_name}-{suffix}", ep["urn"]
    assert 3 <= len(ep["inputs"]["endpointName"]) <= 32, ep["urn"]
    assert ep["ignoreChanges"] == ["properties.defaults"], ep["urn"]
    assert default["inputs"]["deployment_name"] == d["inputs"]["deploymentName"], default["urn"]
    assert d["urn"] in default["dependencies"], f"{default['urn']}: must wait for {d['urn']}"


def test_plan_files_mode_declares_file_batch_with_summary_only(tmp_path, env):
    tree = copy_tree(ROOT, tmp_path / "tree")
    path = tree / "stacks" / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["amlops:batch"].update({"mode": "files", "outputAction": "summary_only", "miniBatchSize": 5})
    path.write_text(yaml.safe_dump(doc))
    d = named(run_plan("dev", tree, env=env), "batch-deployment")
    p = d["inputs"]["properties"]
    assert (p["codeConfiguration"]["scoringScript"], p["outputAction"], p["miniBatchSize"]) == ("file_batch.py", "SummaryOnly", 5), d["urn"]


def _raw(stack: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.removeprefix("amlops:"): v for k, v in doc.items()}


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ({"miniBatchErrorThreshold": 2}, "amlops:batch.miniBatchErrorThreshold",
         "is a parallel-job setting; Azure batch model deployments have no such field and would ignore it (remove it; errorThreshold counts failed files)"),
        ({"miniBatchSize": "1MB"}, "amlops:batch.miniBatchSize",
         "must be a number of files, got '1MB': a batch model deployment hands run() lists of files and counts miniBatchSize in files; "
         "split a large table into part files with `amlops batch split --part-size 1MB`"),
        ({"loggingLevel": "ERROR"}, "amlops:batch.loggingLevel", "Input should be 'DEBUG', 'INFO' or 'WARNING', got 'ERROR'"),
        ({"outputAction": "summary_only"}, "amlops:batch.outputAction",
         "must be append_row in tabular mode: tabular_batch.py returns its predictions from run(), which only append_row writes "
         "(files mode writes per-file outputs with summary_only)"),
        ({"environmentVariables": {"AMLOPS_ID_COLUMNS": "x"}}, "amlops:batch.environmentVariables",
         "'AMLOPS_ID_COLUMNS' is set by Azure or by amlops; choose another name, got {'AMLOPS_ID_COLUMNS': 'x'}"),
    ],
)
def test_config_batch_setting_azure_would_not_read_is_refused_naming_the_key(change, key, message):
    raw = _raw("prod")
    raw["batch"] = {**raw["batch"], **change}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "stacks/Pulumi.prod.yaml")
    assert f"stacks/Pulumi.prod.yaml: {key}: {message}" in str(err.value).splitlines()


class FakeEndpoints:
    def __init__(self):
        self.updated = []

    def get(self, name):
        from azure.ai.ml.entities import BatchEndpoint

        return BatchEndpoint(name=name)

    def begin_create_or_update(self, endpoint):
        body = endpoint._to_rest_batch_endpoint("westeurope").as_dict()  # what azure-ai-ml would PUT
        self.updated.append((endpoint.name, body["properties"]["defaults"]["deploymentName"]))
        return type("Poller", (), {"result": lambda self: endpoint})()


def test_batch_default_provider_sets_the_endpoint_default_through_azure_ai_ml():
    endpoints = FakeEndpoints()
    calls = []

    def factory(sub, rg, ws):
        calls.append((sub, rg, ws))
        return type("Client", (), {"batch_endpoints": endpoints})()

    provider = BatchDefaultProvider(factory)
    props = {"subscription_id": "s", "resource_group_name": "rg", "workspace_name": "ws", "endpoint_name": "ep-1", "deployment_name": "loans-batch"}
    created = provider.create(props)
    assert (created.id, endpoints.updated, calls) == ("ws/ep-1/defaults", [("ep-1", "loans-batch")], [("s", "rg", "ws")])
    diff = provider.diff(created.id, props, {**props, "deployment_name": "loans-batch-2"})
    assert (diff.changes, diff.replaces) == (True, [])
    assert provider.diff(created.id, props, {**props, "endpoint_name": "other"}).replaces == ["endpoint_name"]
