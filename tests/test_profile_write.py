"""`profile --write`: the recommendation lands on the profiled deployment, validated, layout kept."""

from __future__ import annotations

import difflib

import pytest

from amlops.errors import UsageError
from amlops.profiling.errors import NoRecommendation
from amlops.profiling.recommend import Recommendation
from amlops.profiling.stackwrite import Change, write_recommendation
from amlops.stackedit import StackEditor
from amlops.stackfile import load_stack
from infra.config import ConfigError

REC = Recommendation(
    True, "3 × Standard_F2s_v2 …", slo_p99_ms=200, headroom=0.3,
    instance_type="Standard_F2s_v2", instance_count=3, max_concurrent_requests_per_instance=4,
)


def _changed_lines(before: str, after: str) -> list[str]:
    return [l for l in difflib.ndiff(before.splitlines(), after.splitlines()) if l[:1] in "+-"]


def test_profile_write_sets_three_keys_and_nothing_else(stacks_copy):
    path = stacks_copy / "Pulumi.dev.yaml"
    before = path.read_text()
    changes = write_recommendation("dev", "blue", REC, stacks_copy)
    assert changes == [
        Change("amlops:online.deployments.blue.instanceType", "Standard_DS1_v2", "Standard_F2s_v2"),
        Change("amlops:online.deployments.blue.instanceCount", 1, 3),
        Change("amlops:online.deployments.blue.requestSettings.maxConcurrentRequestsPerInstance", 2, 4),
    ]
    assert _changed_lines(before, path.read_text()) == [
        "-         instanceType: Standard_DS1_v2",
        "+         instanceType: Standard_F2s_v2",
        "-         instanceCount: 1",
        "+         instanceCount: 3",
        "-           maxConcurrentRequestsPerInstance: 2",
        "+           maxConcurrentRequestsPerInstance: 4",
    ]
    blue = load_stack("dev", stacks_copy).online.deployments["blue"]
    assert (blue.instance_type, blue.instance_count, blue.request_settings.max_concurrent_requests_per_instance) == (
        "Standard_F2s_v2", 3, 4,
    )


def test_profile_write_same_size_again_changes_nothing(stacks_copy):
    write_recommendation("dev", "blue", REC, stacks_copy)
    text = (stacks_copy / "Pulumi.dev.yaml").read_text()
    assert write_recommendation("dev", "blue", REC, stacks_copy) == []
    assert (stacks_copy / "Pulumi.dev.yaml").read_text() == text


def test_profile_write_creates_missing_request_settings(stacks_copy):
    editor = StackEditor(stacks_copy / "Pulumi.dev.yaml")
    editor.delete("online", "deployments", "blue", "requestSettings")
    editor.save()
    changes = write_recommendation("dev", "blue", REC, stacks_copy)
    assert changes[-1] == Change("amlops:online.deployments.blue.requestSettings.maxConcurrentRequestsPerInstance", None, 4)
    assert load_stack("dev", stacks_copy).online.deployments["blue"].request_settings.max_concurrent_requests_per_instance == 4


def test_profile_write_infeasible_recommendation_writes_nothing(stacks_copy):
    before = (stacks_copy / "Pulumi.dev.yaml").read_text()
    rec = Recommendation(False, "SLO breached already at concurrency 1: p99 300.0 ms > 200 ms", slo_p99_ms=200, headroom=0.3)
    with pytest.raises(NoRecommendation) as err:
        write_recommendation("dev", "blue", rec, stacks_copy)
    assert str(err.value) == "nothing written to the dev stack: SLO breached already at concurrency 1: p99 300.0 ms > 200 ms"
    assert (stacks_copy / "Pulumi.dev.yaml").read_text() == before


def test_profile_write_unknown_deployment_raises_usage_error(stacks_copy):
    with pytest.raises(UsageError) as err:
        write_recommendation("dev", "green", REC, stacks_copy)
    assert str(err.value) == f"{stacks_copy / 'Pulumi.dev.yaml'}: amlops:online.deployments has no 'green' (deployments: blue)"


def test_profile_write_invalid_result_is_refused_and_file_untouched(stacks_copy):
    before = (stacks_copy / "Pulumi.dev.yaml").read_text()
    too_many = Recommendation(True, "…", slo_p99_ms=200, headroom=0.3, instance_type="Standard_F2s_v2",
                              instance_count=101, max_concurrent_requests_per_instance=4)
    with pytest.raises(ConfigError, match=r"amlops:online.deployments.blue.instanceCount: Input should be less than or equal to 100"):
        write_recommendation("dev", "blue", too_many, stacks_copy)
    assert (stacks_copy / "Pulumi.dev.yaml").read_text() == before
