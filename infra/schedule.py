"""The batch schedule: an Azure ML job schedule (CreateJob) whose pipeline job scores with the batch scripts.

Documented path, field by field:
- The schedule is a `CreateJob` schedule (azure-ai-ml `JobSchedule`, `CronTrigger`/`RecurrenceTrigger`,
  https://learn.microsoft.com/azure/machine-learning/how-to-schedule-pipeline-job); its time zone is the
  Windows name Azure's triggers take (CLDR's mapping from the stack's IANA zone).
- Its job is a pipeline job with one parallel step ("a parallel job can be used only as a step in a
  pipeline job", https://learn.microsoft.com/azure/machine-learning/how-to-use-parallel-job-in-pipeline).
  The step runs the SAME entry script from the SAME batch code asset, environment, model and cluster as
  the batch deployment; over a `uri_folder` input its run() gets a list of file paths and
  `mini_batch_size` counts files (the page above: "File list | uri_folder | By size (number of files)";
  azure-ai-ml `parallel_run_function`: "For FileDataset input, this field is the number of files").
- Each batch setting goes to the parallel field that reads it (PARALLEL_FIELDS, with where each is
  documented); `mini_batch_error_threshold` is refused as for the deployment.
- The model reaches init() as a program argument (`--model_folder ${{inputs.model}}`), files mode's
  output folder as `--output_folder ${{outputs.score}}`: a parallel job sets no AZUREML_MODEL_DIR or
  AZUREML_BI_OUTPUT_PATH; the scripts read the arguments with parse_known_args, as the page advises.
- Every run writes its own output: the pipeline job's output path holds `${{name}}`, which Azure
  expands to the job's name in "outputs path of the pipeline job"
  (https://learn.microsoft.com/azure/machine-learning/how-to-schedule-pipeline-job#use-supported-expressions-in-schedules);
  job names are unique in a workspace.
- A pipeline step names its component by id: the parallel component is declared as a ComponentVersion,
  versioned by the hash of its spec (assets are immutable).
The bodies are the ones azure-ai-ml's `ParallelComponent` and `JobSchedule(create_job=PipelineJob)`
build (tests/test_infra_schedule.py compares them), and azure-ai-ml can read such a schedule back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from infra.batch_endpoint import SCRIPTS
from infra.config import BatchConfig, BatchScheduleConfig, windows_time_zone
from infra.content import text_hash
from infra.errors import InvalidArgs

STEP = "score"
"""The pipeline's one step, and the name of its output."""
INPUT_NAME = "input_data"
"""The parallel step's major input (the folder of part files)."""
MODEL_INPUT = "model"
"""The step's model input (the batch deployment's model asset)."""
MODEL_ARGUMENT = "--model_folder"
"""The program argument that gives init() the model folder (batch/model_loader.py reads it)."""
OUTPUT_ARGUMENT = "--output_folder"
"""The program argument that gives file_batch.py its output folder (files mode)."""
PARALLEL_FIELDS = {
    "miniBatchSize": "mini_batch_size (files per run() over a uri_folder input; how-to-use-parallel-job-in-pipeline)",
    "maxConcurrencyPerInstance": "max_concurrency_per_instance (how-to-use-parallel-job-in-pipeline)",
    "instanceCount": "resources.instance_count (how-to-use-parallel-job-in-pipeline)",
    "errorThreshold": "error_threshold (file failures for a file input, -1 = ignore all; azure-ai-ml parallel_run_function)",
    "retrySettings.maxRetries": "retry_settings.max_retries (how-to-use-parallel-job-in-pipeline)",
    "retrySettings.timeout": "retry_settings.timeout, in seconds (how-to-use-parallel-job-in-pipeline)",
    "outputAction": "task.append_row_to for append_row; summary_only sets none (azure-ai-ml RunFunction)",
    "outputFileName": "the last segment of the uri_file output append_row_to names (azureml-examples iris-batch-prediction-using-parallel)",
    "loggingLevel": "logging_level (how-to-use-parallel-job-in-pipeline)",
    "environmentVariables": "the step's environment_variables (azure-ai-ml parallel_run_function)",
}
"""Each batch setting and the parallel-step field that reads it in a scheduled run."""
FREQUENCIES = {
    "minute": ml.RecurrenceFrequency.MINUTE,
    "hour": ml.RecurrenceFrequency.HOUR,
    "day": ml.RecurrenceFrequency.DAY,
    "week": ml.RecurrenceFrequency.WEEK,
    "month": ml.RecurrenceFrequency.MONTH,
}
_SCHEDULE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$")
_COMPONENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,254}$")
"""azure-ai-ml's rule for component names (ComponentNameStr: lower letters, digits, underscores, a letter first)."""
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


def input_uri(s: BatchScheduleConfig, workspace_id: str) -> str:
    """The input as a job names it: a datastore URI as written, a data asset by its ARM id
    (azure-ai-ml resolves `azureml:<name>:<version>` to that id before it sends a job)."""
    m = _DATA_ASSET.match(s.input)
    if m:
        return f"{workspace_id}/data/{m.group(1)}/versions/{m.group(2)}"
    return s.input


def output_type(settings: BatchConfig) -> str:
    """append_row aggregates into one file (uri_file); summary_only leaves a folder to the script (uri_folder)."""
    return "uri_file" if settings.output_action == "append_row" else "uri_folder"


def output_uri(settings: BatchConfig) -> str:
    """Where each scheduled run writes: the datastore folder (with ${{name}} for {job}), plus the output file for append_row."""
    folder = settings.output.uri(settings.output.scheduled_path())
    return folder + settings.output_file_name if settings.output_action == "append_row" else folder


def program_arguments(settings: BatchConfig) -> str:
    """The entry script's arguments: the model folder, and in files mode the output folder."""
    args = f"{MODEL_ARGUMENT} ${{{{inputs.{MODEL_INPUT}}}}}"
    if settings.output_action == "summary_only":
        args += f" {OUTPUT_ARGUMENT} ${{{{outputs.{STEP}}}}}"
    return args


def _arm(asset_id: str) -> str:
    """azure-ai-ml's reference to a resolved asset in a job or component body: `azureml:` + its id."""
    return asset_id if asset_id.startswith("azureml:") else f"azureml:{asset_id}"


def parallel_settings(settings: BatchConfig) -> dict[str, Any]:
    """The batch settings as the parallel step's fields (PARALLEL_FIELDS), in azure-ai-ml's REST spelling."""
    return {
        "resources": {"instance_count": settings.instance_count},
        "logging_level": settings.logging_level,
        "mini_batch_size": str(settings.mini_batch_size),
        "retry_settings": {"timeout": settings.retry_settings.timeout, "max_retries": settings.retry_settings.max_retries},
        "max_concurrency_per_instance": settings.max_concurrency_per_instance,
        "error_threshold": settings.error_threshold,
    }


def task(settings: BatchConfig, code_id: str, environment_id: str) -> dict[str, Any]:
    """The parallel step's run_function task: the batch entry script, its code asset and environment."""
    body = {
        "type": "run_function",
        "code": _arm(code_id),
        "entry_script": SCRIPTS[settings.mode],
        "program_arguments": program_arguments(settings),
        "environment": _arm(environment_id),
    }
    if settings.output_action == "append_row":
        body["append_row_to"] = f"${{{{outputs.{STEP}}}}}"
    return body


def component_spec(settings: BatchConfig, name: str, code_id: str, environment_id: str) -> dict[str, Any]:
    """The parallel component (ParallelComponent's componentSpec): inputs, output, task and the batch settings."""
    return {
        "name": name,
        "is_deterministic": True,
        "inputs": {INPUT_NAME: {"type": "uri_folder", "mode": "ro_mount"}, MODEL_INPUT: {"type": "mlflow_model"}},
        "outputs": {STEP: {"type": output_type(settings)}},
        "type": "parallel",
        "task": task(settings, code_id, environment_id),
        "input_data": f"${{{{inputs.{INPUT_NAME}}}}}",
        **parallel_settings(settings),
    }


def pipeline_step(settings: BatchConfig, spec: dict[str, Any], component_id: str) -> dict[str, Any]:
    """The pipeline's parallel node (what azure-ai-ml's Parallel node sends): the component, its fields, the bindings."""
    node = {k: v for k, v in spec.items() if k not in ("is_deterministic", "inputs", "outputs")}
    node["mini_batch_size"] = settings.mini_batch_size  # the node sends it as a number, the component as a string
    if settings.deployment_environment():
        node["environment_variables"] = settings.deployment_environment()
    node.update(
        name=STEP,
        componentId=component_id,
        inputs={k: {"job_input_type": "literal", "value": f"${{{{parent.inputs.{k}}}}}"} for k in (INPUT_NAME, MODEL_INPUT)},
        outputs={STEP: {"type": "literal", "value": f"${{{{parent.outputs.{STEP}}}}}"}},
    )
    return node


def component_name(schedule_name: str) -> str:
    """The step's component name: the schedule's, in the letters a component name may hold ('-' → '_')."""
    return schedule_name.lower().replace("-", "_")


def spec_version(spec: dict[str, Any]) -> str:
    """The component version: a hash of its spec (a changed setting gives a new, immutable version)."""
    return text_hash(json.dumps(spec, sort_keys=True))


@dataclass(frozen=True)
class BatchScheduleArgs:
    """What the BatchSchedule component needs."""

    settings: BatchConfig
    """The stack's amlops:batch; its `schedule` must be set (trigger, time zone, input, enabled)."""
    schedule_name: str
    """The schedule's name in the workspace (letters, digits, '-', '_'; up to 255); its component's name is derived (component_name)."""
    model_id: pulumi.Input[str]
    """The model asset the batch deployment scores with (the step's model input)."""
    code_id: pulumi.Input[str]
    """The batch CodeVersion id (the deployment's entry scripts)."""
    environment_id: pulumi.Input[str]
    """The batch EnvironmentVersion id."""
    compute_id: pulumi.Input[str]
    """The cluster the batch deployment runs on (the pipeline's default compute)."""
    workspace_id: pulumi.Input[str]
    """The ML workspace's ARM id: a data asset input's id is under it."""
    resource_group_name: pulumi.Input[str]
    """The workspace's resource group."""
    workspace_name: pulumi.Input[str]
    """The ML workspace."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the schedule and its job (default none)."""

    def validate(self) -> None:
        b = self.settings
        if b.schedule is None:
            raise InvalidArgs("BatchSchedule", "settings.schedule", "is required (the trigger, time zone and input)")
        if not _SCHEDULE_NAME.match(self.schedule_name) or not _COMPONENT_NAME.match(component_name(self.schedule_name)):
            raise InvalidArgs(
                "BatchSchedule", "schedule_name", f"must be 1-255 letters, digits, '-' or '_', starting with a letter, got {self.schedule_name!r}"
            )
        if b.mini_batch_error_threshold is not None:
            raise InvalidArgs("BatchSchedule", "settings.mini_batch_error_threshold", "is refused: the batch deployment has no such setting, so a scheduled run may not differ")
        try:
            b.output.scheduled_path()
        except ValueError as exc:
            raise InvalidArgs("BatchSchedule", "settings.output.path", f"{exc}; use {{job}}") from None


class BatchSchedule(pulumi.ComponentResource):
    """Schedule (cron or recurrence) → a pipeline job whose parallel step runs the batch deployment's script and settings."""

    schedule_name: pulumi.Output[str]
    schedule_id: pulumi.Output[str]
    component_id: pulumi.Output[str]

    def __init__(self, name: str, args: BatchScheduleArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:schedule:BatchSchedule", name, None, opts)
        b = args.settings
        s = b.schedule
        assert s is not None
        scope = {"resource_group_name": args.resource_group_name, "workspace_name": args.workspace_name}
        spec = pulumi.Output.all(args.code_id, args.environment_id).apply(
            lambda v: component_spec(b, component_name(args.schedule_name), v[0], v[1])
        )
        component = ml.ComponentVersion(
            f"{name}-component",
            name=component_name(args.schedule_name),
            version=spec.apply(spec_version),
            properties=ml.ComponentVersionPropertiesArgs(
                component_spec=spec,
                description=f"{SCRIPTS[b.mode]} over a folder of part files, with the batch deployment's settings",
                tags=args.tags,
            ),
            **scope,
            opts=pulumi.ResourceOptions(parent=self),
        )
        job = ml.PipelineJobArgs(
            job_type="Pipeline",
            display_name=args.schedule_name,
            description=f"{b.mode} batch scoring of {s.input} on a schedule",
            tags=args.tags,
            properties={},
            jobs=pulumi.Output.all(spec, component.id).apply(lambda v: {STEP: pipeline_step(b, v[0], v[1])}),
            inputs={
                INPUT_NAME: ml.UriFolderJobInputArgs(
                    job_input_type="uri_folder", uri=pulumi.Output.from_input(args.workspace_id).apply(lambda w: input_uri(s, w))
                ),
                MODEL_INPUT: ml.MLFlowModelJobInputArgs(job_input_type="mlflow_model", uri=pulumi.Output.from_input(args.model_id).apply(_arm)),
            },
            outputs={
                STEP: (ml.UriFileJobOutputArgs if output_type(b) == "uri_file" else ml.UriFolderJobOutputArgs)(
                    job_output_type=output_type(b), uri=output_uri(b)
                )
            },
            settings=pulumi.Output.from_input(args.compute_id).apply(lambda c: {"default_compute": _arm(c)}),
        )
        schedule = ml.Schedule(
            f"{name}-schedule",
            name=args.schedule_name,
            properties=ml.SchedulePropertiesArgs(
                action=ml.JobScheduleActionArgs(action_type="CreateJob", job_definition=job),
                trigger=trigger_args(s),
                is_enabled=s.enabled,
                display_name=args.schedule_name,
                description=f"{b.mode} batch scoring of {s.input} on a schedule",
                tags=args.tags,
                properties={},
            ),
            **scope,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.schedule_name = schedule.name
        self.schedule_id = schedule.id
        self.component_id = component.id
        self.register_outputs({"scheduleName": self.schedule_name, "scheduleId": self.schedule_id, "componentId": self.component_id})
