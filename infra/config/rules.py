"""The rules across fields and sections of a stack, in one place, each with the sections it reads.

A rule gets a view whose attributes are the valid sections (parse.py leaves a section with a
field problem out, and skips the rules that read it).
"""

from __future__ import annotations

import ipaddress
from types import SimpleNamespace
from typing import Any, Iterator

from infra.config.base import DEPLOYMENT_NAME
from infra.config.model_monitor import TARGET_COLUMN_ENV
from infra.config.models import monitored_deployment
from infra.errors import Problem


def _online_problems(cfg: Any) -> Iterator[Problem]:
    online = cfg.online
    deployments = set(online.deployments)
    for field, mapping in (("traffic", online.traffic), ("mirrorTraffic", online.mirror_traffic)):
        for name, pct in mapping.items():
            if name not in deployments:
                known = ", ".join(sorted(deployments)) or "none are declared"
                yield Problem(("online", field, name), f"names no deployment (deployments: {known})")
            if not 0 <= pct <= 100:
                yield Problem(("online", field, name), f"must be a percentage 0-100, got {pct}")
    total = sum(online.traffic.values())
    if total not in (0, 100):
        yield Problem(("online", "traffic"), f"must sum to 0 or 100, got {total}")
    mirror_total = sum(online.mirror_traffic.values())
    if mirror_total > 50:
        yield Problem(("online", "mirrorTraffic"), f"must total at most 50 percent, got {mirror_total}")
    for name, pct in online.mirror_traffic.items():
        if pct > 0 and online.traffic.get(name, 0) > 0:
            yield Problem(
                ("online", "mirrorTraffic", name),
                f"mirrors to a deployment that takes live traffic ({online.traffic[name]}%); "
                "mirror only to a deployment with 0% traffic",
            )
    for name, d in online.deployments.items():
        if d.liveness_probe.success_threshold != 1:
            yield Problem(
                ("online", "deployments", name, "livenessProbe", "successThreshold"),
                f"must be 1 (a liveness probe that failed restarts the container; Kubernetes accepts no other value), got {d.liveness_probe.success_threshold}",
            )
        if not DEPLOYMENT_NAME.match(name):
            yield Problem(
                ("online", "deployments", name),
                "deployment names must be 3-32 letters, digits or hyphens, starting with a letter",
            )
    a = online.autoscale
    if a.enabled:
        if a.min_instances > a.max_instances:
            yield Problem(("online", "autoscale", "minInstances"), f"must be ≤ maxInstances ({a.max_instances}), got {a.min_instances}")
        elif not a.min_instances <= a.default_instances <= a.max_instances:
            yield Problem(
                ("online", "autoscale", "defaultInstances"),
                f"must be between minInstances ({a.min_instances}) and maxInstances ({a.max_instances}), got {a.default_instances}",
            )
        if a.cpu_scale_in_percent >= a.cpu_scale_out_percent:
            yield Problem(
                ("online", "autoscale", "cpuScaleInPercent"),
                f"must be below cpuScaleOutPercent ({a.cpu_scale_out_percent}), got {a.cpu_scale_in_percent}",
            )


def _target_problems(cfg: Any) -> Iterator[Problem]:
    if cfg.online.target == "kubernetes" and cfg.compute.kubernetes is None:
        yield Problem(("compute", "kubernetes"), "is required when online.target is kubernetes (the AKS cluster to attach)")


def _compute_problems(cfg: Any) -> Iterator[Problem]:
    c = cfg.compute
    if c.min_nodes > c.max_nodes:
        yield Problem(("compute", "minNodes"), f"must be ≤ maxNodes ({c.max_nodes}), got {c.min_nodes}")


def _batch_problems(cfg: Any) -> Iterator[Problem]:
    b = cfg.batch
    if b.mini_batch_error_threshold is not None:
        yield Problem(
            ("batch", "miniBatchErrorThreshold"),
            "is a parallel-job setting; Azure batch model deployments have no such field and would ignore it "
            "(remove it; errorThreshold counts failed files)",
        )
    if b.mode == "tabular" and b.output_action != "append_row":
        yield Problem(
            ("batch", "outputAction"),
            "must be append_row in tabular mode: tabular_batch.py returns its predictions from run(), which only "
            "append_row writes (files mode writes per-file outputs with summary_only)",
        )
    yield from _schedule_problems(b)


def _schedule_problems(b: Any) -> Iterator[Problem]:
    s = b.schedule
    if s is None:
        return
    where = ("batch", "schedule")
    r = s.recurrence
    if r is not None:
        if r.has_pattern() and r.frequency in ("minute", "hour"):
            yield Problem((*where, "recurrence"), f"hours, minutes and weekDays apply to day, week and month frequencies, got frequency {r.frequency!r}")
        elif r.has_pattern() and not (r.hours and r.minutes):
            yield Problem((*where, "recurrence"), "needs both hours and minutes when it sets a pattern (Azure requires both)")
        if r.week_days and r.frequency == "day":
            yield Problem((*where, "recurrence", "weekDays"), "applies to week and month frequencies only, got frequency 'day'")
    try:
        b.output.scheduled_path()
    except ValueError as exc:
        yield Problem(
            ("batch", "output", "path"),
            f"{exc}: in a scheduled pipeline job's output path Azure expands only ${{{{name}}}}, the job's name, so every "
            f"run would write to the same literal folder; use {{job}} (each run's job name) when batch.schedule is set, "
            f"got {b.output.path!r}",
        )


def _monitoring_problems(cfg: Any) -> Iterator[Problem]:
    m = cfg.monitoring
    if m.alerts_enabled and not m.action_group_email:
        yield Problem(("monitoring", "actionGroupEmail"), "is required when alertsEnabled is true (who the alerts e-mail)")
    if m.alerts_enabled and not m.app_insights:
        yield Problem(("monitoring", "alertsEnabled"), "needs appInsights: true (the alerts query Application Insights)")


def _kubernetes_autoscale_problems(cfg: Any) -> Iterator[Problem]:
    online = cfg.online
    if online.target == "kubernetes" and online.autoscale.enabled:
        yield Problem(
            ("online", "autoscale", "enabled"),
            "must be false when online.target is kubernetes: autoscale (monitor.AutoscaleSetting on sku.capacity) "
            "scales managed deployments only, and a Kubernetes deployment would silently ignore it; "
            "size it with amlops:online.deployments.<name>.instanceCount",
        )


def _network_problems(cfg: Any) -> Iterator[Problem]:
    n, w = cfg.network, cfg.workspace
    if n.access == "private" and w.public_network_access != "Disabled":
        yield Problem(("workspace", "publicNetworkAccess"), f"must be Disabled when network.access is private, got {w.public_network_access!r}")
    if w.public_network_access == "Disabled" and n.access != "private":
        yield Problem(
            ("network", "access"),
            f"must be private when workspace.publicNetworkAccess is Disabled (else nothing reaches the workspace), got {n.access!r}",
        )
    if n.access == "private" and n.virtual_network is None:
        yield Problem(("network", "virtualNetwork"), "is required when access is private (the network of the private endpoints)")
    if n.access != "private" and n.virtual_network is not None:
        yield Problem(("network", "virtualNetwork"), f"is only used with access private, got access {n.access!r}; remove it")
    if n.access == "ipRanges" and not n.allowed_ip_ranges:
        yield Problem(("network", "allowedIpRanges"), "must list at least one range when access is ipRanges")
    if n.access != "ipRanges" and n.allowed_ip_ranges:
        yield Problem(("network", "allowedIpRanges"), f"is only used with access ipRanges, got access {n.access!r}; remove it")
    if n.access != "public" and n.isolation_mode == "Disabled":
        yield Problem(
            ("network", "isolationMode"),
            f"must be AllowInternetOutbound or AllowOnlyApprovedOutbound when access is {n.access} "
            "(computes and deployments reach the locked-down storage, key vault and registry through the managed network)",
        )
    if n.outbound_rules and n.isolation_mode != "AllowOnlyApprovedOutbound":
        yield Problem(
            ("network", "outboundRules"),
            f"are only read with isolationMode AllowOnlyApprovedOutbound, got {n.isolation_mode!r}; remove them or change the mode",
        )
    if n.access != "public" and w.registry_sku != "Premium":
        yield Problem(
            ("workspace", "registrySku"),
            f"must be Premium when network.access is {n.access} (private endpoints and IP rules need a Premium registry), got {w.registry_sku!r}",
        )
    v = n.virtual_network
    if v is not None:
        space = ipaddress.IPv4Network(v.address_space)
        subnets = {"privateEndpointSubnet": v.private_endpoint_subnet, "runnerSubnet": v.runner_subnet}
        for key, value in subnets.items():
            if value is not None and not ipaddress.IPv4Network(value).subnet_of(space):
                yield Problem(("network", "virtualNetwork", key), f"must lie inside addressSpace {v.address_space}, got {value!r}")
        if v.runner_subnet is not None and ipaddress.IPv4Network(v.runner_subnet).overlaps(ipaddress.IPv4Network(v.private_endpoint_subnet)):
            yield Problem(("network", "virtualNetwork", "runnerSubnet"), f"must not overlap privateEndpointSubnet {v.private_endpoint_subnet}, got {v.runner_subnet!r}")


def _model_monitor_problems(cfg: Any) -> Iterator[Problem]:
    """A model's monitor reads what one of its online deployments collects, and mails the stack's address."""
    m, online = cfg.monitor, getattr(cfg, "online", None)
    if not cfg.monitoring.action_group_email:
        yield Problem(("monitoring", "actionGroupEmail"), "is required when a model declares a monitor (Azure ML monitors alert by e-mail)")
    if online is None:
        yield Problem(("monitor",), "needs the model's online endpoint: a monitor reads an online deployment's collected data")
        return
    if m.deployment is not None and m.deployment not in online.deployments:
        yield Problem(("monitor", "deployment"), f"names no deployment (deployments: {', '.join(online.deployments) or 'none are declared'}), got {m.deployment!r}")
        return
    name = monitored_deployment(m, online)
    if name is None:
        return
    d = online.deployments[name]
    where = ("online", "deployments", name, "dataCollector")
    if d.data_collector is None:
        yield Problem(where, f"is required: the monitor reads this deployment's {' and '.join(m.reads())} (collections: [{', '.join(m.reads())}])")
    else:
        missing = [c for c in m.reads() if c not in d.data_collector.collections]
        if missing:
            yield Problem((*where, "collections"), f"must include {', '.join(missing)}, which the monitor's signals read, got {list(d.data_collector.collections)}")
    for dep_name, dep in online.deployments.items():
        if TARGET_COLUMN_ENV in dep.environment_variables:
            yield Problem(("online", "deployments", dep_name, "environmentVariables", TARGET_COLUMN_ENV),
                          "is set from monitor.targetColumn (the training data's label column); remove it")


def _endpoints(cfg: Any) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every endpoint the stack declares, with the path of its section: each model's, then each group's."""
    for key, m in cfg.models.items():
        for kind, endpoint in (("online", m.online), ("batch", m.batch)):
            if endpoint is not None:
                yield ("models", key, kind), endpoint
    for key, g in getattr(cfg, "multi_model", {}).items():
        yield (GROUPS, key, "online"), g.online


def _endpoint_name_problems(cfg: Any) -> Iterator[Problem]:
    """Endpoint names are unique per Azure region, online and batch alike: no two models or groups share one."""
    seen: dict[str, tuple[str | int, ...]] = {}
    for where, endpoint in _endpoints(cfg):
        path = (*where, "endpointName")
        if endpoint.endpoint_name in seen:
            first = ".".join(str(p) for p in seen[endpoint.endpoint_name])
            yield Problem(path, f"is already the name of {first} (endpoint names are unique per region), got {endpoint.endpoint_name!r}")
        else:
            seen[endpoint.endpoint_name] = path


def _multi_model_problems(cfg: Any) -> Iterator[Problem]:
    """A group's members are models of the stack, built from local MLflow folders at their pinned versions;
    its key names resources as a model key does; every model is served by an endpoint of its own or a group."""
    grouped: set[str] = set()
    for key, g in cfg.multi_model.items():
        if key in cfg.models:
            yield Problem((GROUPS, key), f"is already a key of amlops:models (a group's resources are named <key>-<role> as a model's), got {key!r}")
        for i, member in enumerate(g.models):
            grouped.add(member)
            m = cfg.models.get(member)
            if m is None:
                yield Problem((GROUPS, key, "models", i), f"names no model of amlops:models (models: {', '.join(cfg.models) or 'none'}), got {member!r}")
            elif m.azureml_registry is not None:
                yield Problem(
                    (GROUPS, key, "models", i),
                    f"is a model of Azure ML registry {m.azureml_registry!r} (amlops:models.{member}.azuremlRegistry); a group's "
                    "combined model folder is built from local MLflow folders, so its members are models of this workspace",
                )
        for name, d in g.online.deployments.items():
            if d.model_version is not None:
                yield Problem(
                    (GROUPS, key, "online", "deployments", name, "modelVersion"),
                    "is not read in a group: every deployment serves one combined model folder of the members' pinned "
                    f"versions (set amlops:models.<key>.version instead), got {d.model_version}",
                )
    for key, m in cfg.models.items():
        if m.online is None and m.batch is None and key not in grouped:
            yield Problem(("models", key), UNSERVED)


CROSS_CHECKS = (
    (("online",), _online_problems),
    (("online", "compute"), _target_problems),
    (("online",), _kubernetes_autoscale_problems),
    (("network", "workspace"), _network_problems),
    (("compute",), _compute_problems),
    (("batch",), _batch_problems),
    (("monitoring",), _monitoring_problems),
    (("models",), _endpoint_name_problems),
    (("models", "multi_model"), _multi_model_problems),
    (("monitor", "monitoring"), _model_monitor_problems),
)
"""Rules across fields, each with the sections it reads. A rule that reads `online`, `batch` or `monitor` holds per
model: it runs once for every model that declares that section, and its problems at `online.…`, `batch.…` and
`monitor.…` land under `models.<key>.` (and, for `online`, once for every group, under `multiModel.<key>.`)."""
PER_MODEL = ("online", "batch", "monitor")
"""The sections each model holds for itself."""
UNSERVED = "declares neither online nor batch and is in no multiModel group: give the model at least one endpoint, got neither"
"""A model no endpoint serves (judged only when every group is valid: parse.py drops it otherwise)."""
GROUPS = "multiModel"
"""The key of the groups of models served by one deployment (infra/config/multi_model.py); each holds its own `online`."""
SHARED = tuple(sorted({n for needs, _ in CROSS_CHECKS for n in needs} - set(PER_MODEL)))
"""The stack-wide sections the rules read (models among them, for the rules across models)."""


def cross_problems(sections: dict[str, Any]) -> Iterator[Problem]:
    """Every cross-field rule whose sections are valid (a section with a field problem skips its rules)."""
    models = sections.get("models") or {}
    shared = {k: v for k, v in sections.items() if k in SHARED}
    for needs, check in CROSS_CHECKS:
        if not set(needs) & set(PER_MODEL):
            if all(name in shared for name in needs):
                yield from check(SimpleNamespace(**shared))
            continue
        holders = [("models", key, model) for key, model in models.items()]
        holders += [(GROUPS, key, group) for key, group in (sections.get("multi_model") or {}).items()]
        for where, key, holder in holders:
            own = {k: getattr(holder, k, None) for k in PER_MODEL}
            view = {**shared, **{k: v for k, v in own.items() if v is not None}}
            if all(name in view for name in needs):
                for p in check(SimpleNamespace(**view)):
                    yield Problem((where, key, *p.path), p.message) if p.path[0] in PER_MODEL else p
