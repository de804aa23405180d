"""Hostile upstreams (PRODUCT.md "HTTP hygiene"): every misbehaviour is classified, metered and
survived.

Each fault is injected by the fake upstream (`x-fake-scenario`). For each the client gets its
own API's error (or a stream that simply ends), the ledger record names the failure class of
every attempt, `spendwall_upstream_attempts_total` counts the same classes, and the proxy keeps
serving. test_upstream_failures.py covers the client-facing answers of the older fault modes;
here the point is classification and metering.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from fake_upstream import FakeUpstream
from swtest.apis import CHAT, MESSAGES, Api
from swtest.certs import Certs
from swtest.client import auth_headers, request, stream
from swtest.config import APP_KEY, GPT, NO_COOLDOWN, PRICE_GPT, Upstreams
from swtest.load import fetch_record
from swtest.metrics import Metrics, delta
from swtest.process import Spendwall

ATTEMPTS = "spendwall_upstream_attempts_total"
# No resolver answers for the reserved `.invalid` top-level domain (RFC 6761).
UNRESOLVABLE_HOST = "spendwall-upstream.invalid"


@dataclass(frozen=True)
class Fault:
    id: str
    scenario: str
    classes: tuple[str, ...]       # acceptable failure classes of each attempt
    api: Api = CHAT
    route: str = "faulty"
    stream: bool = False
    provider: str = "faulty"
    # No answer began (no 200 head with a model answer): nothing can have been billed.
    nothing_billed: bool = True


SERVER = ("server_error",)
SERVER_OR_CONNECT = ("server_error", "connect_error")

FAULTS = [
    Fault("garbage-bytes", "garbage-response", SERVER),
    Fault("not-json-body", "bad-json", SERVER),
    Fault("wrong-content-type", "html", SERVER),
    Fault("wrong-content-type-for-a-stream", "html", SERVER, stream=True),
    Fault("wrong-content-type-anthropic", "html", SERVER, api=MESSAGES,
          route="faulty-claude", provider="faulty-an"),
    Fault("closed-before-head", "close-before-head", SERVER_OR_CONNECT),
    Fault("reset-before-head", "reset-before-head", SERVER_OR_CONNECT),
    Fault("reset-mid-head", "reset-mid-head", SERVER_OR_CONNECT),
    Fault("reset-mid-body", "reset-mid-body", SERVER_OR_CONNECT, nothing_billed=False),
    Fault("reset-mid-body-anthropic", "reset-mid-body", SERVER_OR_CONNECT, api=MESSAGES,
          route="faulty-claude", provider="faulty-an", nothing_billed=False),
    Fault("oversized-body", "oversized=300000", SERVER, route="limited", provider="limited",
          nothing_billed=False),
]


def call(port: int, api: Api, route: str, scenario: str, stream_: bool):
    headers = {**auth_headers(APP_KEY), "x-fake-scenario": scenario}
    body = api.body(route, stream=stream_)
    if stream_:
        return stream(port, api.path, body, headers, timeout=30)
    return request(port, "POST", api.path, body, headers, timeout=30)


def record_of(proxy: Spendwall, resp) -> dict[str, Any]:
    request_id = resp.header("x-spendwall-request-id")
    assert request_id, f"no request id on {resp!r}"
    deadline = time.monotonic() + 10
    while True:
        status, record = fetch_record(proxy.admin_port, request_id)
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200, f"no ledger record for {request_id}: {record}"
    return record


def attempt_classes(record: dict[str, Any]) -> list[str]:
    return [a["result"] for a in record["attempts"]]


def assert_classified(before: Metrics, after: Metrics, record: dict[str, Any], provider: str,
                      classes: tuple[str, ...]) -> None:
    results = attempt_classes(record)
    assert results, f"a failed request without attempts: {record}"
    assert all(r in classes for r in results), f"attempts {record['attempts']}, want {classes}"
    for result in set(results):
        counted = delta(before, after, ATTEMPTS, provider=provider, result=result)
        assert counted == results.count(result), \
            f"{ATTEMPTS}{{provider={provider},result={result}}} grew by {counted}, " \
            f"the record lists {results.count(result)}"


def assert_still_serving(port: int) -> None:
    resp = request(port, "POST", CHAT.path, CHAT.body("gpt"), auth_headers(APP_KEY))
    assert resp.status == 200, f"the proxy stopped serving after the fault: {resp!r}"


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_upstream_fault_is_classified_metered_and_survived(proxy, fake, fault: Fault):
    before = Metrics.scrape(proxy.admin_port)
    resp = call(proxy.port, fault.api, fault.route, fault.scenario, fault.stream)
    assert resp.status == 502, resp
    body = resp.json()
    if fault.api.anthropic:
        assert body["type"] == "error" and body["error"]["type"] == "api_error", body
    else:
        assert body["error"]["type"] == "upstream_error", body
        assert body["error"]["code"] in fault.classes, body
    record = record_of(proxy, resp)
    after = Metrics.scrape(proxy.admin_port)
    assert record["status"] == 502 and record["stream"] is fault.stream, record
    if fault.nothing_billed:
        assert record["cost_usd"] == 0, "nothing was answered, nothing may be charged"
    assert_classified(before, after, record, fault.provider, fault.classes)
    # A pooled connection closed before the head may be replayed once on a fresh one, so the
    # fake can see one request more than the attempts.
    assert len(fake.requests()) >= len(record["attempts"]), "an attempt never reached the fake"
    assert_still_serving(proxy.port)


@pytest.mark.parametrize("api,route,provider", [(CHAT, "faulty", "faulty"),
                                                (MESSAGES, "faulty-claude", "faulty-an")],
                         ids=["chat", "messages"])
def test_reset_mid_stream_is_metered_as_estimated(proxy, fake, api: Api, route: str,
                                                  provider: str):
    result = call(proxy.port, api, route, "words=30;stream-reset-after=6", True)
    assert result.status == 200 and result.events and not api.stream_finished(result.events)
    record = record_of(proxy, result)
    assert record["stream"] is True and record["usage_source"] == "estimated", record
    assert record["tokens"]["input"] > 0 and record["tokens"]["output"] > 0, \
        "the relayed part of a cut stream is metered"
    assert record["cost_usd"] > 0, record
    assert len(fake.requests()) == 1, "a stream that already sent bytes is never retried"
    assert_still_serving(proxy.port)


def test_oversized_stream_event_ends_the_stream_with_bounded_memory(proxy, fake):
    """An SSE event of 3 MB (the proxy frames events of up to 1 MiB): not buffered whole (the
    stream ends at the bound), the attempt is a server_error and the relayed part is
    estimated. (No RSS bound here: under ASan freed buffers sit in quarantine, so RSS tracks
    the bytes that flowed, not what is held.)"""
    before = Metrics.scrape(proxy.admin_port)
    result = call(proxy.port, CHAT, "faulty", "words=4;piece-bytes=3000000", True)
    assert result.status == 200 and not CHAT.stream_finished(result.events), result.status
    assert sum(len(e.data) for e in result.events) < 1 << 20, "an oversized event was relayed"
    record = record_of(proxy, result)
    assert record["usage_source"] == "estimated", record
    assert_classified(before, Metrics.scrape(proxy.admin_port), record, "faulty", SERVER)
    assert_still_serving(proxy.port)


def test_slow_trickle_within_the_deadlines_is_served(proxy, fake):
    started = time.monotonic()
    resp = call(proxy.port, CHAT, "faulty", "trickle-ms=5", False)
    assert resp.status == 200, resp
    assert time.monotonic() - started > 0.3, "the body was not trickled"
    record = record_of(proxy, resp)
    assert attempt_classes(record) == ["ok"] and record["usage_source"] == "reported", record


# --------------------------------------------------------------------------- a dedicated proxy
# Short request_timeout, plus providers that fail before any HTTP: an unresolvable host name
# and a certificate (signed by the trusted CA) for another name.

REQUEST_TIMEOUT_S = 3


@pytest.fixture(scope="module")
def fake_wrong_name(certs: Certs) -> Iterator[FakeUpstream]:
    with FakeUpstream(tls_cert=str(certs.wrong_name_cert),
                      tls_key=str(certs.wrong_name_key)) as f:
        yield f


@pytest.fixture(scope="module")
def hostile_proxy(spendwall_bin: str, tmp_path_factory: pytest.TempPathFactory, certs: Certs,
                  proxy_env: dict[str, str], upstreams: Upstreams,
                  fake_wrong_name: FakeUpstream) -> Iterator[Spendwall]:
    from conftest import ProxyLauncher
    launcher = ProxyLauncher(spendwall_bin, Path(tmp_path_factory.mktemp("hostile")), certs,
                             proxy_env, upstreams)
    openai = {"kind": "openai", "api_key": "${SW_TEST_OPENAI_KEY}", "connect_timeout": "2s"}
    providers = {
        "wrong-name": {**openai, "base_url": f"https://127.0.0.1:{fake_wrong_name.port}/v1",
                       "ca_file": "ca.pem"},
        "nxdomain": {**openai, "base_url": f"http://{UNRESOLVABLE_HOST}:{upstreams.plain}/v1"},
    }
    routes = {name: {"targets": [{"provider": name, "model": GPT}], **NO_COOLDOWN}
              for name in providers}
    config = launcher.config({
        "server": {"request_timeout": f"{REQUEST_TIMEOUT_S}s"},
        "providers": providers, "routes": routes,
        "prices": {f"{name}/{GPT}": PRICE_GPT for name in providers}})
    config["workflows"]["app"]["routes"] += list(routes)
    proxy = launcher.start(config=config)
    yield proxy
    died = launcher.stop_all()
    assert not died, f"spendwall died (exit {died[0][1]}):\n{died[0][0].output()}"


@pytest.mark.parametrize("route,classes", [("wrong-name", SERVER_OR_CONNECT),
                                           ("untrusted", SERVER_OR_CONNECT),
                                           ("nxdomain", ("connect_error",))],
                         ids=["tls-wrong-name", "tls-untrusted-ca", "dns-failure"])
def test_upstream_refused_before_http_fails_closed(hostile_proxy, fake_wrong_name, route: str,
                                                   classes: tuple[str, ...]):
    before = Metrics.scrape(hostile_proxy.admin_port)
    resp = call(hostile_proxy.port, CHAT, route, "", False)
    assert resp.status == 502, resp
    assert resp.json()["error"]["code"] in classes, resp
    record = record_of(hostile_proxy, resp)
    assert record["status"] == 502 and record["cost_usd"] == 0, record
    assert_classified(before, Metrics.scrape(hostile_proxy.admin_port), record, route, classes)
    assert fake_wrong_name.requests() == [], "a request went over an unverified connection"
    assert_still_serving(hostile_proxy.port)


def test_never_ending_stream_is_cut_at_request_timeout(hostile_proxy, fake):
    started = time.monotonic()
    result = call(hostile_proxy.port, CHAT, "gpt", "endless;chunk-delay-ms=5", True)
    elapsed = time.monotonic() - started
    assert result.status == 200 and len(result.events) > 10, result.status
    assert not CHAT.stream_finished(result.events)
    assert elapsed < REQUEST_TIMEOUT_S + 3, f"an endless stream ran {elapsed:.1f}s"
    record = record_of(hostile_proxy, result)
    assert record["usage_source"] == "estimated" and record["tokens"]["output"] > 0, record
    assert_still_serving(hostile_proxy.port)


def test_body_trickled_past_request_timeout_becomes_504(hostile_proxy, fake):
    before = Metrics.scrape(hostile_proxy.admin_port)
    started = time.monotonic()
    resp = call(hostile_proxy.port, CHAT, "gpt", "trickle-ms=100", False)
    elapsed = time.monotonic() - started
    assert elapsed < REQUEST_TIMEOUT_S + 3, f"a trickled body held the request {elapsed:.1f}s"
    assert resp.status == 504, resp
    record = record_of(hostile_proxy, resp)
    assert_classified(before, Metrics.scrape(hostile_proxy.admin_port), record, "oa",
                      ("timeout",))
    assert_still_serving(hostile_proxy.port)
