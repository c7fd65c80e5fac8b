"""Autoscale for one managed online deployment: CPU scale-out/in and a request-latency rule.

Metric names are Azure Monitor's (supported-metrics lists for
Microsoft.MachineLearningServices/workspaces/onlineEndpoints[/deployments]): the deployment
exposes `CpuUtilizationPercentage` but no average latency (only RequestLatency_P50..P99);
the endpoint's `RequestLatency` is the average and carries a `deployment` dimension, so the
latency rule reads the endpoint's metric filtered to this deployment. Without the filter,
one slow deployment would scale every deployment behind the endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import monitor

from infra.config import AutoscaleConfig
from infra.durations import iso_minutes
from infra.errors import InvalidArgs

DEPLOYMENT_METRICS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
ENDPOINT_METRICS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"


@dataclass(frozen=True)
class AutoscaleArgs:
    """What the Autoscale component needs."""

    deployment_id: pulumi.Input[str]
    """The online deployment whose `sku.capacity` autoscale moves."""
    deployment_name: str
    """Its name: the value of the endpoint latency metric's `deployment` dimension."""
    endpoint_id: pulumi.Input[str]
    """Its endpoint (the request-latency metric is the endpoint's)."""
    resource_group_name: pulumi.Input[str]
    """Where the autoscale setting lives."""
    location: str
    """The Azure region of the setting."""
    settings: AutoscaleConfig
    """The stack's amlops:online.autoscale (min/max/default, thresholds, cooldown)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags on the setting (default none)."""

    setting_name: str | None = None
    """The autoscale setting's Azure name (default: the component's name); a renamed component keeps its old one."""

    def validate(self) -> None:
        if not self.deployment_name:
            raise InvalidArgs("Autoscale", "deployment_name", "must name the deployment, got ''")
        s = self.settings
        if not s.min_instances <= s.default_instances <= s.max_instances:
            raise InvalidArgs(
                "Autoscale",
                "settings",
                f"needs min ≤ default ≤ max instances, got {s.min_instances}/{s.default_instances}/{s.max_instances}",
            )
        if s.cpu_scale_in_percent >= s.cpu_scale_out_percent:
            raise InvalidArgs("Autoscale", "settings.cpu_scale_in_percent", "must be below cpu_scale_out_percent")


def _rule(
    metric: str,
    namespace: str,
    resource: pulumi.Input[str],
    operator: str,
    threshold: float,
    direction: str,
    cooldown: str,
    dimensions: list[monitor.ScaleRuleMetricDimensionArgs] | None = None,
) -> monitor.ScaleRuleArgs:
    return monitor.ScaleRuleArgs(
        metric_trigger=monitor.MetricTriggerArgs(
            metric_name=metric,
            metric_namespace=namespace,
            metric_resource_uri=resource,
            dimensions=dimensions,
            operator=operator,
            threshold=threshold,
            statistic=monitor.MetricStatisticType.AVERAGE,
            time_aggregation=monitor.TimeAggregationType.AVERAGE,
            time_grain="PT1M",
            time_window="PT5M",
        ),
        scale_action=monitor.ScaleActionArgs(
            direction=direction, type=monitor.ScaleType.CHANGE_COUNT, value="1", cooldown=cooldown
        ),
    )


class Autoscale(pulumi.ComponentResource):
    """A monitor.AutoscaleSetting on the deployment id."""

    setting_id: pulumi.Output[str]

    def __init__(self, name: str, args: AutoscaleArgs, opts: pulumi.ResourceOptions | None = None):
        args.validate()
        super().__init__("amlops:autoscale:Autoscale", name, None, opts)
        s = args.settings
        cooldown = iso_minutes(s.cooldown_minutes)
        up, down = monitor.ScaleDirection.INCREASE, monitor.ScaleDirection.DECREASE
        gt, lt = monitor.ComparisonOperationType.GREATER_THAN, monitor.ComparisonOperationType.LESS_THAN
        setting = monitor.AutoscaleSetting(
            f"{name}-setting",
            autoscale_setting_name=args.setting_name or name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            tags=args.tags,
            enabled=True,
            target_resource_uri=args.deployment_id,
            profiles=[
                monitor.AutoscaleProfileArgs(
                    name="cpu-and-latency",
                    capacity=monitor.ScaleCapacityArgs(
                        minimum=str(s.min_instances), maximum=str(s.max_instances), default=str(s.default_instances)
                    ),
                    rules=[
                        _rule("CpuUtilizationPercentage", DEPLOYMENT_METRICS, args.deployment_id, gt, s.cpu_scale_out_percent, up, cooldown),
                        _rule("CpuUtilizationPercentage", DEPLOYMENT_METRICS, args.deployment_id, lt, s.cpu_scale_in_percent, down, cooldown),
                        _rule(
                            "RequestLatency", ENDPOINT_METRICS, args.endpoint_id, gt, s.latency_scale_out_ms, up, cooldown,
                            dimensions=[
                                monitor.ScaleRuleMetricDimensionArgs(
                                    dimension_name="deployment",
                                    operator=monitor.ScaleRuleMetricDimensionOperationType.EQUALS,
                                    values=[args.deployment_name],
                                )
                            ],
                        ),
                    ],
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.setting_id = setting.id
        self.register_outputs({"settingId": self.setting_id})
