"""Stack config: the shipped stacks validate; broken ones fail with one message per problem."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from amlops.cli import app
from amlops.stackfile import load_stack, raw_config
from amlops.paths import ROOT
from cli_support import run_cli
from infra.config import ConfigError, parse_config

STACKS = ("dev", "staging", "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stack_validates(stack):
    cfg = load_stack(stack)
    assert cfg.model.name == "chapter12-loans", stack
    assert sum(cfg.online.traffic.values()) == 100, stack


def test_stacks_differ_like_real_environments():
    dev, prod = load_stack("dev"), load_stack("prod")
    assert dev.compute.priority == "LowPriority"
    assert prod.compute.priority == "Dedicated"
    assert all(d.instance_count == 1 for d in dev.online.deployments.values())
    assert all(d.instance_count >= 2 for d in prod.online.deployments.values())
    assert prod.online.autoscale.enabled and prod.online.autoscale.min_instances >= 2
    assert prod.monitoring.alerts_enabled and not dev.monitoring.alerts_enabled
    assert prod.workspace.public_network_access == "Disabled"
    assert prod.workspace.purge_protection and not dev.workspace.purge_protection


def _broken(stacks_copy, stack, mutate):
    path = stacks_copy / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    mutate(doc["config"])
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as err:
        load_stack(stack, stacks_copy)
    return [f"{p.key()}: {p.message}" for p in err.value.problems], err.value


def test_traffic_must_sum_to_100(stacks_copy):
    lines, err = _broken(stacks_copy, "prod", lambda c: c["amlops:online"].update(traffic={"blue": 90}))
    assert lines == ["amlops:online.traffic: must sum to 0 or 100, got 90"]
    assert str(err) == f"{stacks_copy / 'Pulumi.prod.yaml'}: amlops:online.traffic: must sum to 0 or 100, got 90"


def test_cross_field_problems_are_reported_with_field_problems(stacks_copy):
    def mutate(c):
        c["amlops:online"]["traffic"] = {"blue": 90}
        c["amlops:online"]["authMode"] = "token"
        c["amlops:compute"]["minNodes"] = 10
        c["amlops:batch"]["outputAction"] = "append"

    lines, _ = _broken(stacks_copy, "prod", mutate)
    assert lines == [
        "amlops:online.authMode: Input should be 'key', 'aml_token' or 'aad_token', got 'token'",
        "amlops:batch.outputAction: Input should be 'append_row' or 'summary_only', got 'append'",
        "amlops:online.traffic: must sum to 0 or 100, got 90",
        "amlops:compute.minNodes: must be ≤ maxNodes (8), got 10",
    ]


def test_cross_field_rules_of_a_section_missing_a_required_key_are_skipped(stacks_copy):
    def mutate(c):
        c["amlops:online"]["traffic"] = {"blue": 90}
        del c["amlops:online"]["endpointName"]

    lines, _ = _broken(stacks_copy, "prod", mutate)
    assert lines == ["amlops:online.endpointName: is required"]


SECURE = (
    "is an encrypted Pulumi secret (secure: …); the amlops CLI reads stack files without Pulumi and cannot "
    "decrypt it, and no amlops setting is secret: store the value in plain text with "
    "`pulumi config set --path {key} VALUE --plaintext`"
)


def test_secure_values_say_what_to_do_once_each(stacks_copy):
    def mutate(c):
        c["amlops:monitoring"]["actionGroupEmail"] = {"secure": "v1:abc:def"}
        c["amlops:prefix"] = {"secure": "v1:abc:def"}

    lines, _ = _broken(stacks_copy, "prod", mutate)
    assert lines == [
        "amlops:monitoring.actionGroupEmail: " + SECURE.format(key="amlops:monitoring.actionGroupEmail"),
        "amlops:prefix: " + SECURE.format(key="amlops:prefix"),
    ]


def test_traffic_and_mirror_name_existing_deployments(stacks_copy):
    def mutate(c):
        c["amlops:online"]["traffic"] = {"blue": 50, "green": 50}
        c["amlops:online"]["mirrorTraffic"] = {"teal": 10}

    lines, _ = _broken(stacks_copy, "dev", mutate)
    assert lines == [
        "amlops:online.traffic.green: names no deployment (deployments: blue)",
        "amlops:online.mirrorTraffic.teal: names no deployment (deployments: blue)",
    ]


def test_mirror_at_most_50_and_only_to_idle_deployment(stacks_copy):
    def mutate(c):
        c["amlops:online"]["deployments"]["green"] = {"instanceType": "Standard_DS2_v2"}
        c["amlops:online"]["traffic"] = {"blue": 100}
        c["amlops:online"]["mirrorTraffic"] = {"green": 60}

    lines, _ = _broken(stacks_copy, "dev", mutate)
    assert lines == ["amlops:online.mirrorTraffic: must total at most 50 percent, got 60"]

    def mutate2(c):
        c["amlops:online"]["mirrorTraffic"] = {"blue": 10}

    lines, _ = _broken(stacks_copy, "staging", mutate2)
    assert lines == [
        "amlops:online.mirrorTraffic.blue: mirrors to a deployment that takes live traffic (100%); "
        "mirror only to a deployment with 0% traffic"
    ]


def test_min_above_max_is_reported_for_autoscale_and_compute(stacks_copy):
    def mutate(c):
        c["amlops:online"]["autoscale"]["minInstances"] = 9
        c["amlops:compute"]["minNodes"] = 10

    lines, _ = _broken(stacks_copy, "prod", mutate)
    assert lines == [
        "amlops:online.autoscale.minInstances: must be ≤ maxInstances (6), got 9",
        "amlops:compute.minNodes: must be ≤ maxNodes (8), got 10",
    ]


def test_unknown_instance_type_lists_the_allowed_ones(stacks_copy):
    lines, _ = _broken(
        stacks_copy, "prod", lambda c: c["amlops:online"]["deployments"]["blue"].update(instanceType="Standard_X9")
    )
    assert len(lines) == 1
    assert lines[0].startswith("amlops:online.deployments.blue.instanceType: must be one of Standard_DS1_v2,")
    assert lines[0].endswith("got 'Standard_X9'")


def test_names_must_fit_azure_rules(stacks_copy):
    def mutate(c):
        c["amlops:online"]["endpointName"] = "-bad"
        c["amlops:compute"]["name"] = "a-cluster-name-far-too-long"
        c["amlops:prefix"] = "Loans_Prod"

    lines, _ = _broken(stacks_copy, "dev", mutate)
    assert lines == [
        "amlops:prefix: must be 2-8 lowercase letters or digits, starting with a letter, got 'Loans_Prod'",
        "amlops:compute.name: must be 2-16 letters, digits or hyphens, starting with a letter, got 'a-cluster-name-far-too-long'",
        "amlops:online.endpointName: must be 2-25 letters, digits or hyphens, starting with a letter and not ending with a hyphen "
        "(the stack suffix '-xxxxxx' takes the rest of Azure's 32), got '-bad'",
    ]


def test_several_type_problems_are_reported_at_once(stacks_copy):
    def mutate(c):
        c["amlops:online"]["authMode"] = "token"
        c["amlops:batch"]["outputAction"] = "append"
        c["amlops:batch"]["miniBatchSze"] = "1MB"
        del c["amlops:model"]["version"]

    lines, _ = _broken(stacks_copy, "dev", mutate)
    assert sorted(lines) == sorted([
        "amlops:model.version: is required",
        "amlops:online.authMode: Input should be 'key', 'aml_token' or 'aad_token', got 'token'",
        "amlops:batch.miniBatchSze: is not a known setting (check its spelling; keys are camelCase)",
        "amlops:batch.outputAction: Input should be 'append_row' or 'summary_only', got 'append'",
    ])


def test_batch_mini_batch_size_counts_files_in_both_modes(stacks_copy):
    hint = ("a batch model deployment hands run() lists of files and counts miniBatchSize in files; "
            "split a large table into part files with `amlops batch split --part-size 1MB`")
    lines, _ = _broken(stacks_copy, "dev", lambda c: c["amlops:batch"].update(miniBatchSize="lots"))
    assert lines == [f"amlops:batch.miniBatchSize: must be a number of files, got 'lots': {hint}"]
    lines, _ = _broken(stacks_copy, "dev", lambda c: c["amlops:batch"].update(mode="files", miniBatchSize="1MB"))
    assert lines == [f"amlops:batch.miniBatchSize: must be a number of files, got '1MB': {hint}"]
    lines, _ = _broken(stacks_copy, "dev", lambda c: c["amlops:batch"].update(miniBatchSize=0))
    assert lines == ["amlops:batch.miniBatchSize: Input should be greater than or equal to 1, got 0"]


def test_kubernetes_target_needs_an_attached_cluster(stacks_copy):
    lines, _ = _broken(stacks_copy, "dev", lambda c: c["amlops:online"].update(target="kubernetes"))
    assert lines == ["amlops:compute.kubernetes: is required when online.target is kubernetes (the AKS cluster to attach)"]


def test_alerts_need_an_email(stacks_copy):
    lines, _ = _broken(stacks_copy, "prod", lambda c: c["amlops:monitoring"].pop("actionGroupEmail"))
    assert lines == [
        "amlops:monitoring.actionGroupEmail: is required when alertsEnabled is true (who the alerts e-mail)",
        "amlops:monitoring.actionGroupEmail: is required when a model declares a monitor (Azure ML monitors alert by e-mail)",
    ]


def test_invalid_yaml_names_the_line(stacks_copy):
    path = stacks_copy / "Pulumi.dev.yaml"
    path.write_text("config:\n  amlops:prefix: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        load_stack("dev", stacks_copy)
    assert "is not valid YAML (line" in str(err.value)


def test_parse_config_is_what_pulumi_config_feeds(stacks_copy):
    # The Pulumi program passes the same raw mapping (keys without `amlops:`) to parse_config.
    raw = raw_config(stacks_copy / "Pulumi.prod.yaml")
    cfg = parse_config(raw, source="Pulumi.prod.yaml")
    assert cfg.batch.mini_batch_size == raw["batch"]["miniBatchSize"] == 1
    assert cfg.deployment_model_version("blue") == cfg.model.version


def test_config_show_prints_validated_prod():
    result = CliRunner().invoke(app, ["config", "show", "--stack", "prod", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"endpointName": "loans-prod-online"' in result.output
    assert '"maxRows": 1000' in result.output  # defaults included


def test_config_show_unknown_stack_lists_known(capsys, monkeypatch):
    code, _, err = run_cli(capsys, monkeypatch, "config", "show", "--stack", "qa")
    assert (code, err) == (2, "error: no stack file stacks/Pulumi.qa.yaml for stack 'qa'; known stacks: dev, prod, staging\n")


def test_config_show_prints_a_secure_value_literally_not_as_emoji(capsys, tmp_path, monkeypatch):
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    text = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text().replace("prefix: loans", "prefix:\n    secure: v1:abc:def")
    (stacks / "Pulumi.dev.yaml").write_text(text)
    monkeypatch.setattr("amlops.stackfile.load_stack", lambda stack: load_stack(stack, stacks))
    code, _, err = run_cli(capsys, monkeypatch, "config", "show", "--stack", "dev")
    assert code == 1
    assert err == f"error: {stacks / 'Pulumi.dev.yaml'}: amlops:prefix: " + SECURE.format(key="amlops:prefix") + "\n"
