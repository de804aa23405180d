"""The error table of PRODUCT.md §2, in both formats, and the order of checks.

OpenAI endpoints answer `{"error":{message,type,code,param}}`; `/v1/messages` answers
`{"type":"error","error":{type,message}}`. Nothing rejected here may reach the upstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from swtest.apis import CHAT, MESSAGES, RESPONSES, Api
from swtest.client import RawConnection, auth_headers, raw_request, request
from swtest.config import (APP_KEY, BROKE_KEY, CAPPED_KEY, MAX_REQUEST_BYTES, OUTSIDER_KEY,
                           UNKNOWN_KEY)
from swtest.expect import assert_error

FORMATS = {"openai": CHAT, "anthropic": MESSAGES}
INVALID = (400, ("invalid_request_error", "invalid_request"), "invalid_request_error")
UNAUTHENTICATED = (401, ("authentication_error", "invalid_api_key"), "authentication_error")
NOT_ALLOWED = (403, ("permission_error", "route_not_allowed"), "permission_error")
UNKNOWN_MODEL = (404, ("invalid_request_error", "model_not_found"), "not_found_error")
WRONG_METHOD = (405, ("invalid_request_error", "method_not_allowed"), "invalid_request_error")
TOO_LARGE = (413, ("invalid_request_error", "request_too_large"), "request_too_large")
BUDGET = (429, ("insufficient_quota", "budget_exceeded"), "rate_limit_error")
SESSION_CAP = (429, ("insufficient_quota", "session_cap_exceeded"), "rate_limit_error")


@dataclass(frozen=True)
class Case:
    """One rejected request: its body (bytes, or a dict merged into a valid body) and headers."""
    id: str
    expect: tuple
    body: bytes | dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    key: str | None = APP_KEY
    model: str | int | None = "__route__"

    def send(self, proxy, api: Api):
        if isinstance(self.body, bytes):
            body = self.body
        else:
            body = api.body(api.route, **(self.body or {}))
            if self.model is None:
                del body["model"]
            elif self.model != "__route__":
                body["model"] = self.model
        return request(proxy.port, "POST", api.path, body,
                       {**auth_headers(self.key), **self.headers})


def nested(depth: int) -> bytes:
    return b'{"model":"gpt","messages":[],"x":' + b"[" * depth + b"]" * depth + b"}"


CASES = [
    Case("malformed-json", INVALID, body=b'{"model": "gpt", "messages": ['),
    Case("not-an-object", INVALID, body=b'["model", "gpt"]'),
    Case("invalid-utf8", INVALID,
         body=b'{"model":"gpt","max_tokens":10,"messages":[{"role":"user","content":"\xff\xfe"}]}'),
    Case("nesting-over-128", INVALID, body=nested(200)),
    Case("missing-model", INVALID, model=None),
    Case("non-string-model", INVALID, model=42),
    Case("max-tokens-zero", INVALID, body={"max_tokens": 0}),
    Case("max-tokens-negative", INVALID, body={"max_tokens": -5}),
    Case("max-tokens-string", INVALID, body={"max_tokens": "64"}),
    Case("max-tokens-fraction", INVALID, body={"max_tokens": 1.5}),
    Case("max-tokens-over-1e7", INVALID, body={"max_tokens": 10_000_001}),
    Case("tags-bad-characters", INVALID, headers={"x-spendwall-tags": "feature=a b!"}),
    Case("tags-too-many", INVALID,
         headers={"x-spendwall-tags": ",".join(f"k{i}=v" for i in range(9))}),
    Case("tags-value-too-long", INVALID, headers={"x-spendwall-tags": "k=" + "v" * 65}),
    Case("tags-missing-value", INVALID, headers={"x-spendwall-tags": "feature"}),
    Case("session-with-space", INVALID, headers={"x-spendwall-session": "run 42"}),
    Case("session-too-long", INVALID, headers={"x-spendwall-session": "s" * 129}),
    Case("session-bad-character", INVALID, headers={"x-spendwall-session": "run/42"}),
    Case("wrong-key", UNAUTHENTICATED, key=UNKNOWN_KEY),
    Case("missing-key", UNAUTHENTICATED, key=None),
    Case("unknown-model", UNKNOWN_MODEL, model="no-such-route"),
    Case("unknown-provider-model", UNKNOWN_MODEL, model="nowhere/fake-gpt-4o"),
    Case("route-not-allowed", NOT_ALLOWED, model="forbidden"),
    Case("provider-model-not-allowed", NOT_ALLOWED, model="oa/fake-gpt-4o"),
    Case("budget-exhausted", BUDGET, key=BROKE_KEY, body={"max_tokens": 1000}),
    Case("session-cap-exhausted", SESSION_CAP, key=CAPPED_KEY, body={"max_tokens": 1000},
         headers={"x-spendwall-session": "run-42"}),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_error_table(proxy, fake, case: Case, fmt: str):
    api = FORMATS[fmt]
    resp = case.send(proxy, api)
    assert_error(resp, api.anthropic, *case.expect)
    assert fake.requests() == [], "a rejected request reached the upstream"


@pytest.mark.parametrize("fmt", FORMATS)
def test_budget_block_headers(proxy, fmt: str):
    api = FORMATS[fmt]
    resp = Case("budget", BUDGET, key=BROKE_KEY, body={"max_tokens": 1000}).send(proxy, api)
    assert resp.status == 429, resp
    assert resp.header("x-should-retry") == "false"
    retry_after = resp.header("retry-after")
    assert retry_after is not None and retry_after.isdigit(), retry_after
    assert 0 < int(retry_after) <= 86400, "seconds to the daily window's reset"


@pytest.mark.parametrize("fmt", FORMATS)
def test_session_cap_headers(proxy, fmt: str):
    api = FORMATS[fmt]
    resp = Case("cap", SESSION_CAP, key=CAPPED_KEY, body={"max_tokens": 1000},
                headers={"x-spendwall-session": "run-7"}).send(proxy, api)
    assert resp.status == 429, resp
    assert resp.header("x-should-retry") == "false"
    assert resp.header("retry-after") is None, "a session cap does not reset"


def test_session_cap_does_not_apply_without_a_session(proxy):
    resp = request(proxy.port, "POST", CHAT.path, CHAT.body("gpt", max_tokens=10),
                   auth_headers(CAPPED_KEY))
    assert resp.status == 200, resp


@pytest.mark.parametrize("field_name", ["max_tokens", "max_completion_tokens"])
def test_openai_max_token_fields_are_checked(proxy, fake, field_name: str):
    resp = request(proxy.port, "POST", CHAT.path, CHAT.body("gpt", **{field_name: 0}),
                   auth_headers(APP_KEY))
    assert_error(resp, False, *INVALID)


def test_responses_max_output_tokens_is_checked(proxy, fake):
    resp = request(proxy.port, "POST", RESPONSES.path,
                   RESPONSES.body("gpt", max_output_tokens=-1), auth_headers(APP_KEY))
    assert_error(resp, False, *INVALID)
    assert fake.requests() == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_wrong_method(proxy, fmt: str):
    api = FORMATS[fmt]
    resp = request(proxy.port, "GET", api.path, headers=auth_headers(APP_KEY))
    assert_error(resp, api.anthropic, *WRONG_METHOD)


@pytest.mark.parametrize("key", [APP_KEY, None], ids=["with-key", "without-key"])
def test_unknown_path(proxy, fake, key):
    resp = request(proxy.port, "POST", "/v1/nope", b"{}", auth_headers(key))
    assert_error(resp, False, 404, ("invalid_request_error", "not_found"), "")
    resp = request(proxy.port, "GET", "/v1/chat/completions/extra", headers=auth_headers(key))
    assert_error(resp, False, 404, ("invalid_request_error", "not_found"), "")
    assert fake.requests() == []


def oversized_head(api: Api, key: str) -> bytes:
    """A request head declaring a body over max_request_bytes (the body itself is not sent)."""
    return raw_request("POST", api.path, [("Host", "127.0.0.1"),
                                          ("Authorization", f"Bearer {key}"),
                                          ("Content-Type", "application/json"),
                                          ("Content-Length", str(MAX_REQUEST_BYTES + 1024))])


@pytest.mark.parametrize("fmt", FORMATS)
def test_body_over_max_request_bytes_gets_413_and_a_closed_connection(proxy, fake, fmt: str):
    api = FORMATS[fmt]
    with RawConnection(proxy.port) as conn:
        # The declared size decides: the proxy must not wait for the body to answer.
        resp = conn.exchange(oversized_head(api, APP_KEY))
        assert_error(resp, api.anthropic, *TOO_LARGE)
        assert conn.closed_by_peer(within=5), "connection left open after 413"
    assert fake.requests() == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_body_over_max_request_bytes_sent_in_full_gets_413(proxy, fake, fmt: str):
    api = FORMATS[fmt]
    body = api.body(api.route)
    body["padding"] = "x" * (MAX_REQUEST_BYTES + 1024)
    resp = request(proxy.port, "POST", api.path, body, auth_headers(APP_KEY))
    assert_error(resp, api.anthropic, *TOO_LARGE)
    assert fake.requests() == []


def test_error_message_echoes_only_an_excerpt(proxy):
    secret = "z" * 20000
    resp = request(proxy.port, "POST", CHAT.path, ('{"model": "' + secret + '", ').encode(),
                   auth_headers(APP_KEY))
    error = assert_error(resp, False, *INVALID)
    assert secret not in error["message"]


# --------------------------------------------------------------------------- order of checks


ORDER_CASES = [
    # (id, key, path, method, body-changes, headers, expected)
    ("path-before-key", UNKNOWN_KEY, "/v1/unknown", "POST", {}, {},
     (404, ("invalid_request_error", "not_found"), "not_found_error")),
    ("method-before-key", UNKNOWN_KEY, None, "GET", None, {}, WRONG_METHOD),
    ("fields-before-route", APP_KEY, None, "POST",
     {"model": "no-such-route", "max_tokens": 0}, {}, INVALID),
    ("route-before-tags", APP_KEY, None, "POST", {"model": "no-such-route"},
     {"x-spendwall-tags": "bad tag"}, UNKNOWN_MODEL),
    ("permission-before-tags", APP_KEY, None, "POST", {"model": "forbidden"},
     {"x-spendwall-tags": "bad tag"}, NOT_ALLOWED),
    ("tags-before-budget", BROKE_KEY, None, "POST", {"max_tokens": 1000},
     {"x-spendwall-tags": "bad tag"}, INVALID),
    ("route-before-budget", BROKE_KEY, None, "POST", {"model": "no-such-route"}, {},
     UNKNOWN_MODEL),
    ("session-before-budget", BROKE_KEY, None, "POST", {"max_tokens": 1000},
     {"x-spendwall-session": "bad session"}, INVALID),
    ("key-before-route", OUTSIDER_KEY + "x", None, "POST", {"model": "forbidden"}, {},
     UNAUTHENTICATED),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", ORDER_CASES, ids=lambda c: c[0])
def test_order_of_checks(proxy, fake, case, fmt: str):
    _, key, path, method, changes, headers, expected = case
    api = FORMATS[fmt]
    body = None
    if changes is not None:
        body = {**api.body(api.route), **changes}
    resp = request(proxy.port, method, path or api.path, body,
                   {**auth_headers(key), **headers})
    anthropic = api.anthropic and path is None
    assert_error(resp, anthropic, *expected)
    assert fake.requests() == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_key_is_checked_before_the_body_size(proxy, fmt: str):
    api = FORMATS[fmt]
    with RawConnection(proxy.port) as conn:
        resp = conn.exchange(oversized_head(api, UNKNOWN_KEY))
    assert_error(resp, api.anthropic, *UNAUTHENTICATED)
