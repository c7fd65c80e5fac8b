"""The traffic step's dynamic provider against a fake MLClient (no network)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from infra.traffic import EndpointTrafficProvider


class FakeEndpoints:
    """Records what the provider sends, like MLClient.online_endpoints."""

    def __init__(self, endpoints: dict[str, SimpleNamespace]):
        self.endpoints = endpoints
        self.sent: list[tuple[str, dict, dict]] = []

    def get(self, name):
        if name not in self.endpoints:
            raise LookupError(f"no endpoint {name}")
        return self.endpoints[name]

    def begin_create_or_update(self, endpoint):
        self.sent.append((endpoint.name, dict(endpoint.traffic), dict(endpoint.mirror_traffic)))
        return SimpleNamespace(result=lambda: endpoint)


@pytest.fixture
def fake():
    endpoints = FakeEndpoints({"loans-prod-online": SimpleNamespace(name="loans-prod-online", traffic={"blue": 100}, mirror_traffic={})})
    calls = []

    def factory(subscription, group, workspace):
        calls.append((subscription, group, workspace))
        return SimpleNamespace(online_endpoints=endpoints)

    return SimpleNamespace(endpoints=endpoints, calls=calls, provider=EndpointTrafficProvider(factory))


PROPS = {
    "subscription_id": "sub",
    "resource_group_name": "rg",
    "workspace_name": "ws",
    "endpoint_name": "loans-prod-online",
    "traffic": {"blue": 100.0, "green": 0.0},
    "mirror_traffic": {},
}


def test_traffic_create_sets_both_maps_on_the_endpoint(fake):
    result = fake.provider.create(PROPS)
    assert fake.calls == [("sub", "rg", "ws")]
    assert fake.endpoints.sent == [("loans-prod-online", {"blue": 100, "green": 0}, {})]
    assert result.id == "ws/loans-prod-online/traffic"
    assert result.outs["traffic"] == {"blue": 100, "green": 0}


def test_traffic_update_moves_traffic_and_mirrors(fake):
    news = {**PROPS, "traffic": {"blue": 90, "green": 10}, "mirror_traffic": {}}
    fake.provider.update("id", PROPS, news)
    news2 = {**PROPS, "traffic": {"blue": 100, "green": 0}, "mirror_traffic": {"green": 20}}
    result = fake.provider.update("id", news, news2)
    assert fake.endpoints.sent == [
        ("loans-prod-online", {"blue": 90, "green": 10}, {}),
        ("loans-prod-online", {"blue": 100, "green": 0}, {"green": 20}),
    ]
    assert result.outs["mirror_traffic"] == {"green": 20}


def test_traffic_diff_ignores_float_int_noise():
    provider = EndpointTrafficProvider(lambda *a: None)
    olds = {**PROPS, "traffic": {"blue": 100, "green": 0}}
    assert provider.diff("id", olds, PROPS).changes is False


def test_traffic_diff_updates_percentages_in_place_and_replaces_for_another_endpoint():
    provider = EndpointTrafficProvider(lambda *a: None)
    moved = provider.diff("id", PROPS, {**PROPS, "traffic": {"blue": 50, "green": 50}})
    assert (moved.changes, moved.replaces) == (True, [])
    other = provider.diff("id", PROPS, {**PROPS, "endpoint_name": "loans-stg-online"})
    assert (other.changes, other.replaces) == (True, ["endpoint_name"])


def test_traffic_missing_endpoint_surfaces_the_client_error(fake):
    with pytest.raises(LookupError, match="no endpoint nope"):
        fake.provider.create({**PROPS, "endpoint_name": "nope"})
    assert fake.endpoints.sent == []


def test_traffic_diff_updates_in_place_when_the_endpoint_was_re_put():
    provider = EndpointTrafficProvider(lambda *a: None)
    olds = {**PROPS, "endpoint_revision": "aaaaaaaaaaaa"}
    news = {**PROPS, "endpoint_revision": "bbbbbbbbbbbb"}
    result = provider.diff("id", olds, news)
    assert (result.changes, result.replaces) == (True, [])
    assert provider.diff("id", olds, dict(olds)).changes is False


def test_traffic_outputs_keep_the_endpoint_revision(fake):
    result = fake.provider.create({**PROPS, "endpoint_revision": "abc123abc123"})
    assert result.outs["endpoint_revision"] == "abc123abc123"


def test_endpoint_revision_is_stable_and_sensitive():
    from infra.traffic import endpoint_revision

    base = endpoint_revision("loans-prod-online", "aml_token", "managed", "d", {"env": "prod"})
    assert base == endpoint_revision("loans-prod-online", "aml_token", "managed", "d", {"env": "prod"})
    assert base != endpoint_revision("loans-prod-online", "key", "managed", "d", {"env": "prod"})
    assert base != endpoint_revision("loans-prod-online", "aml_token", "managed", "d", {"env": "prod", "x": "y"})
