"""What reaches the upstream (keys, headers, include_usage) and what comes back (headers)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from swtest.apis import CHAT, COMPLETIONS, MESSAGES, Api, expected_cost, expected_reply
from swtest.client import SseStream, auth_headers, request, stream
from swtest.config import (ANTHROPIC_PROVIDER_KEY, APP_KEY, CLAUDE, CLIENT_KEYS, GPT,
                           OPENAI_PROVIDER_KEY, OUTSIDER_KEY, PRICE_CLAUDE, PRICE_GPT,
                           PROVIDER_ANTHROPIC_VERSION, PROVIDER_EXTRA_HEADER)

AUTH_SCHEMES = ("bearer", "x-api-key")
OPENAI_AND_ANTHROPIC = (CHAT, MESSAGES)


def call(proxy, api: Api, headers: dict[str, str] | None = None, scheme: str = "bearer",
         **body_extra):
    return request(proxy.port, "POST", api.path, api.body(api.route, **body_extra),
                   {**auth_headers(APP_KEY, scheme), **(headers or {})})


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize("scheme", AUTH_SCHEMES)
@pytest.mark.parametrize("api", OPENAI_AND_ANTHROPIC, ids=lambda a: a.name)
def test_client_key_is_replaced_by_the_provider_key(proxy, fake, api: Api, scheme: str):
    resp = call(proxy, api, scheme=scheme)
    assert resp.status == 200, resp

    [seen] = fake.requests()
    for name, value in seen.headers:
        for key in CLIENT_KEYS:
            assert key not in value, f"client key forwarded in {name}"
    assert APP_KEY.encode() not in seen.body
    if api.anthropic:
        assert seen.header_values("x-api-key") == [ANTHROPIC_PROVIDER_KEY]
        assert seen.header_values("authorization") == []
    else:
        assert seen.header_values("authorization") == [f"Bearer {OPENAI_PROVIDER_KEY}"]
        assert seen.header_values("x-api-key") == []


def test_spendwall_headers_are_not_forwarded(proxy, fake):
    resp = call(proxy, CHAT, {"x-spendwall-tags": "feature=search, team=a",
                              "x-spendwall-session": "run-1"})
    assert resp.status == 200, resp
    [seen] = fake.requests()
    assert [k for k, _ in seen.headers if k.lower().startswith("x-spendwall-")] == []


def test_hop_by_hop_headers_are_not_forwarded(proxy, fake):
    resp = call(proxy, CHAT, {"Keep-Alive": "timeout=5", "Proxy-Authorization": "Basic Zm9vOmJh",
                              "Connection": "keep-alive, x-hop-only", "x-hop-only": "1"})
    assert resp.status == 200, resp
    [seen] = fake.requests()
    for name in ("keep-alive", "proxy-authorization", "x-hop-only"):
        assert seen.header(name) is None, f"hop-by-hop header {name} forwarded"


def test_other_client_headers_are_forwarded(proxy, fake):
    resp = call(proxy, CHAT, {"x-custom-trace": "trace-42", "User-Agent": "integration/1.0",
                              "OpenAI-Beta": "assistants=v2"})
    assert resp.status == 200, resp
    [seen] = fake.requests()
    assert seen.header_values("x-custom-trace") == ["trace-42"]
    assert seen.header("user-agent") == "integration/1.0"
    assert seen.header_values("openai-beta") == ["assistants=v2"]
    assert seen.header(PROVIDER_EXTRA_HEADER[0]) == PROVIDER_EXTRA_HEADER[1], \
        "provider headers from the config are added"


def test_anthropic_version_and_beta_from_the_client_are_forwarded(proxy, fake):
    resp = call(proxy, MESSAGES, {"anthropic-version": "2023-01-01",
                                  "anthropic-beta": "prompt-caching-2024-07-31"})
    assert resp.status == 200, resp
    [seen] = fake.requests()
    assert seen.header_values("anthropic-version") == ["2023-01-01"]
    assert seen.header_values("anthropic-beta") == ["prompt-caching-2024-07-31"]


def test_anthropic_version_defaults_to_the_providers(proxy, fake):
    resp = call(proxy, MESSAGES)
    assert resp.status == 200, resp
    [seen] = fake.requests()
    assert seen.header_values("anthropic-version") == [PROVIDER_ANTHROPIC_VERSION]


# --------------------------------------------------------------------------- include_usage


def is_usage_chunk(event) -> bool:
    return event.data.startswith("{") and event.json().get("choices") == []


@pytest.mark.parametrize("stream_options", [None, {"include_usage": False}],
                         ids=["absent", "false"])
@pytest.mark.parametrize("api", (CHAT, COMPLETIONS), ids=lambda a: a.name)
def test_include_usage_is_added_upstream_and_hidden_from_the_client(proxy, fake, api: Api,
                                                                     stream_options):
    extra = {"stream_options": stream_options} if stream_options is not None else {}
    result = stream(proxy.port, api.path, api.body(api.route, stream=True, **extra),
                    auth_headers(APP_KEY))
    assert result.status == 200, result.raw

    [seen] = fake.requests()
    assert seen.json()["stream_options"]["include_usage"] is True
    assert seen.usage is not None, "the fake sent a usage chunk"
    assert not [e.data for e in result.events if is_usage_chunk(e)], "usage chunk not hidden"
    assert not [e for e in result.data_json() if e.get("usage")], "usage leaked to the client"
    assert api.stream_text(result.events) == expected_reply(GPT)
    assert api.stream_finished(result.events)


@pytest.mark.parametrize("api", (CHAT, COMPLETIONS), ids=lambda a: a.name)
def test_include_usage_requested_by_the_client_is_relayed(proxy, fake, api: Api):
    result = stream(proxy.port, api.path,
                    api.body(api.route, stream=True, stream_options={"include_usage": True}),
                    auth_headers(APP_KEY))
    assert result.status == 200, result.raw
    [seen] = fake.requests()
    usage_chunks = [e.json() for e in result.events if is_usage_chunk(e)]
    assert len(usage_chunks) == 1
    assert usage_chunks[0]["usage"] == seen.usage
    assert api.stream_finished(result.events)


def test_stream_is_relayed_as_it_arrives(proxy):
    """Events reach the client while the upstream is still producing (no whole-stream buffer)."""
    body = CHAT.body(CHAT.route, stream=True)
    headers = {**auth_headers(APP_KEY), "x-fake-scenario": "words=6;chunk-delay-ms=300"}
    started = time.monotonic()
    with SseStream(proxy.port, CHAT.path, body, headers) as s:
        assert s.status == 200
        arrivals = [time.monotonic() - started for e in s.events() if e.data != "[DONE]"]
    assert len(arrivals) >= 6
    assert arrivals[-1] - arrivals[1] >= 1.0, f"events arrived together: {arrivals}"


# --------------------------------------------------------------------------- response headers


@pytest.mark.parametrize("api,provider,model,price",
                         [(CHAT, "oa", GPT, PRICE_GPT), (MESSAGES, "an", CLAUDE, PRICE_CLAUDE)],
                         ids=["openai", "anthropic"])
def test_response_headers(proxy, fake, api: Api, provider: str, model: str, price):
    first = call(proxy, api, {"x-fake-scenario": "cached=3;reasoning=2"})
    second = call(proxy, api)
    assert first.status == 200 and second.status == 200, (first, second)

    ids = [r.header("x-spendwall-request-id") for r in (first, second)]
    assert all(ids) and ids[0] != ids[1], ids
    assert first.header("x-spendwall-route") == api.route
    assert first.header("x-spendwall-provider") == provider
    assert first.header("x-spendwall-model") == model
    assert first.header("x-spendwall-fallbacks") is None, "no fallback happened"
    seen_first, _ = fake.requests()
    expected = expected_cost(api.token_kinds(seen_first.usage), price)
    assert expected > 0
    assert Decimal(first.header("x-spendwall-cost-usd")) == expected
    remaining = Decimal(first.header("x-spendwall-budget-remaining-usd"))
    assert 0 < remaining <= 1000


@pytest.mark.parametrize("api", OPENAI_AND_ANTHROPIC, ids=lambda a: a.name)
def test_streaming_response_headers(proxy, api: Api):
    result = stream(proxy.port, api.path, api.body(api.route, stream=True),
                    auth_headers(APP_KEY))
    assert result.status == 200, result.raw
    assert result.header("x-spendwall-request-id")
    assert result.header("x-spendwall-route") == api.route
    assert result.header("x-spendwall-provider") == ("an" if api.anthropic else "oa")
    assert result.header("x-spendwall-model") == (CLAUDE if api.anthropic else GPT)


# --------------------------------------------------------------------------- other endpoints


def test_models_lists_only_the_routes_this_key_may_use(proxy):
    mine = request(proxy.port, "GET", "/v1/models", headers=auth_headers(APP_KEY))
    theirs = request(proxy.port, "GET", "/v1/models",
                     headers=auth_headers(OUTSIDER_KEY, "x-api-key"))
    assert mine.status == 200 and theirs.status == 200, (mine, theirs)
    assert mine.json()["object"] == "list"
    my_ids = {m["id"] for m in mine.json()["data"]}
    their_ids = {m["id"] for m in theirs.json()["data"]}
    assert {"gpt", "claude", "embed"} <= my_ids
    assert "forbidden" not in my_ids
    assert "forbidden" in their_ids and "gpt" not in their_ids
