"""Alerts for the online endpoints: one e-mail action group, and per endpoint metric alerts and the book's
rejected-loans query over that endpoint's trace lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import monitor

from infra.autoscale import ENDPOINT_METRICS
from infra.config import AlertsConfig
from infra.durations import iso_minutes
from infra.errors import InvalidArgs

REJECTED_LOG_LINE = "scored %d rows, %d rejected"
"""The trace line score.py writes once per scored request (rejected = rows predicted 0)."""
REJECTED_LOANS_QUERY = r"""traces
| where message startswith "scored "
| where tostring(customDimensions.endpoint) == "{endpoint}"
| extend rejected = toint(extract(@"^scored [0-9]+ rows, ([0-9]+) rejected$", 1, message))
| where isnotnull(rejected)
| project timestamp, rejected"""
"""One row per `scored N rows, M rejected` trace of one endpoint with M as `rejected`; the rule sums it
(Total) over its 30-minute window. `{endpoint}`: the endpoint's Azure name, which score.py logs as the
trace's `endpoint` custom dimension (the App Insights handler of the inference server, opencensus'
AzureLogHandler, sends `extra={"custom_dimensions": {...}}` as customDimensions:
https://pypi.org/project/opencensus-ext-azure/ "custom_dimensions"; the server logs its own this way in
azureml_inference_server_http/server/appinsights_client.py), so two endpoints never count each other's rejections. The timestamp stays: the alert service bins the rows by it, so the query
must not summarize it away."""
FAILED_REQUESTS_WINDOW_MINUTES = 5
"""RequestsPerMinute supports only the Average aggregation: "N failed requests in 5 minutes" is an
average above N/5 per minute over a 5-minute window."""

@dataclass(frozen=True)
class AlertTarget:
    """One online endpoint's alerts: its label in the alert names ("" = the plain names), id and thresholds."""

    label: str
    endpoint_id: pulumi.Input[str]
    alerts: AlertsConfig
    endpoint_name: str
    """The endpoint's Azure name: its rejected-loans query counts only its own trace lines."""
    keep_names: bool = False
    """The model a single-model stack migrated to `models:` (StackConfig.migrated): its rules keep their old Azure
    names (`monitoring-latency`, …) and Pulumi URNs (an alias), so migrating replaces none of them."""


def rejected_loans_query(endpoint_name: str) -> str:
    """The rejected-loans query for one endpoint (REJECTED_LOANS_QUERY with its name)."""
    if '"' in endpoint_name or "\\" in endpoint_name:
        raise InvalidArgs("Monitoring", "targets", f"endpoint names are letters, digits and hyphens, got {endpoint_name!r}")
    return REJECTED_LOANS_QUERY.replace("{endpoint}", endpoint_name)


@dataclass(frozen=True)
class MonitoringArgs:
    """What the Monitoring component needs."""

    email: str
    """Who the alerts e-mail (amlops:monitoring.actionGroupEmail)."""
    targets: tuple[AlertTarget, ...]
    """The online endpoints to alert on, each with its own thresholds (one per model)."""
    app_insights_id: pulumi.Input[str]
    """The Application Insights the log-query alert reads."""
    resource_group_name: pulumi.Input[str]
    """Where the alert resources live."""
    location: str
    """The Azure region of the log-query alert (metric alerts and action groups are global)."""
    action_group_name: str
    """The action group's name (1-260 characters)."""
    action_group_short_name: str
    """Its short name, shown in e-mails (1-12 characters)."""
    """The KQL that yields `timestamp` and a `rejected` column per row (default: score.py's trace lines)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on every resource (default none)."""

    def validate(self) -> None:
        labels = [t.label for t in self.targets]
        if len(set(labels)) != len(labels):
            raise InvalidArgs("Monitoring", "targets", f"labels must differ (they name the alert rules), got {labels}")
        if "@" not in self.email:
            raise InvalidArgs("Monitoring", "email", f"must be an e-mail address, got {self.email!r}")
        if not 1 <= len(self.action_group_short_name) <= 12:
            raise InvalidArgs(
                "Monitoring", "action_group_short_name", f"must be 1-12 characters, got {self.action_group_short_name!r}"
            )


class Monitoring(pulumi.ComponentResource):
    """ActionGroup (shared) → per endpoint: MetricAlert (latency), MetricAlert (5xx), ScheduledQueryRule (rejected loans)."""

    action_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        common = {"resource_group_name": args.resource_group_name, "tags": args.tags}
        group = monitor.ActionGroup(
            f"{name}-action-group",
            monitor.ActionGroupInitArgs(
                action_group_name=args.action_group_name,
                group_short_name=args.action_group_short_name,
                enabled=True,
                location="Global",
                email_receivers=[
                    monitor.MicrosoftCommonEmailReceiverArgs(
                        name="on-call", email_address=args.email, use_common_alert_schema=True
                    )
                ],
                **common,
            ),
            opts=child,
        )
        for target in args.targets:
            self._alerts(name, target, group.id, args, child)
        self.action_group_id = group.id
        self.register_outputs({"actionGroupId": self.action_group_id})

    def _alerts(self, base: str, target: AlertTarget, group_id: pulumi.Output[str], args: MonitoringArgs, child: pulumi.ResourceOptions) -> None:
        """The alert rules of one endpoint, named `<base>-<label>-<role>` (`<base>-<role>` without a label)."""
        a = target.alerts
        name = f"{base}-{target.label}" if target.label else base
        plain = target.keep_names and name != base

        def rule(role: str) -> tuple[str, str, pulumi.ResourceOptions]:
            """(Pulumi name, Azure rule name, options): a migrated model's rules keep their old name and URN."""
            if not plain:
                return f"{name}-{role}", f"{name}-{role}", child
            return f"{name}-{role}", f"{base}-{role}", pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=f"{base}-{role}")]))

        common = {"resource_group_name": args.resource_group_name, "tags": args.tags}
        actions = [monitor.MetricAlertActionArgs(action_group_id=group_id)]

        def metric_alert(role: str, description: str, criterion: monitor.MetricCriteriaArgs, severity: int) -> None:
            resource, rule_name, opts = rule(role)
            monitor.MetricAlert(
                resource,
                rule_name=rule_name,
                description=description,
                severity=severity,
                enabled=True,
                scopes=[target.endpoint_id],
                evaluation_frequency="PT1M",
                window_size=iso_minutes(FAILED_REQUESTS_WINDOW_MINUTES),
                location="global",
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", all_of=[criterion]
                ),
                actions=actions,
                **common,
                opts=opts,
            )

        metric_alert(
            "latency",
            f"average request latency above {a.latency_ms} ms over 5 minutes",
            monitor.MetricCriteriaArgs(
                criterion_type="StaticThresholdCriterion",
                name="latency",
                metric_name="RequestLatency",
                metric_namespace=ENDPOINT_METRICS,
                operator=monitor.Operator.GREATER_THAN,
                threshold=a.latency_ms,
                time_aggregation=monitor.AggregationTypeEnum.AVERAGE,
            ),
            severity=2,
        )
        per_minute = a.failed_requests / FAILED_REQUESTS_WINDOW_MINUTES
        metric_alert(
            "failed-requests",
            f"more than {a.failed_requests} failed (5xx) requests in {FAILED_REQUESTS_WINDOW_MINUTES} minutes "
            f"(on average more than {per_minute:g} per minute)",
            monitor.MetricCriteriaArgs(
                criterion_type="StaticThresholdCriterion",
                name="failed-requests",
                metric_name="RequestsPerMinute",
                metric_namespace=ENDPOINT_METRICS,
                dimensions=[monitor.MetricDimensionArgs(name="statusCodeClass", operator="Include", values=["5xx"])],
                operator=monitor.Operator.GREATER_THAN,
                threshold=per_minute,
                time_aggregation=monitor.AggregationTypeEnum.AVERAGE,
            ),
            severity=1,
        )
        resource, rule_name, opts = rule("rejected-loans")
        monitor.ScheduledQueryRule(
            resource,
            rule_name=rule_name,
            description=f"more than {a.rejected_loans} rejected loans in 30 minutes (the book's Kusto alert)",
            display_name="rejected loans",
            kind=monitor.Kind.LOG_ALERT,
            location=args.location,
            severity=3,
            enabled=True,
            scopes=[args.app_insights_id],
            evaluation_frequency="PT5M",
            window_size="PT30M",
            criteria=monitor.ScheduledQueryRuleCriteriaArgs(
                all_of=[
                    monitor.ConditionArgs(
                        query=rejected_loans_query(target.endpoint_name),
                        time_aggregation=monitor.TimeAggregation.TOTAL,
                        metric_measure_column="rejected",
                        # monitor.ConditionOperator ("gt") is another monitor API's enum under the same name; the
                        # scheduledQueryRules schema takes Equals/GreaterThan/GreaterThanOrEqual/LessThan/LessThanOrEqual.
                        operator="GreaterThan",
                        threshold=a.rejected_loans,
                        failing_periods=monitor.ConditionFailingPeriodsArgs(
                            number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                        ),
                    )
                ]
            ),
            actions=monitor.ActionsArgs(action_groups=[group_id]),
            **common,
            opts=opts,
        )
