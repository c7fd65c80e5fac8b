"""`amlops promote`: the accuracy gate and the blue/green stack-file edits, compared as YAML text."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from amlops.errors import ModelNotFound, UsageError
from amlops.paths import STATE_ENV
from amlops.promotion import PromotionRefused, promote
from amlops.registry import Registry
from cli_support import run_cli
from remote_fakes import install, registry_model

ROOT = Path(__file__).resolve().parent.parent
NAME = "chapter12-loans"


@pytest.fixture(scope="module")
def registry_state(tmp_path_factory, trained_model_dir) -> Path:
    """A registry with versions 1 (accuracy 0.80), 2 (0.85) and 3 (0.70), built once for the module."""
    state = tmp_path_factory.mktemp("promote-state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(STATE_ENV, str(state))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        reg = Registry()
        for accuracy in (0.80, 0.85, 0.70):
            reg.register(NAME, trained_model_dir, accuracy=accuracy)
    return state


@pytest.fixture
def registry(registry_state, monkeypatch) -> Registry:
    monkeypatch.setenv(STATE_ENV, str(registry_state))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return Registry()


@pytest.fixture
def azure_registry(monkeypatch):
    """The committed stacks' Azure ML registry (loansreg), faked, with the same versions and accuracies."""
    azure = install(monkeypatch)
    azure.models = [registry_model(NAME, v, acc) for v, acc in ((1, 0.80), (2, 0.85), (3, 0.70))]
    return azure


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]


PROD_GREEN = [
    "+       green:",
    "+         modelVersion: 2",
    "+         instanceType: Standard_F4s_v2",
    "+         instanceCount: 2",
    "+         workerCount: 4",
    "+         requestSettings:",
    "+           requestTimeoutMs: 2000",
    "+           maxConcurrentRequestsPerInstance: 8",
    "+           maxQueueWaitMs: 200",
    "+           maxRows: 1000",
    "+         livenessProbe:",
    "+           initialDelay: 10",
    "+           period: 10",
    "+           failureThreshold: 3",
    "+         readinessProbe:",
    "+           initialDelay: 10",
    "+           period: 5",
    "+           failureThreshold: 3",
    "+         appInsightsEnabled: true",
    "+         dataCollector:",
    "+           collections:",
    "+             - model_inputs",
    "+             - model_outputs",
    "+           samplingRate: 0.2",
    "+           rollingRate: Hour",
]


def test_promote_start_adds_green_copying_blue_with_zero_traffic(registry, stacks_copy):
    path = stacks_copy / "Pulumi.prod.yaml"
    before = path.read_text()
    result = promote("prod", NAME, 2, registry=registry, stacks_dir=stacks_copy)
    after = path.read_text()
    assert changed_lines(before, after) == [*PROD_GREEN, "+       green: 0"]
    assert after.startswith("# prod: two instances at least")  # comments kept
    assert (result.deployment, result.actions) == (
        "green", ["added deployment green serving version 2 (settings copied from blue) with 0% live traffic"])
    assert result.gate.describe() == (
        "gate passed: chapter12-loans:2 accuracy 0.8500 ≥ chapter12-loans:1's 0.8000 (served by blue; Δ +0.0500)")


def test_promote_mirror_sets_mirror_traffic_for_the_candidate(registry, stacks_copy):
    path = stacks_copy / "Pulumi.dev.yaml"
    before = path.read_text()
    promote("dev", NAME, 2, registry=registry, stacks_dir=stacks_copy, mirror=20)
    assert changed_lines(before, path.read_text())[-3:] == ["+       green: 0", "+     mirrorTraffic:", "+       green: 20"]


def test_promote_traffic_step_gives_the_rest_to_the_live_deployment(registry, stacks_copy):
    path = stacks_copy / "Pulumi.staging.yaml"
    promote("staging", NAME, 2, registry=registry, stacks_dir=stacks_copy, mirror=10)
    before = path.read_text()
    result = promote("staging", NAME, 2, registry=registry, stacks_dir=stacks_copy, traffic={"green": 10})
    assert changed_lines(before, path.read_text()) == [
        "-       blue: 100",
        "+       blue: 90",
        "-       green: 0",
        "+       green: 10",
        "-     mirrorTraffic:",
        "-       green: 10",
    ]
    assert result.actions == ["stopped mirroring to green: it takes live traffic now", "traffic: blue 90%, green 10%"]


def test_promote_finish_moves_all_traffic_pins_version_and_retires_blue(registry, stacks_copy):
    path = stacks_copy / "Pulumi.dev.yaml"
    original = path.read_text()
    promote("dev", NAME, 2, registry=registry, stacks_dir=stacks_copy)
    promote("dev", NAME, 2, registry=registry, stacks_dir=stacks_copy, finish=True)
    after = path.read_text()
    # Against the original file: blue's block became green's, the pin moved to 2, traffic names green.
    assert changed_lines(original, after) == [
        "-     version: 1",
        "+     version: 2",
        "-       blue:",
        "+       green:",
        "-       blue: 100",
        "+       green: 100",
    ]


def test_promote_less_accurate_candidate_is_refused_and_file_untouched(registry, stacks_copy):
    path = stacks_copy / "Pulumi.prod.yaml"
    before = path.read_text()
    with pytest.raises(PromotionRefused) as err:
        promote("prod", NAME, 3, registry=registry, stacks_dir=stacks_copy)
    assert str(err.value) == (
        "chapter12-loans:3 (accuracy 0.7000) is less accurate than chapter12-loans:1 (0.8000), which blue serves in "
        "this stack now (Δ -0.1000); promote a version at least as accurate"
    )
    assert path.read_text() == before


def test_promote_unregistered_version_is_refused(registry, stacks_copy):
    with pytest.raises(ModelNotFound, match=r"^chapter12-loans has no version 9 \(versions: 1, 2, 3\)$"):
        promote("prod", NAME, 9, registry=registry, stacks_dir=stacks_copy)


@pytest.mark.parametrize("kwargs,message", [
    ({"traffic": {"purple": 10}}, "--traffic names no deployment: purple (deployments: blue, green)"),
    ({"traffic": {"green": 60, "blue": 50}}, "--traffic shares sum to 110, more than 100"),
    ({"finish": True, "mirror": 5}, "--finish moves all traffic to the candidate; use it without --traffic or --mirror"),
    ({"mirror": 60}, "--mirror must be a percent 0-50, got 60"),
])
def test_promote_bad_options_are_usage_errors(registry, stacks_copy, kwargs, message):
    path = stacks_copy / "Pulumi.dev.yaml"
    before = path.read_text()
    with pytest.raises(UsageError) as err:
        promote("dev", NAME, 2, registry=registry, stacks_dir=stacks_copy, **kwargs)
    assert (str(err.value), path.read_text()) == (message, before)


def test_promote_other_model_name_is_a_usage_error(registry, stacks_copy):
    with pytest.raises(UsageError) as err:
        promote("dev", "other-model", 2, registry=registry, stacks_dir=stacks_copy)
    assert str(err.value) == "stack dev serves model 'chapter12-loans', not 'other-model'; promote chapter12-loans:VERSION"


def test_promote_cli_writes_the_stack_file_and_prints_its_diff(azure_registry, tmp_path, capsys, monkeypatch):
    repo = tmp_path / "checkout"
    (repo / "stacks").mkdir(parents=True)
    source = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    (repo / "stacks" / "Pulumi.dev.yaml").write_text(source)
    code, out, err = run_cli(capsys, monkeypatch, "promote", f"{NAME}:2", "--to", "dev", "--mirror", "10", "--no-diff", "--repo", str(repo))
    assert (code, err) == (0, "")
    assert out.splitlines()[:5] == [
        "gate passed: chapter12-loans:2 accuracy 0.8500 ≥ chapter12-loans:1's 0.8000 (served by blue; Δ +0.0500)",
        "- added deployment green serving version 2 (settings copied from blue) with 0% live traffic",
        "- mirror traffic to green: 10%",
        "",
        "stacks/Pulumi.dev.yaml (written):",
    ]
    assert "+    mirrorTraffic:\n+      green: 10\n" in out
    assert (repo / "stacks" / "Pulumi.dev.yaml").read_text() != source


def test_promote_cli_dry_run_leaves_the_checkout_alone(azure_registry, capsys, monkeypatch):
    before = (ROOT / "stacks" / "Pulumi.prod.yaml").read_text()
    code, out, err = run_cli(capsys, monkeypatch, "promote", f"{NAME}:2", "--to", "prod", "--dry-run", "--no-diff")
    assert (code, err) == (0, "")
    assert "stacks/Pulumi.prod.yaml (dry run, not written):" in out
    assert "+      green: 0\n" in out
    assert (ROOT / "stacks" / "Pulumi.prod.yaml").read_text() == before


def test_promote_cli_refusal_exits_1_with_the_reason(azure_registry, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "promote", f"{NAME}:3", "--to", "prod", "--dry-run", "--no-diff")
    assert (code, out) == (1, "")
    assert err == (
        "error: chapter12-loans:3 (accuracy 0.7000) is less accurate than chapter12-loans:1 (0.8000), which blue "
        "serves in this stack now (Δ -0.1000); promote a version at least as accurate\n"
    )


def test_promote_cli_version_required(capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "promote", NAME, "--to", "dev")
    assert (code, err) == (2, "error: promote takes NAME:VERSION with a version ≥ 1, e.g. chapter12-loans:1, got 'chapter12-loans'\n")
