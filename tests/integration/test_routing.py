"""Routing and fallbacks (PRODUCT.md §2 steps 4–7, the error table; config.md `routes`).

Weighted target choice, cooldown entry and exit, `fallback_on` per failure class, no retry
once bytes went out, cross-format fallbacks, the all-targets-failed error, and what a
fallback leaves on record (headers, metrics, the ledger's `attempts` and `fallbacks`).

Every test starts its own proxy (cooldown state is per process) from the standard config
plus the routes it needs. Targets fail on separate upstreams so that one target can fail
while the next one answers: `broken` (always 500), `dead` (nothing listens), `fl` (a fake
whose default scenario a test sets), `ctx` (canned context-length 400s).
"""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal
from typing import Any, Iterator

import pytest

from fake_upstream import SCENARIO_ERROR_MESSAGE, FakeUpstream, error_body
from swtest.apis import CHAT, MESSAGES, Api, expected_cost, expected_reply
from swtest.canned import CannedUpstream
from swtest.client import Response, auth_headers, request, wait_until
from swtest.config import (APP_KEY, CLAUDE, GPT, GPT_MINI, PRICE_CLAUDE, PRICE_GPT,
                           PRICE_GPT_MINI, _anthropic, _openai)
from swtest.expect import assert_error
from swtest.load import Exchange, fetch_record, run_pool, send
from swtest.metrics import Metrics, delta

CLASSES = ("rate_limited", "server_error", "timeout", "connect_error", "context_length")

OPENAI_CONTEXT_LENGTH = {"error": {
    "message": "This model's maximum context length is 128000 tokens. However, your messages "
               "resulted in 131072 tokens. Please reduce the length of the messages.",
    "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}
ANTHROPIC_CONTEXT_LENGTH = {"type": "error", "error": {
    "type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"}}


# --------------------------------------------------------------------------- upstreams


@pytest.fixture(scope="module")
def fl_fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as f:
        yield f


@pytest.fixture
def fl(fl_fake: FakeUpstream) -> Iterator[FakeUpstream]:
    """A fake whose every request (without its own x-fake-scenario) follows `scenario(fl, …)`."""
    scenario(fl_fake, None)
    fl_fake.clear()
    yield fl_fake
    scenario(fl_fake, None)


def scenario(fake: FakeUpstream, text: str | None) -> None:
    fake.server.default_scenario = text


@pytest.fixture(scope="module")
def ctx_openai() -> Iterator[CannedUpstream]:
    with CannedUpstream(400, OPENAI_CONTEXT_LENGTH) as up:
        yield up


@pytest.fixture(scope="module")
def ctx_anthropic() -> Iterator[CannedUpstream]:
    with CannedUpstream(400, ANTHROPIC_CONTEXT_LENGTH) as up:
        yield up


# --------------------------------------------------------------------------- config


def target(provider: str, model: str, weight: int | None = None) -> dict[str, Any]:
    t: dict[str, Any] = {"provider": provider, "model": model}
    if weight is not None:
        t["weight"] = weight
    return t


def route(targets: list[tuple[Any, ...]], fallbacks: list[tuple[Any, ...]] = (),
          **extra: Any) -> dict[str, Any]:
    """A route that retries nothing and never cools down unless told otherwise.

    Targets and fallbacks are (provider, model) or (provider, model, weight)."""
    r: dict[str, Any] = {"targets": [target(*t) for t in targets]}
    if fallbacks:
        r["fallbacks"] = [target(*f) for f in fallbacks]
    return {**r, "fallback_on": list(CLASSES), "retries": 0, "cooldown_after": 1000, **extra}


@pytest.fixture
def routing_proxy(launcher, fl, ctx_openai, ctx_anthropic, upstreams):
    """routing_proxy({name: route}) starts a proxy whose `app` workflow may use them too."""

    def start(routes: dict[str, Any]):
        config = launcher.config()
        failing, fl_base = (f"http://127.0.0.1:{upstreams.failing}",
                            f"http://127.0.0.1:{fl.port}")
        extra = {
            "broken-an": _anthropic(failing),
            "fl": _openai(fl_base),
            "fl-an": _anthropic(fl_base),
            "fl-slow": _openai(fl_base, first_byte_timeout="1s"),
            "fl-slow-an": _anthropic(fl_base, first_byte_timeout="1s"),
            "ctx": _openai(f"http://127.0.0.1:{ctx_openai.port}"),
            "ctx-an": _anthropic(f"http://127.0.0.1:{ctx_anthropic.port}"),
        }
        config["providers"].update(extra)
        for provider in (*extra, "broken", "dead", "dead-an", "an"):
            config["prices"].setdefault(f"{provider}/{GPT}", PRICE_GPT)
            config["prices"].setdefault(f"{provider}/{GPT_MINI}", PRICE_GPT_MINI)
            config["prices"].setdefault(f"{provider}/{CLAUDE}", PRICE_CLAUDE)
        config["routes"].update(routes)
        config["workflows"]["app"]["routes"] = [r for r in config["routes"] if r != "forbidden"]
        return launcher.start(config=config)

    return start


# --------------------------------------------------------------------------- calls


def headers_for(api: Api, scenario_: str | None = None) -> dict[str, str]:
    headers = auth_headers(APP_KEY, "x-api-key" if api.anthropic else "bearer")
    if scenario_:
        headers["x-fake-scenario"] = scenario_
    return headers


def call(proxy, api: Api, model: str, stream: bool = False, scenario_: str | None = None,
         timeout: float = 30.0) -> Exchange:
    """One request as the client saw it (streams read to their end)."""
    ex = send(proxy.port, api, api.body(model, stream=stream), headers_for(api, scenario_),
              timeout=timeout)
    assert ex.error is None, ex
    return ex


def call_raw(proxy, api: Api, model: str, scenario_: str | None = None) -> Response:
    return request(proxy.port, "POST", api.path, api.body(model), headers_for(api, scenario_),
                   timeout=30)


def record_of(proxy, request_id: str | None) -> dict[str, Any]:
    assert request_id, "x-spendwall-request-id is missing"

    def fetch():
        status, body = fetch_record(proxy.admin_port, request_id)
        return body if status == 200 else None

    return wait_until(fetch, timeout=10, interval=0.1, message=f"ledger record {request_id}")


def served_by(ex: Exchange) -> tuple[str | None, str | None]:
    return ex.header("x-spendwall-provider"), ex.header("x-spendwall-model")


def attempts(record: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(a["provider"], a["model"], a["result"]) for a in record["attempts"]]


# --------------------------------------------------------------------------- 1. weights


WEIGHTED_REQUESTS = 2000
CHI_SQUARE_P001_1DF = 10.828  # p = 0.001 for one degree of freedom


def test_weighted_targets_split_by_weight(routing_proxy, fake):
    proxy = routing_proxy({"split": route([("oa", GPT, 3), ("oa", GPT_MINI, 1)])})
    started = time.monotonic()
    results = run_pool(lambda _: send(proxy.port, CHAT, CHAT.body("split"), headers_for(CHAT)),
                       range(WEIGHTED_REQUESTS), threads=8, timeout=120)
    elapsed = time.monotonic() - started

    failed = [ex for ex in results if ex.status != 200]
    assert not failed, f"{len(failed)} requests failed, e.g. {failed[0]}"
    served = Counter(served_by(ex) for ex in results)
    assert set(served) <= {("oa", GPT), ("oa", GPT_MINI)}, served
    upstream = Counter(r.json()["model"] for r in fake.requests())
    assert upstream == Counter({GPT: served[("oa", GPT)], GPT_MINI: served[("oa", GPT_MINI)]})

    expected = {GPT: WEIGHTED_REQUESTS * 3 / 4, GPT_MINI: WEIGHTED_REQUESTS / 4}
    chi2 = sum((upstream[m] - e) ** 2 / e for m, e in expected.items())
    assert chi2 < CHI_SQUARE_P001_1DF, \
        f"3:1 weights gave {dict(upstream)} (chi-square {chi2:.2f}, {elapsed:.1f}s)"
    assert all(ex.header("x-spendwall-fallbacks") is None for ex in results)


# --------------------------------------------------------------------------- 2. cooldown


COOLDOWN = 2.0

# Where the failing target `fl` sits: alone before a fallback, or beside a healthy target in
# the weighted rotation. Either way it must be skipped while it cools down.
TOPOLOGIES = {
    "target-then-fallback": {"targets": [("fl", GPT)], "fallbacks": [("oa", GPT_MINI)]},
    "weighted-targets": {"targets": [("fl", GPT, 9), ("oa", GPT_MINI, 1)]},
}


def cooling_route(topology: str, **extra: Any) -> dict[str, Any]:
    shape = TOPOLOGIES[topology]
    return route(shape["targets"], shape.get("fallbacks", ()), **extra)


def until_fl_got(proxy, fl: FakeUpstream, count: int) -> tuple[float, float, Exchange]:
    """Requests until `fl` has received `count`; each must be answered by the other target.
    Returns (wall time, monotonic time) the last one was sent, and its exchange."""
    for _ in range(60):
        sent_wall, sent = time.time(), time.monotonic()
        ex = call(proxy, CHAT, "cool")
        assert ex.status == 200 and served_by(ex) == ("oa", GPT_MINI), ex
        if len(fl.requests()) >= count:
            assert len(fl.requests()) == count
            return sent_wall, sent, ex
    raise AssertionError(f"the weighted pick never chose `fl` {count} times in 60 requests")


def until_fl_serves(proxy, limit: int = 20) -> Exchange:
    for _ in range(limit):
        ex = call(proxy, CHAT, "cool")
        assert ex.status == 200, ex
        if served_by(ex) == ("fl", GPT):
            return ex
    raise AssertionError(f"the target was not tried again after its cooldown "
                         f"({limit} requests)")


def assert_skipped_until(proxy, fl: FakeUpstream, sent: float, sent_wall: float,
                         until: float, received: int) -> None:
    """Requests for ~`until` - 0.8 s after `sent`: none may reach `fl` (healthy by now)."""
    skipped = []
    while time.monotonic() < sent + until - 0.8 and len(skipped) < 40:
        ex = call(proxy, CHAT, "cool")
        if time.monotonic() < sent + until - 0.05:
            skipped.append(ex)
    assert skipped, "the machine is too slow to observe the cooldown"
    for ex in skipped:
        assert ex.status == 200 and served_by(ex) == ("oa", GPT_MINI), \
            f"a cooling-down target served {ex.request_id}: {ex.status} {served_by(ex)}"
        record = record_of(proxy, ex.request_id)
        assert attempts(record) == [("oa", GPT_MINI, "ok")], \
            f"a cooling-down target was tried: {record['attempts']}"
    early = [r for r in fl.requests() if r.at < sent_wall + until - 0.05]
    assert len(early) == received, \
        f"a cooling-down target got {len(early) - received} requests within its cooldown"


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_cooldown_skips_a_failing_target_then_tries_it_again(routing_proxy, fl, fake,
                                                             topology: str):
    proxy = routing_proxy({"cool": cooling_route(topology, cooldown_after=2, cooldown="2s")})
    scenario(fl, "status=500")
    # Two consecutive failures: the second one starts the cooldown.
    sent_wall, sent, ex = until_fl_got(proxy, fl, 2)
    assert ex.header("x-spendwall-fallbacks") == "1", ex
    answered = time.monotonic()

    scenario(fl, None)  # healthy again, but cooling down: it must get nothing for 2 s
    assert_skipped_until(proxy, fl, sent, sent_wall, COOLDOWN, received=2)

    time.sleep(max(0.0, answered + COOLDOWN + 0.8 - time.monotonic()))
    ex = until_fl_serves(proxy)
    assert ex.header("x-spendwall-fallbacks") is None


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_long_retry_after_moves_on_at_once_and_cools_down_that_long(routing_proxy, fl, fake,
                                                                    topology: str):
    proxy = routing_proxy({"cool": cooling_route(topology, retries=1, max_retry_wait="1s",
                                                 cooldown="30s")})
    scenario(fl, "status=429;retry-after=3")
    sent_wall, sent, ex = until_fl_got(proxy, fl, 1)
    answered = time.monotonic()
    assert answered - sent < 2.5, f"moving on took {answered - sent:.2f}s"
    record = record_of(proxy, ex.request_id)
    assert attempts(record) == [("fl", GPT, "rate_limited"), ("oa", GPT_MINI, "ok")], \
        "Retry-After 3 > max_retry_wait 1s: no same-target retry, the next target at once"

    scenario(fl, None)
    assert_skipped_until(proxy, fl, sent, sent_wall, 3.0, received=1)

    time.sleep(max(0.0, answered + 3.0 + 0.8 - time.monotonic()))
    until_fl_serves(proxy)


# --------------------------------------------------------------------------- 3. fallback_on


# class -> (first target's provider, its scenario on `fl`, status when nothing else answers)
FAILURES = {
    "server_error": ("fl", "status=500", 500),
    "rate_limited": ("fl", "status=429", 429),
    "timeout": ("fl-slow", "delay-ms=3000", 504),
    "connect_error": ("dead", None, 502),
}


@pytest.mark.parametrize("cls", FAILURES)
def test_a_failure_moves_on_only_when_its_class_is_listed(routing_proxy, fl, fake, cls: str):
    provider, fl_scenario, status = FAILURES[cls]
    others = [c for c in CLASSES if c != cls]
    proxy = routing_proxy({
        "listed": route([(provider, GPT)], [("oa", GPT_MINI)], fallback_on=[cls]),
        "unlisted": route([(provider, GPT)], [("oa", GPT_MINI)], fallback_on=others,
                          retries=1)})
    scenario(fl, fl_scenario)

    ex = call(proxy, CHAT, "listed")
    assert ex.status == 200 and served_by(ex) == ("oa", GPT_MINI), ex
    assert ex.header("x-spendwall-fallbacks") == "1"
    assert attempts(record_of(proxy, ex.request_id)) == [(provider, GPT, cls),
                                                         ("oa", GPT_MINI, "ok")]

    fake.clear()
    fl.clear()
    resp = call_raw(proxy, CHAT, "unlisted")
    assert resp.status == status, f"{cls} is not in fallback_on: {resp}"
    assert fake.requests() == [], f"{cls} is not in fallback_on, yet the fallback was tried"
    if provider.startswith("fl"):
        assert len(fl.requests()) == 1, f"{cls} is not in fallback_on, yet it was retried"
    assert resp.header("x-spendwall-fallbacks") is None


@pytest.mark.parametrize("status", [400, 422])
@pytest.mark.parametrize("api", [CHAT, MESSAGES], ids=["openai", "anthropic"])
def test_client_error_never_falls_back_and_passes_through(routing_proxy, fl, fake, api: Api,
                                                          status: int):
    first, backup = (("fl-an", CLAUDE), ("an", CLAUDE)) if api.anthropic else \
        (("fl", GPT), ("oa", GPT_MINI))
    proxy = routing_proxy({"picky": route([first], [backup], retries=2)})
    scenario(fl, f"status={status}")
    resp = call_raw(proxy, api, "picky")
    assert resp.status == status, resp
    assert resp.json() == error_body(status, SCENARIO_ERROR_MESSAGE, api.anthropic)
    assert len(fl.requests()) == 1, "a provider's client error is never retried"
    assert fake.requests() == [], "a provider's client error never falls back"
    record = record_of(proxy, resp.header("x-spendwall-request-id"))
    assert attempts(record) == [(*first, "client_error")] and record["fallbacks"] == 0, record


@pytest.mark.parametrize("api", [CHAT, MESSAGES], ids=["openai", "anthropic"])
def test_context_length_error_falls_back_when_listed(routing_proxy, fake, ctx_openai,
                                                     ctx_anthropic, api: Api):
    first, backup, canned = ((("ctx-an", CLAUDE), ("an", CLAUDE), ctx_anthropic)
                             if api.anthropic else (("ctx", GPT), ("oa", GPT_MINI), ctx_openai))
    canned.clear()
    proxy = routing_proxy({
        "long": route([first], [backup], fallback_on=["context_length"]),
        "long-unlisted": route([first], [backup],
                               fallback_on=[c for c in CLASSES if c != "context_length"])})
    before = Metrics.scrape(proxy.admin_port)
    ex = call(proxy, api, "long")
    assert ex.status == 200, ex
    api.check_shape(ex.body)
    assert api.text(ex.body) == expected_reply(backup[1])
    assert served_by(ex) == backup and ex.header("x-spendwall-fallbacks") == "1"
    record = record_of(proxy, ex.request_id)
    assert attempts(record) == [(*first, "context_length"), (*backup, "ok")], record
    after = Metrics.scrape(proxy.admin_port)
    assert delta(before, after, "spendwall_fallbacks_total", route="long",
                 from_provider=first[0], to_provider=backup[0], reason="context_length") == 1

    fake.clear()
    resp = call_raw(proxy, api, "long-unlisted")
    assert resp.status != 200, resp
    assert fake.requests() == [], "context_length is not in fallback_on, yet it fell back"
    assert len(canned.requests()) == 2


# --------------------------------------------------------------------------- 4. no late retry


@pytest.mark.parametrize("api", [CHAT, MESSAGES], ids=["openai", "anthropic"])
def test_stream_cut_after_bytes_is_neither_retried_nor_falls_back(routing_proxy, fake,
                                                                  api: Api):
    first, backup = (("an", CLAUDE), ("oa", GPT)) if api.anthropic else \
        (("oa", GPT), ("an", CLAUDE))
    proxy = routing_proxy({"cut": route([first], [backup], retries=2)})
    ex = call(proxy, api, "cut", stream=True, scenario_="stream-reset-after=3;chunk-delay-ms=20")
    assert ex.status == 200, ex
    assert ex.events, "the events before the cut reached the client"
    assert not api.stream_finished(ex.events), "the stream ends without its final event"
    assert len(fake.requests()) == 1, "bytes went to the client: no retry, no fallback"
    record = record_of(proxy, ex.request_id)
    assert len(record["attempts"]) == 1 and record["fallbacks"] == 0, record
    assert (record["attempts"][0]["provider"], record["attempts"][0]["model"]) == first


# --------------------------------------------------------------------------- 5. cross-format


CROSS = {"openai": (CHAT, [("broken", GPT)], [("an", CLAUDE)], "/v1/messages"),
         "anthropic": (MESSAGES, [("broken-an", CLAUDE)], [("oa", GPT)],
                       "/v1/chat/completions")}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("fmt", CROSS)
def test_cross_format_fallback(routing_proxy, fake, fake_failing, fmt: str, stream: bool):
    api, first, backup, backup_path = CROSS[fmt]
    proxy = routing_proxy({"cross": route(first, backup)})
    ex = call(proxy, api, "cross", stream=stream)
    assert ex.status == 200, ex
    assert ex.header("x-spendwall-fallbacks") == "1"
    assert served_by(ex) == backup[0]
    [failed] = fake_failing.requests()
    assert failed.path == ("/v1/messages" if api.anthropic else "/v1/chat/completions")
    [seen] = fake.requests()
    assert seen.path == backup_path and seen.json()["model"] == backup[0][1]
    reply = expected_reply(backup[0][1])
    if stream:
        assert "text/event-stream" in (ex.header("content-type") or "")
        assert ex.finished, "the translated stream ends properly"
        assert api.stream_text(ex.events) == reply
        if api.anthropic:
            assert ex.events[0].event == "message_start"
        else:
            assert ex.events[-1].data == "[DONE]"
            assert all(e.json()["object"] == "chat.completion.chunk"
                       for e in ex.events[:-1]), ex.events
    else:
        api.check_shape(ex.body)
        assert api.text(ex.body) == reply


# --------------------------------------------------------------------------- 6. all failed


# Logical failing targets, per client format: (provider, model).
FAILING = {
    "openai": {"500": ("broken", GPT), "connect": ("dead", GPT), "429": ("fl", GPT),
               "timeout": ("fl-slow", GPT)},
    "anthropic": {"500": ("broken-an", CLAUDE), "connect": ("dead-an", CLAUDE),
                  "429": ("fl-an", CLAUDE), "timeout": ("fl-slow-an", CLAUDE)},
}
CLASS_OF = {"500": "server_error", "connect": "connect_error", "429": "rate_limited",
            "timeout": "timeout"}
FL_SCENARIO = {"429": "status=429", "timeout": "delay-ms=3000"}

# (targets in order, status, OpenAI code, Anthropic type)
ALL_FAILED = [
    pytest.param(("500", "connect"), 500, "connect_error", "api_error", id="5xx-then-connect"),
    pytest.param(("429", "connect"), 429, "connect_error", "rate_limit_error",
                 id="429-then-connect"),
    pytest.param(("500", "429"), 429, "rate_limited", "rate_limit_error", id="5xx-then-429"),
    pytest.param(("429", "500"), 500, "server_error", "api_error", id="429-then-5xx"),
    pytest.param(("connect", "timeout"), 504, "timeout", "api_error", id="connect-then-timeout"),
    pytest.param(("timeout", "connect"), 502, "connect_error", "api_error",
                 id="timeout-then-connect"),
]


@pytest.mark.parametrize("order,status,code,anthropic_type", ALL_FAILED)
@pytest.mark.parametrize("fmt", ["openai", "anthropic"])
def test_all_targets_failed_error(routing_proxy, fl, fake, fmt: str, order, status: int,
                                  code: str, anthropic_type: str):
    api = MESSAGES if fmt == "anthropic" else CHAT
    first, second = (FAILING[fmt][o] for o in order)
    proxy = routing_proxy({"doomed": route([first], [second])})
    scenario(fl, next((FL_SCENARIO[o] for o in order if o in FL_SCENARIO), None))
    resp = call_raw(proxy, api, "doomed")
    error = assert_error(resp, api.anthropic, status, ("upstream_error", code), anthropic_type)
    message = error["message"]
    for name, failing in zip(order, (first, second)):
        assert failing[0] in message and CLASS_OF[name] in message, \
            f"the message names each target tried and its failure class: {message!r}"
    assert fake.requests() == []
    record = record_of(proxy, resp.header("x-spendwall-request-id"))
    assert attempts(record) == [(*first, CLASS_OF[order[0]]), (*second, CLASS_OF[order[1]])], \
        record
    assert record["status"] == status and record["fallbacks"] == 1, record


# --------------------------------------------------------------------------- 7. on record


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_fallback_on_record(routing_proxy, fake, fake_failing, stream: bool):
    proxy = routing_proxy({"rec": route([("broken", GPT)], [("oa", GPT_MINI)], retries=1)})
    before = Metrics.scrape(proxy.admin_port)
    ex = call(proxy, CHAT, "rec", stream=stream)
    assert ex.status == 200 and ex.delivered, ex
    assert ex.header("x-spendwall-fallbacks") == "1"
    assert ex.header("x-spendwall-route") == "rec"
    assert served_by(ex) == ("oa", GPT_MINI)
    assert len(fake_failing.requests()) == 2, "retries: 1 → two attempts on the first target"

    record = record_of(proxy, ex.request_id)
    assert attempts(record) == [("broken", GPT, "server_error"), ("broken", GPT, "server_error"),
                                ("oa", GPT_MINI, "ok")], record
    assert [a["status"] for a in record["attempts"]] == [500, 500, 200], record
    assert all(isinstance(a["ms"], (int, float)) and a["ms"] >= 0 for a in record["attempts"])
    assert record["fallbacks"] == 1 and record["status"] == 200, record
    assert (record["provider"], record["model"], record["route"]) == ("oa", GPT_MINI, "rec")

    [answered] = fake.requests()
    cost = expected_cost(CHAT.token_kinds(answered.usage), PRICE_GPT_MINI)
    assert cost != expected_cost(CHAT.token_kinds(answered.usage), PRICE_GPT)
    assert Decimal(str(record["cost_usd"])) == cost, "metered at the answering target's price"
    if not stream:
        assert Decimal(ex.header("x-spendwall-cost-usd")) == cost

    after = Metrics.scrape(proxy.admin_port)
    assert delta(before, after, "spendwall_fallbacks_total", workflow="app", route="rec",
                 from_provider="broken", from_model=GPT, to_provider="oa", to_model=GPT_MINI,
                 reason="server_error") == 1
    assert delta(before, after, "spendwall_fallbacks_total") == 1
    assert delta(before, after, "spendwall_upstream_attempts_total", provider="broken",
                 model=GPT, result="server_error") == 2
    assert delta(before, after, "spendwall_upstream_attempts_total", provider="oa",
                 model=GPT_MINI, result="ok") == 1
    assert delta(before, after, "spendwall_upstream_attempts_total") == 3


def test_two_fallbacks_count_each_move_with_its_reason(routing_proxy, fake):
    proxy = routing_proxy({"chain": route([("broken", GPT)], [("dead", GPT), ("oa", GPT_MINI)])})
    before = Metrics.scrape(proxy.admin_port)
    ex = call(proxy, CHAT, "chain")
    assert ex.status == 200 and served_by(ex) == ("oa", GPT_MINI), ex
    assert ex.header("x-spendwall-fallbacks") == "2"
    record = record_of(proxy, ex.request_id)
    assert attempts(record) == [("broken", GPT, "server_error"), ("dead", GPT, "connect_error"),
                                ("oa", GPT_MINI, "ok")], record
    assert record["fallbacks"] == 2, record
    after = Metrics.scrape(proxy.admin_port)
    assert delta(before, after, "spendwall_fallbacks_total", route="chain",
                 from_provider="broken", to_provider="dead", reason="server_error") == 1
    assert delta(before, after, "spendwall_fallbacks_total", route="chain",
                 from_provider="dead", to_provider="oa", reason="connect_error") == 1
    assert delta(before, after, "spendwall_upstream_attempts_total", provider="dead",
                 result="connect_error") == 1
