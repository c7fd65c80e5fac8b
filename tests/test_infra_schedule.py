"""The batch schedule as declared: the Pulumi program under mocks, compared with azure-ai-ml's own objects.

azure-ai-ml has trigger and job-schedule entities but no class for an endpoint-invocation schedule;
its batch_endpoints.invoke builds the invocation body, which these tests rebuild without a network.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.ai.ml import Input, Output
from azure.ai.ml._schema._deployment.batch.batch_job import BatchJobSchema
from azure.ai.ml._scope_dependent_operations import OperationConfig, OperationScope
from azure.ai.ml.constants import TimeZone
from azure.ai.ml.constants._common import BASE_PATH_CONTEXT_KEY, PARAMS_OVERRIDE_KEY
from azure.ai.ml.constants._endpoint import EndpointYamlFields
from azure.ai.ml.entities import CronTrigger, JobSchedule, RecurrencePattern, RecurrenceTrigger
from azure.ai.ml.operations._operation_orchestrator import OperationOrchestrator

from amlops.plan import run_plan
from infra.config import BatchConfig, windows_time_zone
from infra.durations import iso_seconds
from infra.errors import InvalidArgs
from infra.schedule import BatchScheduleArgs, input_uri, spec_version
from tree_support import copy_tree, with_local_models

ROOT = Path(__file__).resolve().parent.parent
ML = "azure-native:machinelearningservices"
SUB = "00000000-0000-0000-0000-000000000000"
CRON = {"enabled": True, "cron": "0 2 * * 1-5", "timeZone": "Europe/Amsterdam", "startTime": "2026-12-01T02:00:00",
        "input": "azureml:pending-loans:3"}
RECURRENCE = {"enabled": False, "timeZone": "America/New_York", "input": "azureml://datastores/workspaceblobstore/paths/loans/pending/",
              "recurrence": {"frequency": "week", "interval": 2, "hours": [6, 18], "minutes": [30], "weekDays": ["monday", "friday"]}}


def _stack_batch(**batch: Any) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    defaults = {"miniBatchSize": 10, "maxConcurrencyPerInstance": 2, "instanceCount": 1, "errorThreshold": -1,
                "retrySettings": {"maxRetries": 3, "timeout": 30}, "outputAction": "append_row", "loggingLevel": "INFO", "idColumns": []}
    return {**defaults, **doc["config"]["amlops:batch"], **batch}


STACK_BATCH = {"cron": _stack_batch(), "recurrence": _stack_batch(mode="files", outputAction="summary_only")}


def _stack(schedule: dict[str, Any], **batch: Any) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    b = doc["config"]["amlops:batch"]
    b.update(batch, output={"datastore": "workspaceblobstore", "path": "inferences/loans/{job}/"}, schedule=schedule)
    return doc


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict[str, Any]]:
    tree = with_local_models(copy_tree(ROOT, tmp_path_factory.mktemp("tree")))
    stacks = {"cron": _stack(CRON), "recurrence": _stack(RECURRENCE, mode="files", outputAction="summary_only")}
    for name, doc in stacks.items():
        (tree / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(doc))
    env = {"AMLOPS_STATE_DIR": str(tmp_path_factory.mktemp("state")), "MLFLOW_TRACKING_URI": ""}
    return {name: run_plan(name, tree, env=env) for name in stacks}


def _one(plan: dict[str, Any], type_suffix: str) -> dict[str, Any]:
    """The one resource of a type in the batch schedule's part of the plan (the model monitor has a Schedule of its own)."""
    found = [r for r in plan["resources"] if r["type"].endswith(type_suffix) and "amlops:model_monitor:ModelMonitor" not in r["urn"]]
    assert len(found) == 1, f"stack {plan['stack']}: {len(found)} resources of type {type_suffix}"
    return found[0]


def _workspace_id(plan: dict[str, Any]) -> str:
    ws = _one(plan, f"{ML}:Workspace")
    return f"/subscriptions/{SUB}/resourceGroups/mock/providers/azure-native.machinelearningservices/workspaces/{ws['inputs']['workspaceName']}"


def test_plan_schedule_cron_trigger_equals_azure_ai_ml_cron_trigger(plans):
    schedule = _one(plans["cron"], f"{ML}:Schedule")
    expected = CronTrigger(
        expression="0 2 * * 1-5", start_time="2026-12-01T02:00:00", time_zone=TimeZone.W_EUROPE_STANDARD_TIME
    )._to_rest_object().as_dict()
    assert schedule["inputs"]["properties"]["trigger"] == expected, schedule["urn"]


def test_plan_schedule_recurrence_trigger_equals_azure_ai_ml_recurrence_trigger(plans):
    schedule = _one(plans["recurrence"], f"{ML}:Schedule")
    expected = RecurrenceTrigger(
        frequency="week", interval=2, time_zone=TimeZone.EASTERN_STANDARD_TIME,
        schedule=RecurrencePattern(hours=[6, 18], minutes=[30], week_days=["monday", "friday"]),
    )._to_rest_object().as_dict()
    trigger = schedule["inputs"]["properties"]["trigger"]
    # The REST spec's enums (the provider's RecurrenceFrequency, WeekDay) are PascalCase; azure-ai-ml
    # sends them lower-case. Azure reads both; the rest must be equal as it is.
    assert trigger["frequency"] == "Week" and trigger["schedule"]["weekDays"] == ["Monday", "Friday"], schedule["urn"]
    folded = {**trigger, "frequency": "week", "schedule": {**trigger["schedule"], "weekDays": ["monday", "friday"]}}
    assert folded == expected, schedule["urn"]


def _parallel(settings: dict[str, Any], spec: dict[str, Any]):
    """azure-ai-ml's parallel_run_function for the stack's batch settings, with the plan's resolved asset ids."""
    from azure.ai.ml.parallel import RunFunction, parallel_run_function

    files = settings["outputAction"] == "summary_only"
    t = spec["task"]
    return parallel_run_function(
        name=spec["name"],
        inputs={"input_data": Input(type="uri_folder", mode="ro_mount"), "model": Input(type="mlflow_model")},
        outputs={"score": Output(type="uri_folder" if files else "uri_file")},
        input_data="${{inputs.input_data}}",
        mini_batch_size=str(settings["miniBatchSize"]),
        max_concurrency_per_instance=settings["maxConcurrencyPerInstance"],
        instance_count=settings["instanceCount"],
        error_threshold=settings["errorThreshold"],
        retry_settings={"max_retries": settings["retrySettings"]["maxRetries"], "timeout": settings["retrySettings"]["timeout"]},
        logging_level=settings["loggingLevel"],
        environment_variables={"AMLOPS_ID_COLUMNS": ",".join(settings["idColumns"])},
        task=RunFunction(
            code=t["code"], environment=t["environment"], entry_script="file_batch.py" if files else "tabular_batch.py",
            program_arguments="--model_folder ${{inputs.model}}" + (" --output_folder ${{outputs.score}}" if files else ""),
            append_row_to=None if files else "${{outputs.score}}",
        ),
    )


def _without_source(body: Any) -> Any:
    """azure-ai-ml marks which of its APIs built a node or component ("_source": BUILDER, DSL…): a client-side record, not a setting."""
    if isinstance(body, dict):
        return {k: _without_source(v) for k, v in body.items() if k != "_source"}
    return body


def _batch_settings(plan: dict[str, Any]) -> dict[str, Any]:
    return plan["config"]["amlops:batch"] if "config" in plan else {}


def _expected_schedule(plan: dict[str, Any], stack_batch: dict[str, Any]) -> dict[str, Any]:
    """JobSchedule(create_job=<a dsl pipeline of one parallel node>)._to_rest_object() with the plan's ids and settings."""
    from azure.ai.ml.dsl import pipeline

    schedule = _one(plan, f"{ML}:Schedule")
    component = _one(plan, f"{ML}:ComponentVersion")
    job = schedule["inputs"]["properties"]["action"]["jobDefinition"]
    parallel = _parallel(stack_batch, component["inputs"]["properties"]["componentSpec"])
    component_id = job["jobs"]["score"]["componentId"]

    @pipeline(default_compute=job["settings"]["default_compute"], display_name=job["displayName"], description=job["description"],
              tags=job["tags"])
    def scheduled(input_data, model):
        node = parallel(input_data=input_data, model=model)
        node.name = "score"
        node._component = component_id  # the registered ComponentVersion, as azure-ai-ml refers to it once resolved
        return {"score": node.outputs.score}

    created = scheduled(input_data=Input(type="uri_folder", path=job["inputs"]["input_data"]["uri"]),
                        model=Input(type="mlflow_model", path=job["inputs"]["model"]["uri"]))
    created.outputs.score = Output(type=job["outputs"]["score"]["jobOutputType"], path=job["outputs"]["score"]["uri"])
    props = schedule["inputs"]["properties"]
    trigger = CronTrigger(expression=props["trigger"]["expression"], time_zone=props["trigger"]["timeZone"],
                          start_time=props["trigger"].get("startTime"))
    rest = JobSchedule(name=schedule["inputs"]["name"], trigger=trigger, create_job=created, display_name=props["displayName"],
                       description=props["description"], tags=props["tags"])._to_rest_object().as_dict()["properties"]
    return _without_source(rest)


# What the provider adds to a declared PipelineJob: Azure's own defaults, which azure-ai-ml leaves to the service.
PROVIDER_DEFAULTS = {("experimentName",): "Default", ("inputs", "input_data", "mode"): "ReadOnlyMount",
                     ("inputs", "model", "mode"): "ReadOnlyMount", ("outputs", "score", "mode"): "ReadWriteMount"}


def _declared_schedule(plan: dict[str, Any]) -> dict[str, Any]:
    props = copy.deepcopy(_one(plan, f"{ML}:Schedule")["inputs"]["properties"])
    job = props["action"]["jobDefinition"]
    for path, value in PROVIDER_DEFAULTS.items():
        *parents, leaf = path
        holder = job
        for key in parents:
            holder = holder[key]
        assert holder.pop(leaf) == value, path
    assert props.pop("isEnabled") in (True, False)
    return props


@pytest.mark.parametrize("stack", ["cron", "recurrence"])
def test_plan_schedule_equals_azure_ai_ml_job_schedule_of_a_parallel_pipeline(plans, stack):
    if stack == "recurrence":  # the recurrence trigger has its own comparison above; compare the rest with a cron trigger
        return _compare_job_only(plans[stack], STACK_BATCH[stack])
    declared, expected = _declared_schedule(plans[stack]), _expected_schedule(plans[stack], STACK_BATCH[stack])
    assert declared == expected, _one(plans[stack], f"{ML}:Schedule")["urn"]


def _compare_job_only(plan: dict[str, Any], batch: dict[str, Any]) -> None:
    declared = _declared_schedule(plan)["action"]
    plan = copy.deepcopy(plan)
    _one(plan, f"{ML}:Schedule")["inputs"]["properties"]["trigger"] = {"expression": "0 0 * * *", "timeZone": "UTC"}
    assert declared == _expected_schedule(plan, batch)["action"], _one(plan, f"{ML}:Schedule")["urn"]


@pytest.mark.parametrize("stack", ["cron", "recurrence"])
def test_plan_schedule_component_equals_azure_ai_ml_parallel_component(plans, stack):
    component = _one(plans[stack], f"{ML}:ComponentVersion")
    spec = component["inputs"]["properties"]["componentSpec"]
    expected = _parallel(STACK_BATCH[stack], spec).component._to_rest_object().as_dict()["properties"]["componentSpec"]
    assert spec == _without_source(expected), component["urn"]
    assert component["inputs"]["version"] == spec_version(spec), component["urn"]


@pytest.mark.parametrize("stack", ["cron", "recurrence"])
def test_plan_schedule_scores_with_the_batch_deployments_script_code_environment_model_and_cluster(plans, stack):
    plan = plans[stack]
    deployment = _one(plan, f"{ML}:BatchDeployment")["inputs"]["properties"]
    job = _one(plan, f"{ML}:Schedule")["inputs"]["properties"]["action"]["jobDefinition"]
    task = job["jobs"]["score"]["task"]
    assert task["entry_script"] == deployment["codeConfiguration"]["scoringScript"]
    assert task["code"] == "azureml:" + deployment["codeConfiguration"]["codeId"]
    assert task["environment"] == "azureml:" + deployment["environmentId"]
    asset = deployment["model"]["assetId"]  # a registry model's azureml:// URI is used as it is
    assert job["inputs"]["model"]["uri"] == (asset if asset.startswith("azureml://") else "azureml:" + asset)
    assert job["settings"]["default_compute"] == "azureml:" + deployment["compute"]
    node = job["jobs"]["score"]
    assert (node["mini_batch_size"], node["max_concurrency_per_instance"], node["resources"]["instance_count"], node["error_threshold"],
            node["logging_level"], node["retry_settings"]["max_retries"], iso_seconds(node["retry_settings"]["timeout"]),
            node["environment_variables"]) == (
        deployment["miniBatchSize"], deployment["maxConcurrencyPerInstance"], deployment["resources"]["instanceCount"],
        deployment["errorThreshold"], deployment["loggingLevel"].upper(), deployment["retrySettings"]["maxRetries"],
        deployment["retrySettings"]["timeout"], deployment["environmentVariables"])
    if deployment["outputAction"] == "AppendRow":
        assert job["outputs"]["score"]["uri"].endswith("/" + deployment["outputFileName"]) and task["append_row_to"] == "${{outputs.score}}"
    else:
        assert "append_row_to" not in task and job["outputs"]["score"]["jobOutputType"] == "uri_folder"


@pytest.mark.parametrize("stack", ["cron", "recurrence"])
def test_plan_schedule_each_run_writes_its_own_output(plans, stack):
    """${{name}} is expanded per job in the pipeline job's outputs path (how-to-schedule-pipeline-job); the step only binds to it."""
    job = _one(plans[stack], f"{ML}:Schedule")["inputs"]["properties"]["action"]["jobDefinition"]
    assert "/inferences/loans/${{name}}/" in job["outputs"]["score"]["uri"]
    assert job["jobs"]["score"]["outputs"] == {"score": {"type": "literal", "value": "${{parent.outputs.score}}"}}


def test_plan_schedule_is_read_back_by_azure_ai_ml(plans):
    from azure.ai.ml._restclient.arm_ml_service.models import Schedule as RestSchedule

    schedule = _one(plans["cron"], f"{ML}:Schedule")
    rest = RestSchedule({"name": schedule["inputs"]["name"], "properties": _declared_schedule(plans["cron"])})
    read = JobSchedule._from_rest_object(rest)
    assert read.create_job.jobs["score"].type == "parallel" and read.trigger.expression == "0 2 * * 1-5", schedule["urn"]


def test_schedule_data_asset_input_equals_azure_ai_ml_arm_id():
    scope = OperationScope(SUB, "rg-loans", "mlw-loans")
    orchestrator = OperationOrchestrator(
        operation_container=None, operation_scope=scope, operation_config=OperationConfig(show_progress=False, enable_telemetry=False)
    )
    ws_id = f"/subscriptions/{SUB}/resourceGroups/rg-loans/providers/Microsoft.MachineLearningServices/workspaces/mlw-loans"
    settings = BatchConfig.model_validate({"endpointName": "loans-batch", "output": {"path": "x/{job}/"}, "schedule": CRON})
    assert settings.schedule is not None
    assert input_uri(settings.schedule, ws_id) == orchestrator.get_asset_arm_id("pending-loans:3", "data")


def test_plan_without_schedule_declares_none(tmp_path):
    """dev declares no batch schedule (its one Schedule is the model monitor's)."""
    schedules = [r["urn"] for r in run_plan_dev(tmp_path)["resources"] if r["type"].endswith(":Schedule")]
    assert all("amlops:model_monitor:ModelMonitor" in urn for urn in schedules), schedules


def run_plan_dev(tmp_path: Path) -> dict[str, Any]:
    tree = copy_tree(ROOT, tmp_path / "tree")
    return run_plan("dev", tree, env={"AMLOPS_STATE_DIR": str(tmp_path / "state"), "MLFLOW_TRACKING_URI": ""})


@pytest.mark.parametrize("zone,windows", [("Europe/Amsterdam", "W. Europe Standard Time"), ("America/New_York", "Eastern Standard Time"),
                                          ("UTC", "UTC"), ("Asia/Kolkata", "India Standard Time")])
def test_schedule_time_zone_maps_to_an_azure_ai_ml_time_zone(zone, windows):
    assert windows_time_zone(zone) == windows
    assert windows in {t.value for t in TimeZone}


def test_schedule_args_without_schedule_are_refused():
    settings = BatchConfig.model_validate({"endpointName": "loans-batch"})
    args = BatchScheduleArgs(settings=settings, schedule_name="s", model_id="m", code_id="c", environment_id="e", compute_id="k",
                             workspace_id="w", resource_group_name="rg", workspace_name="ws")
    with pytest.raises(InvalidArgs) as err:
        args.validate()
    assert str(err.value) == "BatchSchedule: settings.schedule is required (the trigger, time zone and input)"


@pytest.mark.parametrize("stack", ["cron", "recurrence"])
def test_plan_schedule_passes_the_schedule_policy_rule(plans, stack):
    from amlops.plan.document import parse_plan
    from amlops.policy.rules import by_id
    from amlops.policy.runner import check_plan

    report = check_plan(parse_plan(plans[stack]), rules=[by_id()["batch-schedule-same-as-deployment"]])
    assert report.violations == ()
