"""The in-process `simulated` provider answers in the caller's format, streaming or not."""

from __future__ import annotations

import pytest

from swtest.apis import CHAT, MESSAGES, Api
from swtest.client import auth_headers, request, stream
from swtest.config import APP_KEY

FORMATS = (CHAT, MESSAGES)


def check_sim_headers(resp) -> None:
    assert resp.header("x-spendwall-route") == "sim"
    assert resp.header("x-spendwall-provider") == "sim"
    assert resp.header("x-spendwall-model") == "sim-large"


@pytest.mark.parametrize("api", FORMATS, ids=lambda a: a.name)
def test_simulated_non_streaming(proxy, fake, api: Api):
    resp = request(proxy.port, "POST", api.path, api.body("sim", max_tokens=20),
                   auth_headers(APP_KEY))
    assert resp.status == 200, resp
    answer = resp.json()
    api.check_shape(answer)
    assert api.text(answer), "the simulated provider answers some text"
    usage = api.token_kinds(answer["usage"])
    assert usage["input"] > 0 and 0 < usage["output"] <= 20
    check_sim_headers(resp)
    assert resp.header("x-spendwall-cost-usd") is not None
    assert fake.requests() == [], "simulated answers never touch the network"


@pytest.mark.parametrize("api", FORMATS, ids=lambda a: a.name)
def test_simulated_streaming(proxy, fake, api: Api):
    body = api.body("sim", stream=True, max_tokens=20)
    if not api.anthropic:
        body["stream_options"] = {"include_usage": True}
    result = stream(proxy.port, api.path, body, auth_headers(APP_KEY))
    assert result.status == 200, result.raw
    assert "text/event-stream" in (result.header("content-type") or "")
    assert api.stream_text(result.events)
    assert api.stream_finished(result.events)
    usage = api.stream_usage(result.events)
    assert usage is not None, "the simulated stream reports usage"
    assert 0 < api.token_kinds(usage)["output"] <= 20
    check_sim_headers(result)
    assert fake.requests() == []
