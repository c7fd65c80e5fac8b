"""The plan document model (amlops/plan/document.py): one dotted-key getter, one PlanError, standard library only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from amlops.plan import PlanError as RunError
from amlops.plan.document import PlanError, lookup, parse_plan
from amlops.paths import ROOT

DOC = {"a": {"b": {"c": 1}, "n": None}}


@pytest.mark.parametrize(
    ("path", "found"),
    [("a.b.c", 1), (("a", "b", "c"), 1), ("a.b", {"c": 1}), ("a.n", None), ("a.x", "dflt"), ("a.b.c.d", "dflt"), ("z", "dflt")],
)
def test_lookup_follows_a_dotted_path_or_keys_else_the_default(path, found):
    assert lookup(DOC, path, "dflt") == found


def test_making_and_reading_a_plan_share_one_error_class():
    assert RunError is PlanError
    with pytest.raises(PlanError) as err:
        parse_plan({"kind": "amlops-plan", "version": 1, "stack": "dev", "resources": [{"urn": 1}]}, source="x.json")
    assert str(err.value) == "x.json: resources[0].urn: must be str, got int"


def test_the_policy_rules_import_without_preview_or_third_party_modules():
    code = (
        "import sys; before = set(sys.modules); import amlops.policy.crossguard; "
        "bad = sorted(m for m in set(sys.modules) - before if m.startswith('amlops.preview') "
        "or m.split('.')[0] not in sys.stdlib_module_names | {'amlops', 'infra'}); print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
