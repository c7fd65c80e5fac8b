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
from infra.errors import InvalidArgs
from infra.schedule import BatchScheduleArgs, input_uri, invocation_body
from tree_support import copy_tree

ROOT = Path(__file__).resolve().parent.parent
ML = "azure-native:machinelearningservices"
SUB = "00000000-0000-0000-0000-000000000000"
CRON = {"enabled": True, "cron": "0 2 * * 1-5", "timeZone": "Europe/Amsterdam", "startTime": "2026-12-01T02:00:00",
        "input": "azureml:pending-loans:3"}
RECURRENCE = {"enabled": False, "timeZone": "America/New_York", "input": "azureml://datastores/workspaceblobstore/paths/loans/pending/",
              "recurrence": {"frequency": "week", "interval": 2, "hours": [6, 18], "minutes": [30], "weekDays": ["monday", "friday"]}}


def _stack(schedule: dict[str, Any], **batch: Any) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    b = doc["config"]["amlops:batch"]
    b.update(batch, output={"datastore": "workspaceblobstore", "path": "inferences/loans/{job}/"}, schedule=schedule)
    return doc


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict[str, Any]]:
    tree = copy_tree(ROOT, tmp_path_factory.mktemp("tree"))
    stacks = {"cron": _stack(CRON), "recurrence": _stack(RECURRENCE, mode="files", outputAction="summary_only")}
    for name, doc in stacks.items():
        (tree / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(doc))
    env = {"AMLOPS_STATE_DIR": str(tmp_path_factory.mktemp("state")), "MLFLOW_TRACKING_URI": ""}
    return {name: run_plan(name, tree, env=env) for name in stacks}


def _one(plan: dict[str, Any], type_suffix: str) -> dict[str, Any]:
    found = [r for r in plan["resources"] if r["type"].endswith(type_suffix)]
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


def test_plan_schedule_properties_equal_azure_ai_ml_job_schedule_but_the_action(plans):
    schedule = _one(plans["cron"], f"{ML}:Schedule")
    props = schedule["inputs"]["properties"]
    rest = JobSchedule(
        name=schedule["inputs"]["name"],
        trigger=CronTrigger(expression="0 2 * * 1-5", start_time="2026-12-01T02:00:00", time_zone=TimeZone.W_EUROPE_STANDARD_TIME),
        create_job="azureml:/subscriptions/0/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/jobs/x",
        display_name=props["displayName"], description=props["description"], tags=props["tags"], properties=props["properties"],
    )._to_rest_object().as_dict()["properties"]
    assert {k: v for k, v in props.items() if k not in ("action", "isEnabled")} == {k: v for k, v in rest.items() if k != "action"}
    assert props["isEnabled"] is True and props["action"]["actionType"] == "InvokeBatchEndpoint", schedule["urn"]
    assert props["displayName"] == "loans-dev-batch-schedule", schedule["urn"]
    assert props["tags"] == {"environment": "dev", "owner": "ml-platform", "costCenter": "ml-dev"}, schedule["urn"]


def _azure_ai_ml_invoke_body(inputs: dict[str, Input], outputs: dict[str, Output]) -> dict[str, Any]:
    """What BatchEndpointOperations.invoke sends for these inputs and outputs (its body-building code, no network)."""
    params_override = [{EndpointYamlFields.BATCH_JOB_INPUT_DATA: inputs}, {EndpointYamlFields.BATCH_JOB_OUTPUT_DATA: outputs}]
    batch_job = BatchJobSchema(context={BASE_PATH_CONTEXT_KEY: Path("."), PARAMS_OVERRIDE_KEY: params_override}).load(data={})
    assert batch_job.pop("_output_dataset", None) is None
    return {"properties": batch_job}


def test_plan_schedule_invocation_equals_azure_ai_ml_invoke_body_for_a_data_asset(plans):
    schedule = _one(plans["cron"], f"{ML}:Schedule")
    definition = copy.deepcopy(schedule["inputs"]["properties"]["action"]["endpointInvocationDefinition"])
    ws_id = _workspace_id(plans["cron"])
    endpoint = _one(plans["cron"], f"{ML}:BatchEndpoint")
    assert definition.pop("endpointId") == f"{ws_id}/batchEndpoints/{endpoint['inputs']['endpointName']}", schedule["urn"]
    expected = _azure_ai_ml_invoke_body(
        {"input_data": Input(type="uri_folder", path=f"{ws_id}/data/pending-loans/versions/3")},
        {"score": Output(type="uri_file", path="azureml://datastores/workspaceblobstore/paths/inferences/loans/${{name}}/predictions.csv")},
    )
    assert definition == expected, schedule["urn"]


def test_plan_schedule_invocation_equals_azure_ai_ml_invoke_body_for_a_datastore_folder_in_files_mode(plans):
    schedule = _one(plans["recurrence"], f"{ML}:Schedule")
    definition = copy.deepcopy(schedule["inputs"]["properties"]["action"]["endpointInvocationDefinition"])
    definition.pop("endpointId")
    expected = _azure_ai_ml_invoke_body(
        {"input_data": Input(type="uri_folder", path=RECURRENCE["input"])},
        {"score": Output(type="uri_folder", path="azureml://datastores/workspaceblobstore/paths/inferences/loans/${{name}}/")},
    )
    assert definition == expected, schedule["urn"]
    assert schedule["inputs"]["properties"]["isEnabled"] is False, schedule["urn"]


def test_schedule_data_asset_input_equals_azure_ai_ml_arm_id():
    scope = OperationScope(SUB, "rg-loans", "mlw-loans")
    orchestrator = OperationOrchestrator(
        operation_container=None, operation_scope=scope, operation_config=OperationConfig(show_progress=False, enable_telemetry=False)
    )
    ws_id = f"/subscriptions/{SUB}/resourceGroups/rg-loans/providers/Microsoft.MachineLearningServices/workspaces/mlw-loans"
    settings = BatchConfig.model_validate({"endpointName": "loans-batch", "output": {"path": "x/{job}/"}, "schedule": CRON})
    assert settings.schedule is not None
    assert input_uri(settings.schedule, ws_id) == orchestrator.get_asset_arm_id("pending-loans:3", "data")


def test_plan_schedule_waits_for_the_default_deployment(plans):
    schedule = _one(plans["cron"], f"{ML}:Schedule")
    default = [r for r in plans["cron"]["resources"] if r["type"].endswith("dynamic:Resource") and "deployment_name" in r["inputs"]]
    assert [d["urn"] for d in default if d["urn"] in schedule["dependencies"]] == [default[0]["urn"]], schedule["urn"]
    assert schedule["inputs"]["properties"]["properties"] == {"amlops.defaultDeployment": "loans-batch"}, schedule["urn"]


def test_plan_without_schedule_declares_none(tmp_path):
    assert all(not r["type"].endswith(":Schedule") for r in run_plan_dev(tmp_path)["resources"])


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
    args = BatchScheduleArgs(settings=settings, schedule_name="s", endpoint_name="e", default_deployment="d", workspace_id="w",
                             resource_group_name="rg", workspace_name="ws")
    with pytest.raises(InvalidArgs) as err:
        args.validate()
    assert str(err.value) == "BatchSchedule: settings.schedule is required (the trigger, time zone and input)"


def test_schedule_invocation_body_append_row_writes_the_output_file():
    settings = BatchConfig.model_validate({"endpointName": "loans-batch", "outputFileName": "scores.csv",
                                           "output": {"datastore": "results", "path": "loans/{job}/"}, "schedule": CRON})
    body = invocation_body(settings, "azureml://datastores/x/paths/in/", "azureml://datastores/results/paths/loans/${{name}}/scores.csv")
    assert body["properties"]["outputData"] == {"score": {"jobOutputType": "UriFile", "uri": "azureml://datastores/results/paths/loans/${{name}}/scores.csv"}}


@pytest.mark.parametrize("stack", ["cron", "recurrence"])
def test_plan_schedule_passes_the_schedule_policy_rule(plans, stack):
    from amlops.plan.document import parse_plan
    from amlops.policy.rules import by_id
    from amlops.policy.runner import check_plan

    report = check_plan(parse_plan(plans[stack]), rules=[by_id()["batch-schedule-default-deployment"]])
    assert report.violations == ()
