"""The non-metered endpoints: POST /v1/feedback (PRODUCT.md §6) and GET /v1/budget."""

from __future__ import annotations

import pytest

from swtest.apis import CHAT
from swtest.client import auth_headers, request, wait_until
from swtest.config import APP_KEY, CAPPED_KEY, OUTSIDER_KEY
from swtest.metrics import Metrics, delta


def served_request_id(proxy) -> str:
    resp = request(proxy.port, "POST", CHAT.path, CHAT.body("gpt"), auth_headers(APP_KEY))
    assert resp.status == 200, resp
    return resp.header("x-spendwall-request-id")


def feedback(proxy, body: dict, key: str = APP_KEY):
    return request(proxy.port, "POST", "/v1/feedback", body, auth_headers(key))


def assert_feedback_error(resp, status: int, code: str) -> None:
    assert resp.status == status, resp
    error = resp.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]


def test_feedback_is_recorded_once(proxy):
    request_id = served_request_id(proxy)
    before = Metrics.scrape(proxy.admin_port)
    first = feedback(proxy, {"request_id": request_id, "outcome": "accepted", "score": 0.9,
                             "note": "looks right"})
    assert first.status == 200, first

    def recorded_outcome():
        resp = request(proxy.admin_port, "GET", f"/admin/requests/{request_id}")
        return resp.status == 200 and resp.json().get("outcome")
    outcome = wait_until(recorded_outcome, timeout=5, message="the outcome on the record")
    assert outcome["outcome"] == "accepted" and outcome["score"] == 0.9

    def counted() -> float:
        return delta(before, Metrics.scrape(proxy.admin_port), "spendwall_outcomes_total",
                     workflow="app", outcome="accepted")
    assert wait_until(counted, timeout=5, message="spendwall_outcomes_total") == 1

    again = feedback(proxy, {"request_id": request_id, "outcome": "rejected"})
    assert_feedback_error(again, 409, "outcome_exists")


def test_feedback_errors(proxy):
    request_id = served_request_id(proxy)
    assert_feedback_error(feedback(proxy, {"request_id": request_id, "outcome": "delighted"}),
                          400, "unknown_outcome")
    assert_feedback_error(feedback(proxy, {"request_id": "req_nope", "outcome": "accepted"}),
                          404, "request_not_found")
    assert_feedback_error(feedback(proxy, {"request_id": request_id, "outcome": "accepted"},
                                   key=OUTSIDER_KEY), 403, "not_your_request")


def test_feedback_needs_a_key(proxy):
    resp = request(proxy.port, "POST", "/v1/feedback", {"request_id": "x", "outcome": "accepted"})
    assert resp.status == 401, resp


def test_budget_describes_the_callers_own_workflow(proxy):
    resp = request(proxy.port, "GET", "/v1/budget", headers=auth_headers(APP_KEY))
    assert resp.status == 200, resp
    budget = resp.json()
    assert budget["workflow"] == "app" and budget["owner"] == "test-team"
    assert budget["on_exceeded"] == "block"
    [daily] = budget["windows"]
    assert daily["window"] == "daily" and daily["limit_usd"] == 1000
    assert daily["remaining_usd"] == pytest.approx(
        daily["limit_usd"] - daily["spent_usd"] - daily["reserved_usd"], abs=1e-9)
    assert daily["resets_at"].endswith("Z")
    assert budget["session"] is None, "no x-spendwall-session header"
    assert "decisions" in budget


def test_budget_reports_the_named_session(proxy):
    resp = request(proxy.port, "GET", "/v1/budget",
                   headers={**auth_headers(CAPPED_KEY), "x-spendwall-session": "run-9"})
    assert resp.status == 200, resp
    session = resp.json()["session"]
    assert session["id"] == "run-9"
    assert session["cap_usd"] == pytest.approx(0.001)
    assert session["remaining_usd"] == pytest.approx(0.001 - session["spent_usd"])
