"""Each policy rule: a passing and a failing plan fixture, with the exact finding."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from amlops.policy.rules import RULES, by_id
from amlops.policy.runner import check_plan
from amlops.plan.document import parse_plan
from plan_fixtures import AML, find, resource, sample_plan, urn

Mutation = Callable[[dict[str, Any]], None]


def _set(type_suffix: str, path: str, value: Any) -> Mutation:
    def mutate(plan: dict[str, Any]) -> None:
        node = find(plan, type_suffix)
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            node.pop(last, None)
        else:
            node[last] = value

    return mutate


_DELETE = object()


def _without(name: str) -> Mutation:
    """Drop the resource named `name` (and so everything that named it)."""
    def mutate(plan: dict[str, Any]) -> None:
        plan["resources"] = [r for r in plan["resources"] if r["name"] != name]

    return mutate


CODE = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/codes/loans-batch/versions/abc"


def _scheduled(enabled: bool = True, step_code: str = CODE, mini_batch_size: int = 10, deployments: int = 1) -> Mutation:
    """Add a batch deployment and a CreateJob schedule whose parallel step scores with it (infra/schedule.py's shape)."""

    def mutate(plan: dict[str, Any]) -> None:
        stack = plan["stack"]
        env, model = CODE.replace("codes/loans-batch", "environments/env"), CODE.replace("codes/loans-batch", "models/loans")
        compute = CODE.split("/codes/")[0] + "/computes/cpu"
        props = {"codeConfiguration": {"codeId": CODE, "scoringScript": "tabular_batch.py"}, "environmentId": env,
                 "model": {"referenceType": "Id", "assetId": model}, "compute": compute, "miniBatchSize": 10.0,
                 "maxConcurrencyPerInstance": 2.0, "resources": {"instanceCount": 1.0}, "errorThreshold": -1.0,
                 "retrySettings": {"maxRetries": 3.0, "timeout": "PT30S"}, "loggingLevel": "Info", "outputAction": "AppendRow"}
        added = [resource(stack, f"{AML}:BatchDeployment", f"loans-batch-deployment{i or ''}", {"deploymentName": "loans-batch", "properties": props})
                 for i in range(deployments)]
        step = {"type": "parallel", "task": {"type": "run_function", "code": f"azureml:{step_code}", "environment": f"azureml:{env}",
                                             "entry_script": "tabular_batch.py"},
                "mini_batch_size": mini_batch_size, "max_concurrency_per_instance": 2, "resources": {"instance_count": 1},
                "error_threshold": -1, "retry_settings": {"max_retries": 3, "timeout": 30}, "logging_level": "INFO"}
        job = {"jobType": "Pipeline", "jobs": {"score": step}, "inputs": {"model": {"jobInputType": "mlflow_model", "uri": f"azureml:{model}"}},
               "settings": {"default_compute": f"azureml:{compute}"}}
        action = {"actionType": "CreateJob", "jobDefinition": job}
        added.append(resource(stack, f"{AML}:Schedule", "loans-batch-schedule",
                              {"name": "loans-batch-schedule", "properties": {"isEnabled": enabled, "action": action, "trigger": {"triggerType": "Cron", "expression": "0 2 * * *"}}}))
        plan["resources"] = sorted(plan["resources"] + added, key=lambda r: r["urn"])

    return mutate


SCHEDULE = "loans-batch-schedule"

# (rule, stack, mutation, urn of the finding or None, exact message)
FAILING: list[tuple[str, str, Mutation, str | None, str]] = [
    ("endpoint-auth", "dev", _set("OnlineEndpoint", "inputs.properties.authMode", _DELETE),
     urn("dev", f"{AML}:OnlineEndpoint", "loans-online"),
     f"{AML}:OnlineEndpoint 'loans-online': properties.authMode is None, must be one of Key, AMLToken, AADToken; "
     "set amlops:online.authMode (key, aml_token or aad_token) in stacks/Pulumi.dev.yaml"),
    ("prod-workspace-private", "prod", _set(":Workspace", "inputs.publicNetworkAccess", "Enabled"),
     urn("prod", f"{AML}:Workspace", "loans-workspace"),
     f"{AML}:Workspace 'loans-workspace': publicNetworkAccess is 'Enabled' in prod; set "
     "amlops:workspace.publicNetworkAccess: Disabled in stacks/Pulumi.prod.yaml (reach it through private endpoints)"),
    ("prod-keyvault-purge-protection", "prod", _set("Vault", "inputs.properties.enablePurgeProtection", _DELETE),
     urn("prod", "azure-native:keyvault:Vault", "loans-keyvault"),
     "azure-native:keyvault:Vault 'loans-keyvault': properties.enablePurgeProtection is not true in prod; "
     "set amlops:workspace.purgeProtection: true in stacks/Pulumi.prod.yaml"),
    ("storage-min-tls", "staging", _set("StorageAccount", "inputs.minimumTlsVersion", "TLS1_0"),
     urn("staging", "azure-native:storage:StorageAccount", "loans-storage"),
     "azure-native:storage:StorageAccount 'loans-storage': minimumTlsVersion is 'TLS1_0', must be TLS1_2 or newer; "
     "set minimum_tls_version=storage.MinimumTlsVersion.TLS1_2 on the account in infra/"),
    ("storage-no-public-blob", "dev", _set("StorageAccount", "inputs.allowBlobPublicAccess", True),
     urn("dev", "azure-native:storage:StorageAccount", "loans-storage"),
     "azure-native:storage:StorageAccount 'loans-storage': allowBlobPublicAccess is True, must be false; "
     "set allow_blob_public_access=False on the account in infra/"),
    ("deployment-app-insights", "staging", _set("OnlineDeployment", "inputs.properties.appInsightsEnabled", False),
     urn("staging", f"{AML}:OnlineDeployment", "loans-online-blue"),
     f"{AML}:OnlineDeployment 'loans-online-blue': properties.appInsightsEnabled is not true; "
     "set appInsightsEnabled: true on amlops:online.deployments.blue in stacks/Pulumi.staging.yaml"),
    ("prod-online-capacity", "prod", _set("AutoscaleSetting", "inputs.profiles.0.capacity.minimum", "1"),
     urn("prod", f"{AML}:OnlineDeployment", "loans-online-blue"),
     f"{AML}:OnlineDeployment 'loans-online-blue': prod may run it on one instance (sku.capacity 2, an autoscale "
     "minimum of 1), a single point of failure; set instanceCount: 2 on amlops:online.deployments.blue "
     "(and amlops:online.autoscale.minInstances: 2) in stacks/Pulumi.prod.yaml"),
    ("traffic-sums-to-100", "dev", _set("dynamic:Resource", "inputs.traffic", {"blue": 0}),
     urn("dev", "pulumi-python:dynamic:Resource", "loans-online-traffic"),
     "pulumi-python:dynamic:Resource 'loans-online-traffic': live traffic sums to 0, must be 100 while deployments "
     "exist (blue); set amlops:online.traffic in stacks/Pulumi.dev.yaml, e.g. with `amlops promote ... --traffic NAME=PCT`"),
    ("mirror-at-most-50", "dev", _set("dynamic:Resource", "inputs.mirror_traffic", {"green": 60}),
     urn("dev", "pulumi-python:dynamic:Resource", "loans-online-traffic"),
     "pulumi-python:dynamic:Resource 'loans-online-traffic': mirror traffic totals 60%, must be at most 50; "
     "lower amlops:online.mirrorTraffic in stacks/Pulumi.dev.yaml"),
    ("prod-stateful-protected", "prod", _set("StorageAccount", "protect", False),
     urn("prod", "azure-native:storage:StorageAccount", "loans-storage"),
     "azure-native:storage:StorageAccount 'loans-storage': holds state but is not protected in prod; "
     "create it with ResourceOptions(protect=True) when the stack is prod (infra/)"),
    ("required-tags", "dev", _set("Compute", "inputs.tags", {"environment": "dev"}),
     urn("dev", f"{AML}:Compute", "loans-cluster"),
     f"{AML}:Compute 'loans-cluster': missing tag(s) owner, costCenter; add them under amlops:tags in "
     "stacks/Pulumi.dev.yaml (and pass the stack's tags to this resource in infra/)"),
    ("nonprod-low-priority-compute", "staging", _set("Compute", "inputs.properties.properties.vmPriority", "Dedicated"),
     urn("staging", f"{AML}:Compute", "loans-cluster"),
     f"{AML}:Compute 'loans-cluster': vmPriority is 'Dedicated' in staging; set amlops:compute.priority: LowPriority "
     "in stacks/Pulumi.staging.yaml (cheaper; pre-emption is acceptable outside prod)"),
    ("compute-scales-to-zero", "prod", _set("Compute", "inputs.properties.properties.scaleSettings.minNodeCount", 2),
     urn("prod", f"{AML}:Compute", "loans-cluster"),
     f"{AML}:Compute 'loans-cluster': scaleSettings.minNodeCount is 2, so idle nodes keep costing; "
     "set amlops:compute.minNodes: 0 in stacks/Pulumi.prod.yaml"),
    ("batch-schedule-same-as-deployment", "dev", _scheduled(mini_batch_size=5),
     urn("dev", f"{AML}:Schedule", SCHEDULE),
     f"{AML}:Schedule 'loans-batch-schedule': step 'score' does not score as batch deployment {AML}:BatchDeployment "
     "'loans-batch-deployment' does: miniBatchSize 5 ≠ 10.0; build both from amlops:batch in stacks/Pulumi.dev.yaml (infra/schedule.py)"),
    ("prod-schedule-needs-alerts", "prod", _scheduled(),
     urn("prod", f"{AML}:Schedule", SCHEDULE),
     f"{AML}:Schedule 'loans-batch-schedule': an enabled schedule in prod without alerts; set amlops:monitoring.alertsEnabled: "
     "true (with actionGroupEmail) or amlops:batch.schedule.enabled: false in stacks/Pulumi.prod.yaml"),
    ("private-endpoints-declared", "prod", _without("loans-pe-file"),
     urn("prod", f"{AML}:Workspace", "loans-workspace"),
     f"{AML}:Workspace 'loans-workspace': publicNetworkAccess is Disabled but no private endpoint reaches its storage account "
     "(file); set amlops:network.access: private with amlops:network.virtualNetwork in stacks/Pulumi.prod.yaml"),
    ("managed-network-outbound", "prod", _set(":Workspace", "inputs.managedNetwork.outboundRules.pypi.destination", _DELETE),
     urn("prod", f"{AML}:Workspace", "loans-workspace"),
     f"{AML}:Workspace 'loans-workspace': outbound rule 'pypi' has no destination; give it a destination under "
     "amlops:network.outboundRules.pypi in stacks/Pulumi.prod.yaml"),
]


def _run(rule_id: str, doc: dict[str, Any], config: dict[str, Any] | None = None):
    report = check_plan(parse_plan(doc), config=config, rules=[by_id()[rule_id]])
    return [(v.urn, v.message) for v in report.violations]


def test_check_every_rule_has_a_failing_fixture():
    assert sorted(f[0] for f in FAILING) == sorted(r.id for r in RULES)


@pytest.mark.parametrize("rule_id,stack", [(f[0], f[1]) for f in FAILING], ids=[f[0] for f in FAILING])
def test_check_rule_compliant_plan_passes(rule_id, stack):
    assert _run(rule_id, sample_plan(stack)) == []


@pytest.mark.parametrize("rule_id,stack,mutate,where,message", FAILING, ids=[f[0] for f in FAILING])
def test_check_rule_violating_plan_reports_resource_and_fix(rule_id, stack, mutate, where, message):
    doc = copy.deepcopy(sample_plan(stack))
    mutate(doc)
    assert _run(rule_id, doc) == [(where, message)]


def test_check_prod_only_rules_skip_other_environments():
    doc = sample_plan("dev")  # public workspace, no purge protection, one instance, nothing protected
    for rule_id in ("prod-workspace-private", "prod-keyvault-purge-protection", "prod-online-capacity", "prod-stateful-protected"):
        assert _run(rule_id, doc) == [], rule_id


def test_check_prod_capacity_single_instance_without_autoscale_fails():
    doc = sample_plan("prod")
    doc["resources"] = [r for r in doc["resources"] if not r["type"].endswith("AutoscaleSetting")]
    find(doc, "OnlineDeployment")["inputs"]["sku"]["capacity"] = 1
    assert _run("prod-online-capacity", doc) == [(
        urn("prod", f"{AML}:OnlineDeployment", "loans-online-blue"),
        f"{AML}:OnlineDeployment 'loans-online-blue': prod may run it on one instance (sku.capacity 1, no autoscale), "
        "a single point of failure; set instanceCount: 2 on amlops:online.deployments.blue "
        "(and amlops:online.autoscale.minInstances: 2) in stacks/Pulumi.prod.yaml",
    )]


def test_check_traffic_falls_back_to_stack_config_when_plan_has_no_traffic_step():
    doc = sample_plan("dev")
    doc["resources"] = [r for r in doc["resources"] if not r["type"].endswith("dynamic:Resource")]
    assert _run("traffic-sums-to-100", doc, config={"online": {"traffic": {"blue": 100}}}) == []
    assert _run("traffic-sums-to-100", doc, config={"online": {"traffic": {}}}) == [(
        None,
        "amlops:online.traffic in stacks/Pulumi.dev.yaml: live traffic sums to 0, must be 100 while deployments "
        "exist (blue); set amlops:online.traffic in stacks/Pulumi.dev.yaml, e.g. with `amlops promote ... --traffic NAME=PCT`",
    )]


def test_check_private_endpoint_without_its_dns_zone_fails_on_the_endpoint():
    doc = sample_plan("prod")
    doc["resources"] = [r for r in doc["resources"] if r["name"] != "loans-dns-registry"]
    assert _run("private-endpoints-declared", doc) == [(
        urn("prod", "azure-native:network:PrivateEndpoint", "loans-pe-registry"),
        "azure-native:network:PrivateEndpoint 'loans-pe-registry': no private DNS zone group names privatelink.azurecr.io, "
        "so registry host names still resolve to the public address; declare a PrivateDnsZoneGroup for it (infra/network.py)",
    )]


def test_check_prod_workspace_without_managed_network_fails():
    doc = sample_plan("prod")
    find(doc, ":Workspace")["inputs"].pop("managedNetwork")
    assert _run("managed-network-outbound", doc) == [(
        urn("prod", f"{AML}:Workspace", "loans-workspace"),
        f"{AML}:Workspace 'loans-workspace': managedNetwork.isolationMode is None in prod; set amlops:network.isolationMode: "
        "AllowOnlyApprovedOutbound (with named amlops:network.outboundRules) or AllowInternetOutbound in stacks/Pulumi.prod.yaml",
    )]


def test_check_public_workspaces_outside_prod_need_no_network():
    for rule_id in ("private-endpoints-declared", "managed-network-outbound"):
        assert _run(rule_id, sample_plan("staging")) == [], rule_id


def test_check_traffic_without_deployments_passes():
    doc = sample_plan("dev")
    doc["resources"] = [r for r in doc["resources"] if not r["type"].endswith(("OnlineDeployment", "dynamic:Resource"))]
    assert _run("traffic-sums-to-100", doc, config={"online": {"traffic": {}}}) == []


def test_check_environment_comes_from_the_environment_tag():
    doc = sample_plan("dev")
    for res in doc["resources"]:
        if "tags" in res["inputs"]:
            res["inputs"]["tags"]["environment"] = "prod"
    report = check_plan(parse_plan(doc), rules=[by_id()["prod-workspace-private"]])
    assert report.environment == "prod"
    assert [v.rule for v in report.violations] == ["prod-workspace-private"]


def test_check_schedule_scoring_as_the_batch_deployment_does_passes():
    doc = sample_plan("dev")
    _scheduled()(doc)
    assert _run("batch-schedule-same-as-deployment", doc) == []


def test_check_schedule_with_other_code_than_the_deployment_fails_naming_both():
    doc = sample_plan("staging")
    other = CODE.replace("versions/abc", "versions/def")
    _scheduled(step_code=other)(doc)
    assert _run("batch-schedule-same-as-deployment", doc) == [(
        urn("staging", f"{AML}:Schedule", SCHEDULE),
        f"{AML}:Schedule 'loans-batch-schedule': step 'score' does not score as batch deployment {AML}:BatchDeployment "
        f"'loans-batch-deployment' does: code {other!r} ≠ {CODE!r}; build both from amlops:batch in stacks/Pulumi.staging.yaml "
        "(infra/schedule.py)",
    )]


def test_check_schedule_without_one_batch_deployment_fails():
    doc = sample_plan("dev")
    _scheduled(deployments=0)(doc)
    assert _run("batch-schedule-same-as-deployment", doc) == [(
        urn("dev", f"{AML}:Schedule", SCHEDULE),
        f"{AML}:Schedule 'loans-batch-schedule': runs a batch step, but its model has 0 batch deployments; declare "
        "amlops:batch in stacks/Pulumi.dev.yaml (infra/batch_endpoint.py) so the schedule scores as it does",
    )]


def test_check_prod_schedule_with_alerts_or_disabled_passes():
    enabled, disabled = sample_plan("prod"), sample_plan("prod")
    _scheduled()(enabled)
    _scheduled(enabled=False)(disabled)
    assert _run("prod-schedule-needs-alerts", enabled, config={"monitoring": {"alertsEnabled": True}}) == []
    assert _run("prod-schedule-needs-alerts", disabled) == []
    enabled["resources"].append({**find(enabled, ":Schedule"), "urn": urn("prod", "azure-native:monitor:ActionGroup", "loans-ag"),
                                 "type": "azure-native:monitor:ActionGroup", "name": "loans-ag", "inputs": {}})
    assert _run("prod-schedule-needs-alerts", enabled) == []


def test_check_schedule_outside_prod_needs_no_alerts():
    doc = sample_plan("staging")
    _scheduled()(doc)
    assert _run("prod-schedule-needs-alerts", doc, config={"monitoring": {"alertsEnabled": False}}) == []
