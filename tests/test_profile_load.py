"""The stepped load against a small real HTTP server on 127.0.0.1 that can be told to be slow or to fail."""

from __future__ import annotations

import json
import socket
from collections import Counter

import pytest

from amlops.errors import UsageError
from amlops.profiling import stepping
from amlops.profiling.errors import EndpointAuthError, EndpointFailing, EndpointUnreachable
from amlops.profiling.loadgen import StepSample, Target, run_step
from amlops.profiling.stepping import STOP_ERRORS, STOP_MAX, STOP_SLO, LoadPlan, run_profile
from profile_support import Behaviour, FakeEndpoint

BODIES = [json.dumps({"data": [[5000.0 + i, 2, 40]]}).encode() for i in range(7)]


@pytest.fixture
def fake():
    endpoints = []

    def start(**kwargs) -> FakeEndpoint:
        ep = FakeEndpoint(Behaviour(**kwargs)).__enter__()
        endpoints.append(ep)
        return ep

    yield start
    for ep in endpoints:
        ep.__exit__(None, None, None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


QUICK = dict(step_seconds=5.0, warmup_requests=2)


def test_step_request_budget_sends_exactly_that_many_in_order_on_keepalive(fake):
    ep = fake()
    sample = run_step(Target(ep.url), BODIES, 3, max_seconds=10.0, max_requests=30)
    assert sample.requests == 30
    assert len(sample.latencies_s) == 30
    assert sample.statuses == {200: 30}
    assert sample.connects == 3  # one keep-alive connection per client thread
    assert sorted(ep.bodies) == sorted(BODIES[i % 7] for i in range(30))


def test_step_server_closes_connections_client_reconnects_without_errors(fake):
    ep = fake(close=True)
    sample = run_step(Target(ep.url), BODIES, 2, max_seconds=10.0, max_requests=20)
    assert sample.statuses == {200: 20}
    assert sample.failed == 0
    assert sample.connects == 20


def test_step_time_bound_stops_before_request_budget(fake):
    ep = fake(delay_s=0.05, serialize=True)
    sample = run_step(Target(ep.url), BODIES, 1, max_seconds=0.3, max_requests=100_000)
    assert 1 <= sample.requests < 100
    assert sample.failed == 0


def test_profile_fast_endpoint_steps_to_max_concurrency(fake):
    ep = fake()
    plan = LoadPlan(slo_p99_ms=2000, max_concurrency=4, step_requests=40, **QUICK)
    seen = []
    profile = run_profile(Target(ep.url), BODIES, plan, on_step=seen.append)
    assert [s.concurrency for s in profile.steps] == [1, 2, 4]
    assert seen == profile.steps
    assert profile.stop_reason == STOP_MAX
    assert [s.requests for s in profile.steps] == [40, 40, 40]
    assert all(s.errors == 0 and s.ok == 40 for s in profile.steps)
    assert all(s.p50_ms <= s.p90_ms <= s.p99_ms <= s.max_ms for s in profile.steps)
    assert len(ep.bodies) == 2 + 120  # warm-up + three steps


def test_profile_stops_at_the_first_step_whose_p99_breaks_the_slo(fake, monkeypatch):
    # Latency is what each step measured, not wall time here: 50 ms per request at 1 client, 100 ms at 2, …
    def step(target, payloads, concurrency, *, max_seconds, max_requests):
        return StepSample(concurrency, 1.0, [0.05 * concurrency] * 10, Counter({200: 10}))

    monkeypatch.setattr(stepping, "run_step", step)
    plan = LoadPlan(slo_p99_ms=80, max_concurrency=8, step_requests=10, **QUICK)
    profile = run_profile(Target(fake().url), BODIES, plan)
    assert [(s.concurrency, s.p99_ms) for s in profile.steps] == [(1, 50.0), (2, 100.0)]
    assert profile.stop_reason == STOP_SLO
    assert profile.stop_detail == "p99 100.0 ms at concurrency 2 is above the SLO of 80 ms"


def test_profile_endpoint_refusing_after_a_step_stops_at_errors(fake):
    ep = fake(ok_requests=2 + 20)  # the warm-up and the first step are answered, then 429s
    plan = LoadPlan(slo_p99_ms=2000, max_concurrency=8, step_requests=20, **QUICK)
    profile = run_profile(Target(ep.url), BODIES, plan)
    assert [s.concurrency for s in profile.steps] == [1, 2]
    assert profile.stop_reason == STOP_ERRORS
    second = profile.steps[1]
    assert (second.errors, second.statuses) == (20, {"429": 20})
    assert second.first_failure == 'HTTP 429: {"message": "too many requests"}'
    assert profile.stop_detail == "20 of 20 requests failed at concurrency 2 (429: 20)"


def test_profile_nothing_listening_raises_unreachable():
    url = f"http://127.0.0.1:{_free_port()}/score"
    with pytest.raises(EndpointUnreachable, match=r"cannot reach http://127.0.0.1:\d+/score: connection refused; start it"):
        run_profile(Target(url), BODIES, LoadPlan(**QUICK))


def test_profile_without_key_raises_auth_error(fake):
    ep = fake(key="s3cret")
    with pytest.raises(EndpointAuthError, match=r"/score answered HTTP 401 to request 1: pass the endpoint's key with --key"):
        run_profile(Target(ep.url), BODIES, LoadPlan(**QUICK))
    with pytest.raises(EndpointAuthError, match="the key given with --key was refused"):
        run_profile(Target(ep.url, key="wrong"), BODIES, LoadPlan(**QUICK))


def test_profile_with_key_is_accepted(fake):
    ep = fake(key="s3cret")
    profile = run_profile(Target(ep.url, key="s3cret"), BODIES, LoadPlan(max_concurrency=1, step_requests=5, **QUICK))
    assert profile.steps[0].statuses == {"200": 5}


def test_profile_failing_endpoint_raises_failing_naming_status_and_body(fake):
    ep = fake(status=500)
    with pytest.raises(EndpointFailing) as err:
        run_profile(Target(ep.url), BODIES, LoadPlan(**QUICK))
    assert str(err.value) == (
        f'{ep.url} answered request 1 with HTTP 500: {{"message": "model exploded"}}; '
        "nothing to size from failures (check the payloads given with --requests and the server's log)"
    )


def test_profile_endpoint_that_never_answers_times_out_as_unreachable(fake):
    ep = fake(hang=True)
    with pytest.raises(EndpointUnreachable, match=r"no reply within 0.2 s to request 1"):
        run_profile(Target(ep.url, timeout_s=0.2), BODIES, LoadPlan(**QUICK))


def test_profile_server_pid_adds_cpu_and_memory(fake):
    import os

    ep = fake()
    # enough requests that the serving (this process) spends whole clock ticks of CPU, which is all psutil can see
    plan = LoadPlan(max_concurrency=1, step_requests=2000, **QUICK)
    step = run_profile(Target(ep.url), BODIES, plan, server_pid=os.getpid()).steps[0]
    assert step.requests == 2000
    assert step.server_cpu_percent > 0
    assert step.server_peak_rss_bytes > 10 * 1024 * 1024
    assert step.server_processes >= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(slo_p99_ms=0), "--slo-p99-ms must be > 0, got 0"),
        (dict(max_concurrency=0), "--max-concurrency must be 1-256, got 0"),
        (dict(step_seconds=0), "--step-seconds must be > 0 and at most 600, got 0"),
        (dict(step_requests=0), "--step-requests must be 1-1000000, got 0"),
    ],
)
def test_profile_bad_plan_raises_usage_error(kwargs, message):
    with pytest.raises(UsageError) as err:
        LoadPlan(**kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize(("maximum", "levels"), [(1, [1]), (4, [1, 2, 4]), (6, [1, 2, 4, 6]), (16, [1, 2, 4, 8, 16])])
def test_profile_plan_concurrency_doubles_up_to_max(maximum, levels):
    assert LoadPlan(max_concurrency=maximum).concurrencies() == levels


def test_profile_url_without_scheme_raises_usage_error():
    with pytest.raises(UsageError, match=r"--url must be an http:// or https:// URL with a host, got '127.0.0.1:5001/score'"):
        Target("127.0.0.1:5001/score")
