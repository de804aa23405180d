"""Every metered endpoint, non-streaming and streaming, to a fake upstream over HTTP and TLS."""

from __future__ import annotations

from decimal import Decimal

import pytest

from swtest.apis import CHAT, EMBEDDINGS, METERED, STREAMING, Api, expected_cost, expected_reply
from swtest.client import auth_headers, request, stream
from swtest.config import (APP_KEY, CLAUDE, EMBED, GPT, GPT_MINI, PRICE_CLAUDE, PRICE_EMBED,
                           PRICE_GPT, STAR_KEY)

TRANSPORTS = ("http", "tls")


def target_model(api: Api) -> str:
    return CLAUDE if api.anthropic else EMBED if api is EMBEDDINGS else GPT


def target_price(api: Api) -> dict[str, Decimal]:
    return PRICE_CLAUDE if api.anthropic else PRICE_EMBED if api is EMBEDDINGS else PRICE_GPT


def route(api: Api, transport: str) -> str:
    return api.route + ("-tls" if transport == "tls" else "")


@pytest.fixture
def upstream_for(fake, fake_tls):
    return lambda transport: fake_tls if transport == "tls" else fake


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("api", METERED, ids=lambda a: a.name)
def test_non_streaming(proxy, upstream_for, api: Api, transport: str):
    upstream = upstream_for(transport)
    resp = request(proxy.port, "POST", api.path, api.body(route(api, transport)),
                   auth_headers(APP_KEY))

    assert resp.status == 200, resp
    assert (resp.header("content-type") or "").startswith("application/json")
    answer = resp.json()
    api.check_shape(answer)
    if api is not EMBEDDINGS:
        assert api.text(answer) == expected_reply(target_model(api))
    [seen] = upstream.requests(api.path)
    assert seen.method == "POST"
    assert seen.tls == (transport == "tls")
    assert seen.json()["model"] == target_model(api), "model not rewritten to the target's"
    assert not seen.json().get("stream")
    assert answer["usage"] == seen.usage, "usage must reach the client unchanged"
    expected = expected_cost(api.token_kinds(seen.usage), target_price(api))
    assert Decimal(resp.header("x-spendwall-cost-usd")) == expected


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("api", STREAMING, ids=lambda a: a.name)
def test_streaming(proxy, upstream_for, api: Api, transport: str):
    upstream = upstream_for(transport)
    result = stream(proxy.port, api.path, api.body(route(api, transport), stream=True),
                    auth_headers(APP_KEY))

    assert result.status == 200, result.raw
    assert "text/event-stream" in (result.header("content-type") or "")
    assert result.complete, "the stream did not end with proper framing"
    assert api.stream_text(result.events) == expected_reply(target_model(api))
    assert api.stream_finished(result.events), [e.data for e in result.events[-3:]]
    [seen] = upstream.requests(api.path)
    assert seen.tls == (transport == "tls")
    assert seen.json()["model"] == target_model(api)
    assert seen.json()["stream"] is True


@pytest.mark.parametrize("model,upstream_model", [("oa/" + GPT_MINI, GPT_MINI), ("gpt", GPT)])
def test_star_workflow_may_use_any_route_and_priced_provider_model(proxy, fake, model: str,
                                                                   upstream_model: str):
    resp = request(proxy.port, "POST", CHAT.path, CHAT.body(model), auth_headers(STAR_KEY))
    assert resp.status == 200, resp
    assert resp.header("x-spendwall-provider") == "oa"
    assert resp.header("x-spendwall-model") == upstream_model
    [seen] = fake.requests()
    assert seen.json()["model"] == upstream_model


def test_query_string_does_not_change_the_endpoint(proxy, fake):
    resp = request(proxy.port, "POST", CHAT.path + "?trace=1", CHAT.body(CHAT.route),
                   auth_headers(APP_KEY))
    assert resp.status == 200, resp
    [seen] = fake.requests()
    assert seen.path.split("?")[0] == CHAT.path
