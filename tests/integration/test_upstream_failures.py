"""Upstream failures: pass-through 4xx, retries, fallbacks, 5xx/timeout/connect errors, TLS."""

from __future__ import annotations

import time

import pytest

from fake_upstream import SCENARIO_ERROR_MESSAGE, error_body
from swtest.apis import CHAT, MESSAGES, Api
from swtest.client import auth_headers, request, stream
from swtest.config import APP_KEY, GPT_MINI
from swtest.expect import assert_error

# (api, route on a provider that may fail without cooling down the shared ones)
FAULTY = {"openai": (CHAT, "faulty"), "anthropic": (MESSAGES, "faulty-claude")}
DEAD = {"openai": (CHAT, "dead"), "anthropic": (MESSAGES, "dead-claude")}


def call(proxy, api: Api, route: str, scenario: str | None = None, stream_: bool = False):
    headers = auth_headers(APP_KEY)
    if scenario:
        headers["x-fake-scenario"] = scenario
    return request(proxy.port, "POST", api.path, api.body(route, stream=stream_), headers)


@pytest.mark.parametrize("status", [400, 404, 422])
@pytest.mark.parametrize("fmt", FAULTY)
def test_provider_client_errors_pass_through_unchanged(proxy, fake, fmt: str, status: int):
    api, route = FAULTY[fmt]
    resp = call(proxy, api, route, f"status={status}")
    assert resp.status == status, resp
    assert resp.json() == error_body(status, SCENARIO_ERROR_MESSAGE, api.anthropic)
    assert len(fake.requests()) == 1, "a client error is not retried"


@pytest.mark.parametrize("fmt", FAULTY)
def test_upstream_500_is_retried_then_reported(proxy, fake, fmt: str):
    api, route = FAULTY[fmt]
    resp = call(proxy, api, route, "status=500")
    error = assert_error(resp, api.anthropic, 500, ("upstream_error", "server_error"),
                         "api_error")
    assert len(fake.requests()) == 2, "retries: 1 means two attempts on the same target"
    assert "server_error" in error["message"] and "faulty" in error["message"], \
        "the message names each target tried and its failure class"


@pytest.mark.parametrize("status,anthropic_type", [(503, "api_error"), (529, "overloaded_error")])
def test_upstream_5xx_status_is_kept(proxy, fake, status: int, anthropic_type: str):
    api, route = FAULTY["anthropic"]
    resp = call(proxy, api, route, f"status={status}")
    assert_error(resp, True, status, ("upstream_error", "server_error"), anthropic_type)


@pytest.mark.parametrize("fmt", FAULTY)
def test_upstream_429_retry_after_is_waited_for(proxy, fake, fmt: str):
    api, route = FAULTY[fmt]
    resp = call(proxy, api, route, "status=429;retry-after=1")
    assert_error(resp, api.anthropic, 429, ("upstream_error", "rate_limited"), "rate_limit_error")
    first, second = fake.requests()
    assert second.at - first.at >= 0.9, "Retry-After: 1 (≤ max_retry_wait) is waited for"


@pytest.mark.parametrize("fmt", DEAD)
def test_connection_refused_gives_502_connect_error(proxy, fmt: str):
    api, route = DEAD[fmt]
    resp = call(proxy, api, route)
    error = assert_error(resp, api.anthropic, 502, ("upstream_error", "connect_error"),
                         "api_error")
    assert "connect_error" in error["message"]


def test_first_byte_timeout_gives_504(proxy, fake):
    started = time.monotonic()
    resp = call(proxy, CHAT, "slow", "delay-ms=4000")
    elapsed = time.monotonic() - started
    assert_error(resp, False, 504, ("upstream_error", "timeout"), "api_error")
    assert elapsed < 3.5, f"first_byte_timeout 1s took {elapsed:.2f}s"


SERVER_ERROR = ("server_error",)
SERVER_OR_CONNECT_ERROR = ("server_error", "connect_error")


@pytest.mark.parametrize("scenario,codes", [
    pytest.param("garbage-response", SERVER_ERROR, id="garbage-response"),
    pytest.param("bad-json", SERVER_ERROR, id="bad-json"),
    pytest.param("close-before-head", SERVER_OR_CONNECT_ERROR, id="close-before-head")])
@pytest.mark.parametrize("fmt", FAULTY)
def test_invalid_upstream_answers_become_502(proxy, fmt: str, scenario: str, codes):
    api, route = FAULTY[fmt]
    resp = call(proxy, api, route, scenario)
    assert_error(resp, api.anthropic, 502, ("upstream_error", codes), "api_error")


def test_response_over_max_response_bytes_becomes_502(proxy, fake):
    resp = call(proxy, CHAT, "limited", "oversized=300000")
    assert_error(resp, False, 502, ("upstream_error", "server_error"), "api_error")


def test_response_under_max_response_bytes_passes(proxy):
    resp = call(proxy, CHAT, "limited", "oversized=30000")
    assert resp.status == 200, resp
    assert len(resp.body) == 30000


@pytest.mark.parametrize("api,route", [(CHAT, "faulty"), (MESSAGES, "faulty-claude")],
                         ids=["chat", "messages"])
def test_stream_cut_after_bytes_were_sent_ends_the_stream(proxy, fake, api: Api, route: str):
    result = stream(proxy.port, api.path, api.body(route, stream=True),
                    {**auth_headers(APP_KEY), "x-fake-scenario": "stream-reset-after=4"})
    assert result.status == 200
    assert result.events, "the events before the cut were relayed"
    assert not api.stream_finished(result.events)
    assert len(fake.requests()) == 1, "a stream that already sent bytes is never retried"


def test_fallback_after_the_target_fails(proxy, fake, fake_failing):
    resp = request(proxy.port, "POST", CHAT.path, CHAT.body("failover"), auth_headers(APP_KEY))
    assert resp.status == 200, resp
    assert resp.header("x-spendwall-fallbacks") == "1"
    assert resp.header("x-spendwall-provider") == "oa"
    assert resp.header("x-spendwall-model") == GPT_MINI
    assert resp.header("x-spendwall-route") == "failover"
    assert len(fake_failing.requests()) == 2, "the target and its one retry"
    [seen] = fake.requests()
    assert seen.json()["model"] == GPT_MINI


def test_untrusted_upstream_certificate_is_refused(proxy, fake_tls):
    resp = call(proxy, CHAT, "untrusted")
    assert_error(resp, False, 502, ("upstream_error", SERVER_OR_CONNECT_ERROR), "")
    assert fake_tls.requests() == [], "no request may be sent over an unverified connection"


def test_tls_upstream_gets_sni(proxy, fake_tls):
    resp = call(proxy, CHAT, "sni")
    assert resp.status == 200, resp
    [seen] = fake_tls.requests()
    assert seen.server_name == "localhost"


def test_tls_by_ip_address_verifies_the_ip_san(proxy, fake_tls):
    resp = call(proxy, CHAT, "gpt-tls")
    assert resp.status == 200, resp
    [seen] = fake_tls.requests()
    assert seen.tls


def test_upstream_connections_are_reused(proxy, fake):
    for _ in range(3):
        assert call(proxy, CHAT, "gpt").status == 200
    connections = {r.connection_id for r in fake.requests()}
    assert len(fake.requests()) == 3
    assert len(connections) < 3, "the upstream pool opened a connection per request"
