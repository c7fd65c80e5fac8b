"""`amlops check` on the real offline plans: the shipped stacks pass; a broken prod fails with exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amlops.policy.rules import RULES
from amlops.preview.worktree import copy_working_tree
from cli_support import run_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_check_shipped_stack_passes_every_rule(stack, state, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "check", "--stack", stack, "--format", "json")
    doc = json.loads(out)
    assert (code, err, doc["passed"], doc["violations"], doc["environment"]) == (0, "", True, [], stack)
    assert [r["id"] for r in doc["rules"]] == [r.id for r in RULES]


def test_check_prod_key_vault_without_purge_protection_fails_with_exit_1(state, tmp_path, capsys, monkeypatch):
    repo = copy_working_tree(ROOT, tmp_path / "checkout")
    prod = repo / "stacks" / "Pulumi.prod.yaml"
    # protect stays on explicitly, so the one finding is the key vault's
    prod.write_text(prod.read_text().replace("purgeProtection: true", "purgeProtection: false\n    protect: true"))
    code, out, err = run_cli(capsys, monkeypatch, "check", "--stack", "prod", "--repo", str(repo))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "amlops check: stack prod (environment prod)"
    assert lines[1].startswith("  mandatory prod-keyvault-purge-protection: azure-native:keyvault:Vault 'workspace-keyvault': "
                               "properties.enablePurgeProtection is not true in prod; set amlops:workspace.purgeProtection: true in stacks/Pulumi.prod.yaml")
    assert lines[2].endswith("0 advisory finding(s): FAILED") and len(lines) == 3
    assert err == (
        "error: stack prod has 1 mandatory finding(s) (prod-keyvault-purge-protection); fix each as its message says "
        "(the rules: amlops check --list-rules)\n"
    )


def test_check_list_rules_prints_id_severity_and_description(capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "check", "--list-rules")
    assert (code, err, len(out.splitlines())) == (0, "", len(RULES))
    width = max(len(r.id) for r in RULES)  # the id column is as wide as the longest id
    assert out.splitlines()[0] == (
        f"{'endpoint-auth':<{width}}  mandatory  Online and batch endpoints require authentication. "
        "Reads the plan: the endpoints' authMode."
    )


def test_check_unknown_format_is_a_usage_error(capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "check", "--stack", "dev", "--format", "yaml")
    assert (code, out, err) == (2, "", "error: --format must be one of text, markdown, json, got 'yaml'\n")
