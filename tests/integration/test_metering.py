"""What is counted: ledger records and metric deltas (PRODUCT.md §2 "What is counted")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from swtest.apis import CHAT, METERED, STREAMING, Api, expected_cost
from swtest.client import auth_headers, request, stream, wait_until
from swtest.config import APP_KEY, GPT, OUTSIDER_KEY, PRICE_GPT, UNKNOWN_KEY
from swtest.metrics import Metrics, delta

REQUESTS = "spendwall_requests_total"


def ledger_record(proxy, request_id: str, timeout: float = 5.0) -> dict:
    """The ledger record of a request, once written."""
    def fetch():
        resp = request(proxy.admin_port, "GET", f"/admin/requests/{request_id}")
        return resp.json() if resp.status == 200 else None
    return wait_until(fetch, timeout, message=f"ledger record {request_id}")


TAGGED = {"x-fake-scenario": "cached=4;reasoning=3", "x-spendwall-tags": "feature=search, team = core"}


def chat_with_token_details(proxy, fake):
    """A chat request whose usage has every OpenAI token kind; returns (response, kinds, cost)."""
    resp = request(proxy.port, "POST", CHAT.path, CHAT.body("gpt"),
                   {**auth_headers(APP_KEY), **TAGGED})
    assert resp.status == 200, resp
    [seen] = fake.requests()
    kinds = CHAT.token_kinds(seen.usage)
    return resp, kinds, expected_cost(kinds, PRICE_GPT)


def test_ledger_record_matches_the_exchange(proxy, fake):
    resp, kinds, cost = chat_with_token_details(proxy, fake)
    assert Decimal(resp.header("x-spendwall-cost-usd")) == cost

    record = ledger_record(proxy, resp.header("x-spendwall-request-id"))
    assert record["workflow"] == "app" and record["route"] == "gpt"
    assert record["provider"] == "oa" and record["model"] == GPT
    assert record["endpoint"] == "/v1/chat/completions" and record["stream"] is False
    assert record["status"] == 200
    assert record["tokens"] == kinds
    assert record["usage_source"] == "reported"
    assert Decimal(str(record["cost_usd"])) == cost
    assert record["tags"] == {"feature": "search", "team": "core"}
    assert [a["result"] for a in record["attempts"]] == ["ok"]
    assert record["fallbacks"] == 0 and record["budget_action"] == "none"


def test_counters_agree_with_the_exchange(proxy, fake):
    before = Metrics.scrape(proxy.admin_port)
    _, kinds, cost = chat_with_token_details(proxy, fake)
    after = Metrics.scrape(proxy.admin_port)
    labels = dict(workflow="app", route="gpt", provider="oa", model=GPT)
    assert delta(before, after, REQUESTS, endpoint=CHAT.path, code="200", **labels) == 1
    assert delta(before, after, "spendwall_cost_usd_total", **labels) == pytest.approx(
        float(cost), abs=1e-12)
    for kind, tokens in kinds.items():
        assert delta(before, after, "spendwall_tokens_total", workflow="app", provider="oa",
                     model=GPT, type=kind) == tokens, kind


def test_fallback_is_on_the_record(proxy):
    resp = request(proxy.port, "POST", CHAT.path, CHAT.body("failover"), auth_headers(APP_KEY))
    assert resp.status == 200, resp
    record = ledger_record(proxy, resp.header("x-spendwall-request-id"))
    assert record["fallbacks"] == 1
    assert [(a["provider"], a["result"]) for a in record["attempts"]] == \
        [("broken", "server_error"), ("broken", "server_error"), ("oa", "ok")]


@pytest.mark.parametrize("api", METERED, ids=lambda a: a.name)
def test_every_metered_endpoint_writes_a_record(proxy, api: Api):
    resp = request(proxy.port, "POST", api.path, api.body(api.route), auth_headers(APP_KEY))
    assert resp.status == 200, resp
    record = ledger_record(proxy, resp.header("x-spendwall-request-id"))
    assert record["endpoint"] == api.path
    assert Decimal(str(record["cost_usd"])) == Decimal(resp.header("x-spendwall-cost-usd"))


@pytest.mark.parametrize("api", STREAMING, ids=lambda a: a.name)
def test_streamed_usage_is_metered(proxy, fake, api: Api):
    result = stream(proxy.port, api.path, api.body(api.route, stream=True),
                    auth_headers(APP_KEY))
    assert result.status == 200
    [seen] = fake.requests()
    record = ledger_record(proxy, result.header("x-spendwall-request-id"))
    assert record["stream"] is True and record["usage_source"] == "reported"
    assert record["tokens"] == api.token_kinds(seen.usage)


def cut_stream(proxy):
    result = stream(proxy.port, CHAT.path, CHAT.body("faulty", stream=True),
                    {**auth_headers(APP_KEY), "x-fake-scenario": "stream-reset-after=5"})
    assert result.status == 200
    return result


def test_cut_stream_is_recorded_as_estimated(proxy, fake):
    result = cut_stream(proxy)
    record = ledger_record(proxy, result.header("x-spendwall-request-id"))
    assert record["usage_source"] == "estimated"
    assert record["tokens"]["output"] > 0, "the relayed tokens are estimated"


def test_cut_stream_is_counted_as_estimated(proxy, fake):
    before = Metrics.scrape(proxy.admin_port)
    cut_stream(proxy)

    def estimated() -> float:
        return delta(before, Metrics.scrape(proxy.admin_port), "spendwall_usage_estimated_total",
                     workflow="app", provider="faulty", model=GPT)
    assert wait_until(estimated, timeout=5, message="the estimated-usage counter") == 1


def test_missing_usage_is_estimated(proxy):
    resp = request(proxy.port, "POST", CHAT.path, CHAT.body("gpt"),
                   {**auth_headers(APP_KEY), "x-fake-scenario": "no-usage"})
    assert resp.status == 200, resp
    record = ledger_record(proxy, resp.header("x-spendwall-request-id"))
    assert record["usage_source"] == "estimated"


def test_unauthenticated_requests_have_their_own_counter(proxy):
    before = Metrics.scrape(proxy.admin_port)
    assert request(proxy.port, "POST", CHAT.path, CHAT.body("gpt"),
                   auth_headers(UNKNOWN_KEY)).status == 401
    assert request(proxy.port, "POST", "/v1/elsewhere", b"{}").status == 404
    after = Metrics.scrape(proxy.admin_port)
    unauthenticated = "spendwall_unauthenticated_requests_total"
    assert delta(before, after, unauthenticated, endpoint=CHAT.path) == 1
    assert delta(before, after, unauthenticated, endpoint="other") == 1
    assert delta(before, after, REQUESTS) == 0, "no workflow, no request sample"


def test_rejected_requests_are_counted_with_the_labels_resolved_so_far(proxy):
    before = Metrics.scrape(proxy.admin_port)
    assert request(proxy.port, "POST", CHAT.path, b"{not json",
                   auth_headers(APP_KEY)).status == 400
    assert request(proxy.port, "POST", CHAT.path, CHAT.body("forbidden"),
                   auth_headers(APP_KEY)).status == 403
    after = Metrics.scrape(proxy.admin_port)
    assert delta(before, after, REQUESTS, workflow="app", route="", provider="", model="",
                 endpoint=CHAT.path, code="400") == 1
    assert delta(before, after, REQUESTS, workflow="app", route="forbidden", provider="",
                 model="", endpoint=CHAT.path, code="403") == 1


def test_non_metered_endpoints_write_no_record(proxy):
    before = Metrics.scrape(proxy.admin_port)
    assert request(proxy.port, "GET", "/v1/models", headers=auth_headers(OUTSIDER_KEY)).status \
        == 200
    after = Metrics.scrape(proxy.admin_port)
    assert delta(before, after, REQUESTS) == 0
    assert delta(before, after, "spendwall_ledger_records_total") == 0


def test_unknown_request_id_is_404(proxy):
    resp = request(proxy.admin_port, "GET", "/admin/requests/req_does_not_exist")
    assert resp.status == 404
    assert "error" in resp.json()
