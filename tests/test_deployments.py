"""Which deployment is live: one rule (most traffic; a tie goes to the first declared) for serve, profile and promote."""

from __future__ import annotations

import pytest

from amlops import deployments
from amlops.errors import UsageError
from amlops.promotion import check_gate
from amlops.stackfile import raw_config, stack_path
from cli_support import FakeRegistry
from infra.config import parse_config


def stack_with(order: tuple[str, ...], traffic: dict[str, int]):
    """dev's config with deployments declared in `order` (each serving version 1) and `traffic`."""
    raw = raw_config(stack_path("dev"))
    blue = raw["online"]["deployments"]["blue"]
    online = {**raw["online"], "deployments": {n: {**blue, "modelVersion": 1} for n in order}, "traffic": traffic}
    return parse_config({**raw, "online": online}, source="dev (test)")


TIE = stack_with(("green", "blue"), {"green": 50, "blue": 50})
"""Declared green first; by name blue would come first."""


def test_live_deployment_on_a_tie_is_the_first_declared_not_the_first_by_name():
    assert deployments.live_deployment(TIE) == "green"
    assert deployments.live_deployment(stack_with(("blue", "green"), {"green": 50, "blue": 50})) == "blue"


def test_serve_profile_and_promote_agree_on_a_tie():
    assert deployments.choose_deployment(TIE) == "green"  # serve and profile
    from amlops.serving import endpoint

    assert endpoint.choose_deployment(TIE) == "green"  # the local endpoint's own settings
    gate = check_gate(FakeRegistry(), TIE, "chapter12-loans", 2)  # promote compares with what is live
    assert (gate.baseline_deployment, gate.baseline.version) == ("green", 1)


@pytest.mark.parametrize(
    ("traffic", "live", "chosen"),
    [({"green": 10, "blue": 90}, "blue", "blue"), ({"green": 0, "blue": 0}, None, "green"), ({}, None, "green")],
)
def test_live_deployment_takes_the_most_traffic_or_none(traffic, live, chosen):
    cfg = stack_with(("green", "blue"), traffic)
    assert (deployments.live_deployment(cfg), deployments.choose_deployment(cfg)) == (live, chosen)


def test_live_deployment_leaves_out_the_excluded():
    assert deployments.live_deployment(TIE, exclude={"green"}) == "blue"


def test_choose_deployment_unknown_name_is_a_usage_error():
    with pytest.raises(UsageError) as err:
        deployments.choose_deployment(TIE, "red")
    assert str(err.value) == "no deployment 'red' in amlops:online.deployments; known: green, blue"
