"""Policy rules hold per model: over a five-model prod stack, a finding names exactly the model and endpoint
whose settings break the rule, and its key in the stack file (amlops:models.<key>...)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from amlops.plan import run_plan
from amlops.plan.document import parse_plan
from amlops.policy.runner import check_plan, check_stack
from test_check_crossguard import _validate
from test_many_models import KEYS, write_stack
from tree_support import copy_tree

ROOT = Path(__file__).resolve().parent.parent
ML = "azure-native:machinelearningservices"


def prod_many_raw() -> dict[str, Any]:
    """prod's shared sections and one entry per key, each with prod's online and batch endpoint (schedule off)."""
    doc = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    raw = {k.split(":", 1)[1]: v for k, v in doc.items()}
    model, online, batch = raw.pop("model"), raw.pop("online"), raw.pop("batch")
    raw.pop("monitor", None)  # a single-model key; these rules are not about the model monitor
    raw["models"] = {
        key: {
            "name": model["name"] if key == "loans" else f"{key}-model",
            "version": 1,
            "online": {**copy.deepcopy(online), "endpointName": f"{key}-prod-online"},
            "batch": {**copy.deepcopy(batch), "endpointName": f"{key}-prod-batch", "output": {"path": f"inferences/{key}/{{job}}/"},
                      "schedule": {**batch["schedule"], "enabled": False}},
        }
        for key in KEYS
    }
    return raw


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """`amlops check` over five prod models where fraud may scale to one instance, price logs nowhere and
    demand's schedule runs without alerts (every other model's settings are prod's, which pass): the plan and the report."""
    tree = copy_tree(ROOT, tmp_path_factory.mktemp("tree"))
    raw = prod_many_raw()
    fraud = raw["models"]["fraud"]["online"]
    fraud["autoscale"]["minInstances"] = fraud["autoscale"]["defaultInstances"] = 1
    raw["models"]["price"]["online"]["deployments"]["blue"]["appInsightsEnabled"] = False
    raw["models"]["demand"]["batch"]["schedule"]["enabled"] = True
    raw["monitoring"]["alertsEnabled"] = False
    write_stack(tree, "many", raw)
    env = {"AMLOPS_STATE_DIR": str(tmp_path_factory.mktemp("empty-state")), "MLFLOW_TRACKING_URI": ""}
    plans = []

    def planner(stack: str, root: Path) -> dict[str, Any]:
        plans.append(run_plan(stack, root, env=env))
        return copy.deepcopy(plans[-1])

    report = check_stack("many", tree, planner=planner)
    return plans[0], report


@pytest.fixture
def report(checked):
    return checked[1]


def test_check_five_models_each_finding_names_exactly_the_model_that_breaks_it(report):
    found = sorted((v.rule, v.urn.rsplit("::", 1)[-1], v.message) for v in report.violations)
    assert [(rule, name) for rule, name, _ in found] == [
        ("deployment-app-insights", "price-online-blue"),
        ("prod-online-capacity", "fraud-online-blue"),
        ("prod-schedule-needs-alerts", "demand-batch-schedule-schedule"),
    ]
    messages = {rule: message for rule, _, message in found}
    suffix = messages["prod-online-capacity"].split("endpoint 'fraud-prod-online-", 1)[1][:6]
    assert messages["prod-online-capacity"] == (
        f"model 'fraud', endpoint 'fraud-prod-online-{suffix}': {ML}:OnlineDeployment 'fraud-online-blue': prod may run it "
        "on one instance (sku.capacity 2, an autoscale minimum of 1), a single point of failure; set instanceCount: 2 on "
        "amlops:models.fraud.online.deployments.blue (and amlops:models.fraud.online.autoscale.minInstances: 2) in stacks/Pulumi.many.yaml"
    )
    assert messages["deployment-app-insights"] == (
        f"model 'price', endpoint 'price-prod-online-{suffix}': {ML}:OnlineDeployment 'price-online-blue': "
        "properties.appInsightsEnabled is not true; set appInsightsEnabled: true on amlops:models.price.online.deployments.blue "
        "in stacks/Pulumi.many.yaml"
    )
    assert messages["prod-schedule-needs-alerts"] == (
        f"model 'demand': {ML}:Schedule 'demand-batch-schedule-schedule': an enabled schedule in prod without alerts; set "
        "amlops:monitoring.alertsEnabled: true (with actionGroupEmail) or amlops:models.demand.batch.schedule.enabled: false "
        "in stacks/Pulumi.many.yaml"
    )


def _named(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in doc["resources"] if r["name"] == name)


def test_check_five_models_traffic_and_auth_are_judged_per_endpoint(checked):
    """Each endpoint's traffic step and auth mode are its own: breaking churn's traffic and loans' auth names those two,
    in `amlops check` and in the CrossGuard pack alike (which finds the model through the resources' parents)."""
    doc = copy.deepcopy(checked[0])
    _named(doc, "churn-online-traffic")["inputs"]["traffic"] = {"blue": 40}
    _named(doc, "loans-online-endpoint")["inputs"]["properties"]["authMode"] = "None"
    plan = parse_plan(doc)
    found = check_plan(plan, stack_file="stacks/Pulumi.many.yaml").violations
    traffic = [(v.urn.rsplit("::", 1)[-1], v.message) for v in found if v.rule == "traffic-sums-to-100"]
    auth = [(v.urn.rsplit("::", 1)[-1], v.message) for v in found if v.rule == "endpoint-auth"]
    churn = _named(doc, "churn-online-traffic")["inputs"]["endpoint_name"]
    loans = _named(doc, "loans-online-endpoint")["inputs"]["endpointName"]
    assert traffic == [("churn-online-traffic", (
        f"model 'churn', endpoint {churn!r}: pulumi-python:dynamic:Resource 'churn-online-traffic': live traffic sums to 40, must "
        "be 100 while deployments exist (blue); set amlops:models.churn.online.traffic in stacks/Pulumi.many.yaml, e.g. with "
        "`amlops promote ... --traffic NAME=PCT`"))]
    assert auth == [("loans-online-endpoint", (
        f"model 'loans', endpoint {loans!r}: {ML}:OnlineEndpoint 'loans-online-endpoint': properties.authMode is 'None', must be "
        "one of Key, AMLToken, AADToken; set amlops:models.loans.online.authMode (key, aml_token or aad_token) in stacks/Pulumi.many.yaml"))]
    assert [(u.rsplit("::", 1)[-1], m) for u, m in _validate("traffic-sums-to-100", doc)] == traffic
    assert [(u.rsplit("::", 1)[-1], m) for u, m in _validate("endpoint-auth", doc)] == auth
