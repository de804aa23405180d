"""HTTP hygiene with raw sockets: framing, smuggling, limits, deadlines, keep-alive."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from swtest.apis import CHAT, MESSAGES
from swtest.client import RawConnection, auth_headers, raw_request, stream
from swtest.config import APP_KEY, MAX_HEADER_BYTES

BODY = json.dumps(CHAT.body("gpt")).encode()


def head(*extra: tuple[str, str], path: str = CHAT.path) -> list[tuple[str, str]]:
    return [("Host", "127.0.0.1"), ("Authorization", f"Bearer {APP_KEY}"),
            ("Content-Type", "application/json"), *extra]


def chunked(body: bytes, size: int = 16) -> bytes:
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


SMUGGLED = raw_request("POST", CHAT.path, head(("Content-Length", str(len(BODY)))), BODY)
REJECTED_FRAMING = {
    "content-length-and-transfer-encoding": raw_request(
        "POST", CHAT.path, head(("Content-Length", str(len(BODY))),
                                ("Transfer-Encoding", "chunked")), chunked(BODY)),
    "differing-content-lengths": raw_request(
        "POST", CHAT.path, head(("Content-Length", str(len(BODY))),
                                ("Content-Length", str(len(BODY) + 1))), BODY),
    "transfer-encoding-gzip": raw_request(
        "POST", CHAT.path, head(("Transfer-Encoding", "gzip")), BODY),
    "transfer-encoding-gzip-chunked": raw_request(
        "POST", CHAT.path, head(("Transfer-Encoding", "gzip, chunked")), chunked(BODY)),
    "invalid-chunk-size": raw_request(
        "POST", CHAT.path, head(("Transfer-Encoding", "chunked")),
        b"zz\r\n" + BODY + b"\r\n0\r\n\r\n"),
    "chunk-longer-than-declared": raw_request(
        "POST", CHAT.path, head(("Transfer-Encoding", "chunked")),
        b"4\r\n" + BODY + b"\r\n0\r\n\r\n"),
    "nul-in-header-value": raw_request(
        "POST", CHAT.path, head(("Content-Length", str(len(BODY))), ("x-trace", "a\x00b")), BODY),
    "cr-in-header-value": raw_request(
        "POST", CHAT.path, head(("Content-Length", str(len(BODY))), ("x-trace", "a\rb")), BODY),
    # The front end reads Content-Length, a back end reading chunked would see a 2nd request.
    "cl-te-with-a-request-inside": raw_request(
        "POST", CHAT.path, head(("Content-Length", "5"), ("Transfer-Encoding", "chunked")),
        b"0\r\n\r\n" + SMUGGLED),
    "te-te-duplicated": raw_request(
        "POST", CHAT.path, head(("Transfer-Encoding", "chunked"),
                                ("Transfer-Encoding", "chunked")),
        chunked(BODY)),
    "te-not-chunked-identity": raw_request(
        "POST", CHAT.path, head(("Transfer-Encoding", "identity"),
                                ("Content-Length", str(len(BODY)))), BODY),
    "content-length-not-a-number": raw_request(
        "POST", CHAT.path, head(("Content-Length", "12a")), BODY),
    # (a list of identical values may be accepted, RFC 9110 §8.6; differing ones may not)
    "content-length-list-differing": raw_request(
        "POST", CHAT.path, head(("Content-Length", f"{len(BODY)}, {len(BODY) + 1}")), BODY),
    "space-before-colon": raw_request(
        "POST", CHAT.path, head(("Transfer-Encoding ", "chunked"),
                                ("Content-Length", str(len(BODY)))), BODY),
    "lf-only-line-ends-with-nul": b"POST /v1/chat/completions HTTP/1.1\nHost: a\x00b\n\n",
}


@pytest.mark.parametrize("raw", REJECTED_FRAMING.values(), ids=REJECTED_FRAMING.keys())
def test_bad_framing_gets_400_and_a_closed_connection(proxy, fake, raw: bytes):
    with RawConnection(proxy.port) as conn:
        resp = conn.exchange(raw)
        assert resp.status == 400, resp
        assert conn.closed_by_peer(within=5), "connection left open after a framing error"
    assert fake.requests() == [], "a badly framed request was forwarded"


def test_valid_chunked_request_body_is_accepted(proxy, fake):
    raw = raw_request("POST", CHAT.path, head(("Transfer-Encoding", "chunked")), chunked(BODY))
    with RawConnection(proxy.port) as conn:
        resp = conn.exchange(raw)
    assert resp.status == 200, resp
    [seen] = fake.requests()
    assert seen.json()["messages"] == json.loads(BODY)["messages"]


def test_head_over_max_header_bytes_gets_431(proxy, fake):
    raw = raw_request("POST", CHAT.path, head(("Content-Length", str(len(BODY))),
                                              ("x-padding", "p" * (MAX_HEADER_BYTES + 100))),
                      BODY)
    with RawConnection(proxy.port) as conn:
        resp = conn.exchange(raw)
    assert resp.status == 431, resp
    assert fake.requests() == []


def test_many_headers_over_max_header_bytes_get_431(proxy, fake):
    padding = [(f"x-pad-{i}", "p" * 100) for i in range(MAX_HEADER_BYTES // 100 + 10)]
    raw = raw_request("POST", CHAT.path, head(("Content-Length", str(len(BODY))), *padding), BODY)
    with RawConnection(proxy.port) as conn:
        resp = conn.exchange(raw)
    assert resp.status == 431, resp


def test_request_line_over_the_limit_gets_414(proxy, fake):
    path = CHAT.path + "?q=" + "a" * (MAX_HEADER_BYTES + 100)
    raw = raw_request("POST", path, head(("Content-Length", str(len(BODY)))), BODY)
    with RawConnection(proxy.port) as conn:
        resp = conn.exchange(raw)
    assert resp.status == 414, resp
    assert fake.requests() == []


def test_keep_alive_serves_several_requests_on_one_connection(proxy, fake):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=15)
    try:
        local_ports = []
        statuses = []
        exchanges = [(CHAT, CHAT.body("gpt")), (MESSAGES, MESSAGES.body("claude")),
                     (CHAT, CHAT.body("no-such-route")), (CHAT, CHAT.body("gpt", stream=True)),
                     (CHAT, CHAT.body("gpt"))]
        for api, body in exchanges:
            conn.request("POST", api.path, json.dumps(body), auth_headers(APP_KEY))
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
            assert (resp.getheader("connection") or "").lower() != "close"
            local_ports.append(conn.sock.getsockname()[1])
    finally:
        conn.close()
    assert statuses == [200, 200, 404, 200, 200]
    assert len(set(local_ports)) == 1, "the proxy closed a keep-alive connection"
    assert len(fake.requests()) == 4


@pytest.fixture
def strict_proxy(start_proxy):
    """Short deadlines: the whole head within 1 s, a stalled body or idle connection 2 s."""
    return start_proxy({"server": {"header_timeout": "1s", "idle_timeout": "2s"}})


def test_slowloris_head_is_cut_at_header_timeout(strict_proxy):
    with RawConnection(strict_proxy.port) as conn:
        started = time.monotonic()
        conn.send(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # One header line every 0.25 s, for at most 10 s.
        closed = conn.drip((f"x-slow-{i}: drip\r\n".encode() for i in range(40)), every=0.25,
                           limit=10)
        elapsed = time.monotonic() - started
    assert closed, "a trickled head was never cut"
    assert 0.8 <= elapsed <= 4.0, f"cut after {elapsed:.2f}s with header_timeout 1s"


def test_stalled_body_is_cut_at_idle_timeout(strict_proxy, fake):
    raw = raw_request("POST", CHAT.path, head(("Content-Length", str(len(BODY)))), BODY[:10])
    with RawConnection(strict_proxy.port) as conn:
        started = time.monotonic()
        conn.send(raw)
        assert conn.closed_by_peer(within=8), "a stalled body kept the connection open"
        elapsed = time.monotonic() - started
    assert elapsed >= 1.5, f"cut after {elapsed:.2f}s with idle_timeout 2s"
    assert fake.requests() == []


def test_idle_keep_alive_connection_is_closed_after_idle_timeout(strict_proxy):
    raw = raw_request("POST", CHAT.path, head(("Content-Length", str(len(BODY)))), BODY)
    with RawConnection(strict_proxy.port) as conn:
        assert conn.exchange(raw).status == 200
        started = time.monotonic()
        assert conn.closed_by_peer(within=8), "an idle connection was kept past idle_timeout"
        elapsed = time.monotonic() - started
    assert elapsed >= 1.0, f"closed after {elapsed:.2f}s with idle_timeout 2s"


def test_a_stream_is_cut_at_request_timeout(start_proxy):
    proxy = start_proxy({"server": {"request_timeout": "2s"}})
    started = time.monotonic()
    result = stream(proxy.port, CHAT.path, CHAT.body("gpt", stream=True),
                    {**auth_headers(APP_KEY), "x-fake-scenario": "words=40;chunk-delay-ms=200"},
                    timeout=15)
    elapsed = time.monotonic() - started
    assert result.status == 200
    assert not CHAT.stream_finished(result.events), "an 8 s stream outlived request_timeout 2s"
    assert elapsed < 6, f"stream ended after {elapsed:.2f}s"
