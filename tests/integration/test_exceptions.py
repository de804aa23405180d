"""Budget exceptions end to end (PRODUCT.md §5, admin-api.md, metrics.md).

A workflow with a small daily budget and `alert_at: [0.5]` crosses half of it: exactly one
`threshold` exception is listed at /admin/exceptions, naming owner, contact and the next
action; a webhook sink that fails its first attempt receives it on a retry; a restart on
the same ledger lists it again and raises nothing new.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from swtest.apis import CHAT
from swtest.client import auth_headers, request, wait_until
from swtest.config import key_hash, to_yaml
from swtest.metrics import Metrics
from swtest.secrets import secret
from swtest.webhook import FlakyReceiver

ALERTS_KEY = secret("sk-test-alerts-owner")
WEBHOOK_TOKEN = secret("sw-webhook-token-exceptions-0001")
WORKFLOW = "alerting"


def exceptions(proxy, kind: str | None = None) -> list[dict[str, Any]]:
    resp = request(proxy.admin_port, "GET", "/admin/exceptions")
    assert resp.status == 200, resp
    listed = resp.json()["exceptions"]
    return [e for e in listed if kind is None or e["kind"] == kind]


def config_with_alerts(launcher, tmp_path, receiver_url: str) -> dict[str, Any]:
    return launcher.config({
        "ledger": {"backend": "sqlite", "path": str(tmp_path / "ledger.db")},
        "workflows": {WORKFLOW: {
            "owner": "alerts-team", "contact": "#alerts-team", "keys": [key_hash(ALERTS_KEY)],
            "routes": ["gpt"],
            # `alert` lets every request through, so spend crosses the threshold at once.
            "budget": {"daily": Decimal("0.00001"), "alert_at": [0.5], "on_exceeded": "alert"},
        }},
        "alerts": {"sinks": [
            {"name": "log", "kind": "log"},
            {"name": "hook", "kind": "webhook", "url": receiver_url,
             "headers": {"X-Token": WEBHOOK_TOKEN}},
        ]},
    })


def test_threshold_exception_is_raised_once_delivered_and_survives_restart(start_proxy, launcher,
                                                                           tmp_path):
    with FlakyReceiver(failures=1) as receiver:
        config = config_with_alerts(launcher, tmp_path, receiver.url)
        proxy = start_proxy(config=config)
        resp = request(proxy.port, "POST", CHAT.path, CHAT.body("gpt"), auth_headers(ALERTS_KEY))
        assert resp.status == 200, resp

        [event] = wait_until(lambda: exceptions(proxy, "threshold"), timeout=10,
                             message="a threshold exception")
        assert event["workflow"] == WORKFLOW
        assert event["owner"] == "alerts-team" and event["contact"] == "#alerts-team"
        assert event["window"] == "daily" and event["threshold"] == 0.5
        assert event["next_action"]
        assert event["id"].startswith("exc_")

        # The first attempt gets a 500; the retry a second later is accepted.
        def threshold_deliveries() -> list[tuple[dict[str, str], Any]]:
            return [(h, e) for h, e in receiver.events() if e["kind"] == "threshold"]

        [(headers, delivered)] = wait_until(threshold_deliveries, timeout=15,
                                            message="the webhook delivery")
        assert receiver.attempts >= 2
        assert delivered["id"] == event["id"] and delivered["owner"] == "alerts-team"
        assert headers.get("X-Token") == WEBHOOK_TOKEN
        metrics = Metrics.scrape(proxy.admin_port)
        assert metrics.total("spendwall_alert_deliveries_total", sink="hook", result="retry") >= 1
        assert metrics.total("spendwall_alert_deliveries_total", sink="hook", result="ok") >= 1
        assert metrics.total("spendwall_exceptions_total", workflow=WORKFLOW, kind="threshold") == 1
        log_events = [line for line in proxy.log_lines() if line.get("msg") == "budget exception"]
        assert event["id"] in {line["event"]["id"] for line in log_events}

        # Let every delivery of this run settle before the restart.
        wait_until(lambda: len(receiver.events()) == len(exceptions(proxy)), timeout=15,
                   message="every exception delivered")
        delivered_before = len(receiver.events())
        assert proxy.terminate() == 0

        again = start_proxy(config=config)
        time.sleep(3)  # three control ticks: time enough to raise it again, were it not stored
        assert [e["id"] for e in exceptions(again, "threshold")] == [event["id"]]
        assert Metrics.scrape(again.admin_port).total("spendwall_exceptions_total",
                                                      workflow=WORKFLOW, kind="threshold") == 0
        assert len(receiver.events()) == delivered_before


def deliveries_by_id(receiver: FlakyReceiver) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, event in receiver.events():
        counts[event["id"]] = counts.get(event["id"], 0) + 1
    return counts


def overspend_until_refused(proxy, receiver: FlakyReceiver, events: int) -> list[dict[str, Any]]:
    """One request over the alerting budget; returns the `events` exceptions it raised once
    the receiver has refused a first delivery of each."""
    resp = request(proxy.port, "POST", CHAT.path, CHAT.body("gpt"), auth_headers(ALERTS_KEY))
    assert resp.status == 200, resp
    raised = wait_until(lambda: len(exceptions(proxy)) == events and exceptions(proxy),
                        timeout=10, message=f"{events} exceptions")
    wait_until(lambda: receiver.attempts >= events, timeout=10, message="first attempts")
    return raised


def test_deliveries_pending_at_a_kill_are_made_after_the_restart_once_each(start_proxy, launcher,
                                                                           tmp_path):
    with FlakyReceiver(failures=10**6) as receiver:
        config = config_with_alerts(launcher, tmp_path, receiver.url)
        # Three thresholds and `exceeded` from one request: four events, each queued for the
        # log and the webhook.
        config["workflows"][WORKFLOW]["budget"]["alert_at"] = [0.25, 0.5, 0.75]
        proxy = start_proxy(config=config)
        raised = overspend_until_refused(proxy, receiver, 4)
        proxy.kill()
        assert receiver.events() == []

        receiver.failures = 0  # the receiver recovers while the proxy is down
        again = start_proxy(config=config)
        ids = {e["id"] for e in raised}
        wait_until(lambda: set(deliveries_by_id(receiver)) == ids, timeout=30,
                   message="every pending delivery made after the restart")
        time.sleep(3)  # three ticks: a duplicate would have been sent by now
        assert deliveries_by_id(receiver) == {i: 1 for i in ids}
        assert [e["id"] for e in exceptions(again)] == [e["id"] for e in raised]
        metrics = Metrics.scrape(again.admin_port)
        assert metrics.total("spendwall_alert_deliveries_total", sink="hook", result="ok") == 4


def test_a_sink_removed_by_a_reload_stops_being_retried(start_proxy, launcher, tmp_path):
    with FlakyReceiver(failures=10**6) as receiver:
        config = config_with_alerts(launcher, tmp_path, receiver.url)
        proxy = start_proxy(config=config)
        raised = overspend_until_refused(proxy, receiver, 2)  # threshold and exceeded

        config["alerts"]["sinks"] = [{"name": "log", "kind": "log"}]
        proxy.config.write_text(to_yaml(config))
        reload = request(proxy.admin_port, "POST", "/admin/reload", timeout=30)
        assert reload.status == 200, reload

        def given_up() -> float:
            return Metrics.scrape(proxy.admin_port).total("spendwall_alert_deliveries_total",
                                                          sink="hook", result="failed")
        wait_until(lambda: given_up() == len(raised), timeout=10,
                   message="the removed sink's deliveries given up")
        attempts = receiver.attempts
        time.sleep(4)  # past the next retry times: nothing more is sent to the removed sink
        assert receiver.attempts == attempts
        gave_up = [line for line in proxy.log_lines()
                   if line.get("msg") == "alert delivery failed; giving up"]
        assert {line["exception"] for line in gave_up} == {e["id"] for e in raised}
        assert all("no longer in the config" in line["error"] for line in gave_up)


def test_fallback_surge_names_the_failure_classes(start_proxy, launcher, tmp_path):
    config = launcher.config({
        "ledger": {"backend": "sqlite", "path": str(tmp_path / "ledger.db")},
        "workflows": {WORKFLOW: {
            "owner": "alerts-team", "keys": [key_hash(ALERTS_KEY)], "routes": ["failover"],
            "decisions": {"fallback_surge": "Move weight away from the broken target."},
        }},
        "alerts": {"sinks": [{"name": "log", "kind": "log"}],
                   "fallback_surge": {"window": "10m", "ratio": 0.2, "min_requests": 5}},
    })
    proxy = start_proxy(config=config)
    for _ in range(6):
        resp = request(proxy.port, "POST", CHAT.path, CHAT.body("failover"),
                       auth_headers(ALERTS_KEY))
        assert resp.status == 200 and resp.header("x-spendwall-fallbacks") == "1", resp
    [event] = wait_until(lambda: exceptions(proxy, "fallback_surge"), timeout=10,
                         message="a fallback_surge exception")
    details = event["details"]
    assert details["route"] == "failover"
    assert details["requests"] == 6 and details["fell_back"] == 6 and details["ratio"] == 1.0
    # `failover` retries its broken target once: two server errors per request.
    assert details["top_reasons"] == [{"reason": "server_error", "count": 12}]
    assert event["next_action"] == "Move weight away from the broken target."
