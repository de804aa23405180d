"""Budget reservations under faults, and session spend across a restart (PRODUCT.md §5).

A reservation is taken before a request goes upstream and must settle on every path. Under
concurrent load, with upstream resets before the head and mid-stream, garbage answers,
first-byte timeouts and clients that hang up mid-stream or before the head, the workflow's
reserved amount must come back to exactly 0, no request may be refused while the budget
has room, and the budget must then admit what still fits. Session caps are rebuilt from the
ledger at start, so a restart does not hand a session a fresh cap.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from decimal import Decimal
from typing import Any

from swtest.apis import CHAT
from swtest.client import (SseStream, RawConnection, auth_headers, raw_request, request,
                           wait_until)
from swtest.config import key_hash, to_yaml
from swtest.load import Clients, Exchange, send
from swtest.secrets import secret

STORM_KEY = secret("sw-test-key-storm-0006")
WORKFLOW = "storm"
MAX_TOKENS = 40
CLIENTS = 10
STORM_SECONDS = 4.0

# (name, stream, x-fake-scenario, route, how the client behaves)
FAULTS: list[tuple[str, bool, str, str, str]] = [
    ("ok", False, "words=5", "gpt", "read"),
    ("ok-stream", True, "words=8;chunk-delay-ms=5", "gpt", "read"),
    ("reset-mid-stream", True, "words=20;chunk-delay-ms=5;stream-reset-after=3", "gpt", "read"),
    ("reset-before-head", False, "close-before-head", "gpt", "read"),
    ("garbage", False, "garbage-response", "gpt", "read"),
    ("first-byte-timeout", False, "delay-ms=1500", "slow", "read"),
    ("client-gone-mid-stream", True, "words=40;chunk-delay-ms=40", "gpt", "hang-up-mid-stream"),
    ("client-gone-before-head", False, "delay-ms=400", "gpt", "hang-up-before-head"),
]


def storm_config(launcher, tmp_path, daily: Decimal) -> dict[str, Any]:
    return launcher.config({
        "ledger": {"backend": "sqlite", "path": str(tmp_path / "ledger.db")},
        "workflows": {WORKFLOW: {
            "owner": "storm-team", "keys": [key_hash(STORM_KEY)], "routes": ["gpt", "slow"],
            "budget": {"daily": daily, "on_exceeded": "block"},
        }},
    })


def daily_window(proxy, workflow_name: str = WORKFLOW) -> dict[str, Any]:
    resp = request(proxy.admin_port, "GET", "/admin/budgets")
    assert resp.status == 200, resp
    [workflow] = [w for w in resp.json()["workflows"] if w["workflow"] == workflow_name]
    [window] = [w for w in workflow["windows"] if w["window"] == "daily"]
    return window


def chat_body(route: str, stream: bool) -> dict[str, Any]:
    return CHAT.body(route, stream=stream, max_tokens=MAX_TOKENS)


def hang_up_mid_stream(port: int, headers: dict[str, str]) -> Exchange:
    out = Exchange()
    with SseStream(port, CHAT.path, chat_body("gpt", True), headers, timeout=10) as s:
        out.status = s.status
        for _ in itertools.islice(s.events(), 2):
            pass
    return out  # closed with the stream half sent


def send_raw(port: int, headers: dict[str, str],
             chat: dict[str, Any] | None = None) -> RawConnection:
    """A non-streaming chat sent on a raw connection whose answer is left unread."""
    body = json.dumps(chat or chat_body("gpt", False)).encode()
    wire = raw_request("POST", CHAT.path, [("host", "127.0.0.1"), *headers.items(),
                                           ("content-type", "application/json"),
                                           ("content-length", str(len(body)))], body)
    conn = RawConnection(port, timeout=10)
    conn.send(wire)
    return conn


def hang_up_before_head(port: int, headers: dict[str, str]) -> Exchange:
    with send_raw(port, headers):
        time.sleep(0.1)  # the upstream answers after 400 ms: this client is gone by then
    return Exchange()


def one_faulty_request(port: int, index: int) -> tuple[str, Exchange]:
    name, stream, scenario, route, behaviour = FAULTS[random.Random(index).randrange(len(FAULTS))]
    headers = {**auth_headers(STORM_KEY), "x-fake-scenario": scenario}
    if behaviour == "hang-up-mid-stream":
        return name, hang_up_mid_stream(port, headers)
    if behaviour == "hang-up-before-head":
        return name, hang_up_before_head(port, headers)
    return name, send(port, CHAT, chat_body(route, stream), headers, timeout=20)


def reservation_of(proxy, workflow: str, key: str, chat: dict[str, Any]) -> Decimal:
    """The reservation `chat` takes, read in /admin/budgets while the request is in flight."""
    headers = {**auth_headers(key), "x-fake-scenario": "delay-ms=1500"}
    with send_raw(proxy.port, headers, chat) as conn:
        reserved = wait_until(
            lambda: Decimal(str(daily_window(proxy, workflow)["reserved_usd"])) or None,
            timeout=5, message="the in-flight reservation")
        assert conn.read_response().status == 200
    wait_until(lambda: daily_window(proxy, workflow)["reserved_usd"] == 0, timeout=10,
               message="the reservation settled")
    return reserved


def test_fault_storm_leaves_nothing_reserved_and_refuses_nothing_that_fits(start_proxy, launcher,
                                                                           tmp_path):
    config = storm_config(launcher, tmp_path, Decimal("100"))
    proxy = start_proxy(config=config)
    reservation = reservation_of(proxy, WORKFLOW, STORM_KEY, chat_body("gpt", False))
    assert reservation > 0

    clients = Clients(lambda i: one_faulty_request(proxy.port, i), CLIENTS).start()
    time.sleep(STORM_SECONDS)
    results = clients.stop(timeout=60)
    assert not clients.errors, clients.errors[:3]
    seen = {name for name, _ in results}
    assert seen == {name for name, *_ in FAULTS}, f"not every fault ran: {seen}"
    statuses = {ex.status for _, ex in results if ex.status is not None}
    assert 429 not in statuses, "a request was refused while the budget had room"
    assert {200, 502, 504} <= statuses, statuses

    window = wait_until(lambda: (w := daily_window(proxy))["reserved_usd"] == 0 and w,
                        timeout=15, message="every reservation settled")
    assert window["reserved_usd"] == 0
    spent = Decimal(str(window["spent_usd"]))
    assert spent > 0

    # Room for exactly one more reservation (and a half): it must be admitted, and the one
    # after it, which no longer fits, refused.
    config["workflows"][WORKFLOW]["budget"]["daily"] = spent + reservation * Decimal("1.5")
    proxy.config.write_text(to_yaml(config))
    resp = request(proxy.admin_port, "POST", "/admin/reload", timeout=30)
    assert resp.status == 200, resp
    headers = {**auth_headers(STORM_KEY), "x-fake-scenario": "delay-ms=1500"}
    with send_raw(proxy.port, headers) as first:
        wait_until(lambda: daily_window(proxy)["reserved_usd"] != 0, timeout=5,
                   message="the first reservation")
        second = request(proxy.port, "POST", CHAT.path, chat_body("gpt", False),
                         auth_headers(STORM_KEY))
        assert second.status == 429, second
        assert first.read_response().status == 200
    wait_until(lambda: daily_window(proxy)["reserved_usd"] == 0, timeout=10,
               message="the last reservation settled")


SESSION_KEY = secret("sw-test-key-sessions-0007")


def sessions_config(launcher, tmp_path, session_cap: Decimal) -> dict[str, Any]:
    return launcher.config({
        "ledger": {"backend": "sqlite", "path": str(tmp_path / "ledger.db")},
        "workflows": {"agents": {
            "owner": "agents-team", "keys": [key_hash(SESSION_KEY)], "routes": ["gpt"],
            "budget": {"daily": 100, "session_cap": session_cap},
        }},
    })


def test_session_spend_survives_a_restart(start_proxy, launcher, tmp_path):
    chat = CHAT.body("gpt", max_tokens=MAX_TOKENS)
    in_session = {**auth_headers(SESSION_KEY), "x-spendwall-session": "run-7"}

    def session(p, headers: dict[str, str] = in_session) -> dict[str, Any]:
        resp = request(p.port, "GET", "/v1/budget", headers=headers)
        assert resp.status == 200, resp
        return resp.json()["session"]

    proxy = start_proxy(config=sessions_config(launcher, tmp_path, Decimal(1)))
    reservation = reservation_of(proxy, "agents", SESSION_KEY, chat)
    resp = request(proxy.port, "POST", CHAT.path, chat, in_session)
    assert resp.status == 200, resp
    spent = Decimal(resp.header("x-spendwall-cost-usd"))
    assert 0 < spent < reservation
    assert Decimal(str(session(proxy)["spent_usd"])) == spent
    assert proxy.terminate() == 0

    # A cap the same request fits in once, from a fresh session, but not after it.
    cap = reservation + spent / 2
    again = start_proxy(config=sessions_config(launcher, tmp_path, cap))
    after = session(again)
    assert Decimal(str(after["spent_usd"])) == spent, "the session's spend was forgotten"
    assert Decimal(str(after["remaining_usd"])) == cap - spent
    resp = request(again.port, "POST", CHAT.path, chat, in_session)
    assert resp.status == 429 and resp.json()["error"]["code"] == "session_cap_exceeded", resp
    other = {**auth_headers(SESSION_KEY), "x-spendwall-session": "run-8"}
    assert session(again, other)["spent_usd"] == 0
    fresh = request(again.port, "POST", CHAT.path, chat, other)
    assert fresh.status == 200, fresh
