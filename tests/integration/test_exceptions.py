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
from swtest.config import key_hash
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
