"""The batch schedule: an Azure ML Schedule whose action invokes the stack's batch endpoint (default deployment).

The trigger is Azure's CronTrigger or RecurrenceTrigger
(https://learn.microsoft.com/azure/machine-learning/reference-yaml-schedule); its time zone is the
Windows name Azure's triggers take (CLDR's mapping from the stack's IANA zone).

The action's `endpointInvocationDefinition` is untyped in Azure's REST API and no Microsoft page
documents its content. It carries the invocation body that invoking the endpoint takes (input data
and output data, as https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs
shows and azure-ai-ml's batch_endpoints.invoke builds; tests compare the two) and the endpoint's
ARM id, which says which endpoint to invoke: Azure routes the job to the endpoint's default deployment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.config import BatchConfig, BatchScheduleConfig, windows_time_zone
from infra.errors import InvalidArgs

INPUT_NAME = "input_data"
"""The invocation's one data input (a batch model deployment takes exactly one, under any name)."""
OUTPUT_NAME = "score"
"""A batch model deployment's one output is named `score` (how-to-access-data-batch-endpoints-jobs)."""
FREQUENCIES = {
    "minute": ml.RecurrenceFrequency.MINUTE,
    "hour": ml.RecurrenceFrequency.HOUR,
    "day": ml.RecurrenceFrequency.DAY,
    "week": ml.RecurrenceFrequency.WEEK,
    "month": ml.RecurrenceFrequency.MONTH,
}
DEFAULT_DEPLOYMENT_PROPERTY = "amlops.defaultDeployment"
"""The schedule's asset property that records the endpoint's default deployment when it was declared."""
_SCHEDULE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$")
_DATA_ASSET = re.compile(r"^azureml:([^:]+):([0-9]+)$")


def trigger_args(s: BatchScheduleConfig) -> ml.CronTriggerArgs | ml.RecurrenceTriggerArgs:
    """The schedule's trigger: cron or recurrence, in the Windows time zone Azure reads."""
    common: dict[str, Any] = {"time_zone": windows_time_zone(s.time_zone)}
    if s.start_time is not None:
        common["start_time"] = datetime.fromisoformat(s.start_time).isoformat()
    if s.cron is not None:
        return ml.CronTriggerArgs(trigger_type="Cron", expression=s.cron, **common)
    r = s.recurrence
    assert r is not None  # BatchScheduleConfig requires cron or recurrence
    pattern = None
    if r.hours:
        pattern = ml.RecurrenceScheduleArgs(
            hours=list(r.hours),
            minutes=list(r.minutes),
            week_days=[ml.WeekDay(d.capitalize()) for d in r.week_days] or None,
        )
    return ml.RecurrenceTriggerArgs(
        trigger_type="Recurrence", frequency=FREQUENCIES[r.frequency], interval=r.interval, schedule=pattern, **common
    )


def endpoint_id(workspace_id: str, endpoint_name: str) -> str:
    """A batch endpoint's ARM id in the workspace."""
    return f"{workspace_id}/batchEndpoints/{endpoint_name}"


def input_uri(s: BatchScheduleConfig, workspace_id: str) -> str:
    """The input as the invocation names it: a datastore URI as written, a data asset by its ARM id
    (azure-ai-ml's invoke resolves `azureml:<name>:<version>` to that id before it sends the body)."""
    m = _DATA_ASSET.match(s.input)
    if m:
        return f"{workspace_id}/data/{m.group(1)}/versions/{m.group(2)}"
    return s.input


def invocation_body(settings: BatchConfig, input_uri: str, output_uri: str) -> dict[str, Any]:
    """The body that invokes a batch endpoint: one input, the `score` output (a file for append_row, else a folder)."""
    s = settings.schedule
    assert s is not None
    output_type = "UriFile" if settings.output_action == "append_row" else "UriFolder"
    return {
        "properties": {
            "inputData": {INPUT_NAME: {"jobInputType": s.input_type(), "uri": input_uri}},
            "outputData": {OUTPUT_NAME: {"jobOutputType": output_type, "uri": output_uri}},
        }
    }


def output_uri(settings: BatchConfig) -> str:
    """Where each scheduled run writes: the datastore folder (with ${{name}} for {job}), plus the output file for append_row."""
    folder = settings.output.uri(settings.output.scheduled_path())
    return folder + settings.output_file_name if settings.output_action == "append_row" else folder


@dataclass(frozen=True)
class BatchScheduleArgs:
    """What the BatchSchedule component needs."""

    settings: BatchConfig
    """The stack's amlops:batch; its `schedule` must be set (trigger, time zone, input, enabled)."""
    schedule_name: str
    """The schedule's name in the workspace (letters, digits, '-', '_'; up to 255)."""
    endpoint_name: pulumi.Input[str]
    """The batch endpoint's Azure name: the schedule invokes it, and so its default deployment."""
    default_deployment: pulumi.Input[str]
    """The endpoint's default deployment, once set (the schedule waits for it and records it in its properties)."""
    workspace_id: pulumi.Input[str]
    """The ML workspace's ARM id: the endpoint's and a data asset input's ids are under it."""
    resource_group_name: pulumi.Input[str]
    """The workspace's resource group."""
    workspace_name: pulumi.Input[str]
    """The ML workspace."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags in the schedule's properties (default none)."""

    def validate(self) -> None:
        if self.settings.schedule is None:
            raise InvalidArgs("BatchSchedule", "settings.schedule", "is required (the trigger, time zone and input)")
        if not _SCHEDULE_NAME.match(self.schedule_name):
            raise InvalidArgs(
                "BatchSchedule", "schedule_name", f"must be 1-255 letters, digits, '-' or '_', starting with a letter or digit, got {self.schedule_name!r}"
            )
        try:
            self.settings.output.scheduled_path()
        except ValueError as exc:
            raise InvalidArgs("BatchSchedule", "settings.output.path", f"{exc}; use {{job}}") from None


class BatchSchedule(pulumi.ComponentResource):
    """Schedule (cron or recurrence) → invoke the batch endpoint with the stack's input and output."""

    schedule_name: pulumi.Output[str]
    schedule_id: pulumi.Output[str]

    def __init__(self, name: str, args: BatchScheduleArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:schedule:BatchSchedule", name, None, opts)
        b = args.settings
        s = b.schedule
        assert s is not None
        definition = pulumi.Output.all(args.workspace_id, args.endpoint_name).apply(
            lambda v: {"endpointId": endpoint_id(v[0], v[1]), **invocation_body(b, input_uri(s, v[0]), output_uri(b))}
        )
        schedule = ml.Schedule(
            f"{name}-schedule",
            name=args.schedule_name,
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            properties=ml.SchedulePropertiesArgs(
                action=ml.EndpointScheduleActionArgs(action_type="InvokeBatchEndpoint", endpoint_invocation_definition=definition),
                trigger=trigger_args(s),
                is_enabled=s.enabled,
                display_name=args.schedule_name,
                description=f"{b.mode} batch scoring of {s.input} on a schedule",
                properties={DEFAULT_DEPLOYMENT_PROPERTY: args.default_deployment},  # type: ignore[dict-item]
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.schedule_name = schedule.name
        self.schedule_id = schedule.id
        self.register_outputs({"scheduleName": self.schedule_name, "scheduleId": self.schedule_id})
