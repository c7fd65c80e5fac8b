"""The CrossGuard pack (policy/): the adapter run with pulumi-policy's own classes, as `pulumi preview --policy-pack` runs it."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pulumi_policy
import yaml
from pulumi_policy import EnforcementLevel, PolicyConfigSchema, StackValidationPolicy
from pulumi_policy.policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs

from amlops.policy import crossguard
from amlops.policy.rules import RULES
from plan_fixtures import AML, find, sample_plan, urn

ROOT = Path(__file__).resolve().parent.parent


def _policy_resources(doc):
    """pulumi_policy's PolicyResource objects for a plan document, parents and dependencies linked as the engine links them."""
    by_urn = {}
    for r in doc["resources"]:
        opts = PolicyResourceOptions(
            protect=r["protect"], ignore_changes=list(r["ignoreChanges"]), delete_before_replace=None, aliases=[],
            custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[], parent=r["parent"],
        )
        by_urn[r["urn"]] = PolicyResource(
            resource_type=r["type"], props=r["inputs"], urn=r["urn"], name=r["name"], opts=opts,
            provider=None, parent=None, dependencies=[], property_dependencies={},
        )
    for r in doc["resources"]:
        by_urn[r["urn"]].parent = by_urn.get(r["parent"]) if r["parent"] else None
        by_urn[r["urn"]].dependencies = [by_urn[d] for d in r["dependencies"]]
    return list(by_urn.values())


def _policies():
    return crossguard.policies(StackValidationPolicy, EnforcementLevel, PolicyConfigSchema)


def _validate(rule_id, doc, config=None):
    policy = {p.name: p for p in _policies()}[rule_id]
    reported = []
    policy.validate(StackValidationArgs(_policy_resources(doc), config), lambda message, urn=None: reported.append((urn, message)))
    return reported


def test_check_crossguard_one_policy_per_rule_with_enforcement_from_severity():
    made = _policies()
    assert all(isinstance(p, StackValidationPolicy) for p in made)
    assert [(p.name, p.enforcement_level) for p in made] == [
        (r.id, EnforcementLevel.MANDATORY if r.severity == "mandatory" else EnforcementLevel.ADVISORY) for r in RULES
    ]
    assert made[0].description == "Online and batch endpoints require authentication. Reads the plan: the endpoints' authMode."
    assert sorted(made[0].config_schema.properties) == ["environment", "requiredTags"]


def test_check_crossguard_compliant_prod_stack_reports_nothing():
    doc = sample_plan("prod")
    assert [(r.id, _validate(r.id, doc)) for r in RULES] == [(r.id, []) for r in RULES]


def test_check_crossguard_unprotected_prod_vault_reported_on_its_urn():
    doc = sample_plan("prod")
    find(doc, "Vault")["protect"] = False
    assert _validate("prod-stateful-protected", doc) == [(
        urn("prod", "azure-native:keyvault:Vault", "loans-keyvault"),
        "azure-native:keyvault:Vault 'loans-keyvault': holds state but is not protected in prod; "
        "create it with ResourceOptions(protect=True) when the stack is prod (infra/)",
    )]


def test_check_crossguard_autoscale_found_through_dependency_objects():
    doc = sample_plan("prod")
    find(doc, "OnlineDeployment")["inputs"]["sku"]["capacity"] = 1
    scale = find(doc, "AutoscaleSetting")
    scale["inputs"]["targetResourceUri"] = "unknown-at-preview"
    assert _validate("prod-online-capacity", doc) == []  # autoscale minimum 2, linked by dependency
    scale["dependencies"] = []
    assert [u for u, _ in _validate("prod-online-capacity", doc)] == [urn("prod", f"{AML}:OnlineDeployment", "loans-online-blue")]


def test_check_crossguard_policy_config_sets_environment_and_tags():
    doc = sample_plan("dev")
    assert _validate("prod-workspace-private", doc, {"environment": "prod"}) == [(
        urn("dev", f"{AML}:Workspace", "loans-workspace"),
        f"{AML}:Workspace 'loans-workspace': publicNetworkAccess is 'Enabled' in prod; set "
        "amlops:workspace.publicNetworkAccess: Disabled in stacks/Pulumi.dev.yaml (reach it through private endpoints)",
    )]
    found = _validate("required-tags", doc, {"requiredTags": ["dataClassification"]})
    assert [u.rsplit("::", 1)[1] for u, _ in found] == [
        "loans-rg", "loans-storage", "loans-keyvault", "loans-workspace", "loans-cluster", "loans-online", "loans-online-blue",
    ]
    assert found[0][1].startswith("azure-native:resources:ResourceGroup 'loans-rg': missing tag(s) dataClassification;")


def test_check_crossguard_stack_name_comes_from_the_urns():
    assert crossguard.stack_of("urn:pulumi:staging::amlops::azure-native:keyvault:Vault::kv") == "staging"


def test_check_crossguard_pack_imports_with_the_standard_library_only():
    # -S: no site-packages at all, as in the pack's own virtualenv (which has only pulumi-policy).
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import amlops.policy.crossguard as c; print(len(c.RULES))"
    done = subprocess.run([sys.executable, "-S", "-I", "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", f"{len(RULES)}\n")


def test_check_crossguard_pack_main_builds_the_pack(monkeypatch):
    built = {}
    # the real PolicyPack serves the policies over gRPC to the pulumi engine forever: record its arguments instead
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.update(kwargs))
    runpy.run_path(str(ROOT / "policy" / "__main__.py"), run_name="__main__")
    assert built["name"] == "amlops-baseline"
    assert built["enforcement_level"] is EnforcementLevel.ADVISORY
    assert [p.name for p in built["policies"]] == [r.id for r in RULES]
    assert all(isinstance(p, StackValidationPolicy) for p in built["policies"])


def test_check_crossguard_pack_files_pin_pulumi_policy():
    assert "pulumi-policy==1.21.0" in (ROOT / "policy" / "requirements.txt").read_text().splitlines()
    spec = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert spec["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
