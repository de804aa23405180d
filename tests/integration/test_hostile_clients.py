"""Hostile clients (PRODUCT.md "HTTP hygiene"), beyond the framing cases of
test_http_hygiene.py (framing, smuggling, limits, slowloris heads): pipelining, many small
headers, trickled bodies, thousands of idle connections and a client that stops reading a
stream. Each is answered per spec or closed,
memory stays bounded, and the proxy keeps serving.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import time

import pytest

from swtest.apis import CHAT, MESSAGES
from swtest.client import HOST, RawConnection, auth_headers, raw_request, request, wait_until
from swtest.config import APP_KEY, MAX_HEADER_BYTES
from swtest.process import open_fds, rss_bytes

BODY = json.dumps(CHAT.body("gpt")).encode()


def head(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [("Host", "127.0.0.1"), ("Authorization", f"Bearer {APP_KEY}"),
            ("Content-Type", "application/json"), *extra]


def post(body: bytes, *extra: tuple[str, str], path: str = CHAT.path) -> bytes:
    return raw_request("POST", path, head(("Content-Length", str(len(body))), *extra), body)


def assert_serves(port: int) -> None:
    resp = request(port, "POST", CHAT.path, CHAT.body("gpt"), auth_headers(APP_KEY))
    assert resp.status == 200, f"the proxy stopped serving: {resp!r}"


# --------------------------------------------------------------------------- pipelining


def test_pipelined_requests_are_answered_in_order(proxy, fake):
    messages = json.dumps(MESSAGES.body("claude")).encode()
    streamed = json.dumps(CHAT.body("gpt", stream=True)).encode()
    burst = (post(BODY, ("x-fake-scenario", "delay-ms=200")) +  # the slowest first
             post(messages, path=MESSAGES.path) +
             post(streamed) +
             post(b'{"model": "no-such-route", "messages": []}') +
             post(BODY))
    with RawConnection(proxy.port, timeout=15) as conn:
        conn.send(burst)  # one write: every request is in the proxy's buffer at once
        answers = [conn.read_response() for _ in range(5)]
    assert [a.status for a in answers] == [200, 200, 200, 404, 200], answers
    assert answers[0].json()["object"] == "chat.completion"
    assert answers[1].json()["type"] == "message"
    assert b"data: [DONE]" in answers[2].body
    ids = [a.header("x-spendwall-request-id") for a in answers]
    assert len(set(ids)) == 5, ids
    assert len(fake.requests()) == 4


def test_many_small_headers_within_max_header_bytes_are_served(proxy, fake):
    headers = [(f"x-h{i}", "v") for i in range(MAX_HEADER_BYTES // 12)]  # ~680 headers
    raw = post(BODY, *headers)
    assert len(raw) < MAX_HEADER_BYTES + len(BODY)
    with RawConnection(proxy.port) as conn:
        resp = conn.exchange(raw)
    assert resp.status == 200, resp
    [seen] = fake.requests()
    assert seen.header("x-h600") == "v", "ordinary client headers are forwarded"


# --------------------------------------------------------------------------- slow bodies


def test_trickled_body_is_cut_at_request_timeout(start_proxy, fake):
    """A body that never stalls long enough for idle_timeout still ends at request_timeout."""
    proxy = start_proxy({"server": {"header_timeout": "1s", "idle_timeout": "2s",
                                    "request_timeout": "3s"}})
    with RawConnection(proxy.port) as conn:
        started = time.monotonic()
        conn.send(post(BODY)[:-len(BODY)])  # the head, announcing the whole body
        # One byte every 0.25 s: ~27 s for the body, never idle for idle_timeout.
        closed = conn.drip((bytes([b]) for b in BODY), every=0.25, limit=12)
        elapsed = time.monotonic() - started
    assert closed, "a trickled body held the connection past request_timeout"
    assert 2.5 <= elapsed <= 6, f"cut after {elapsed:.2f}s with request_timeout 3s"
    assert fake.requests() == []
    assert_serves(proxy.port)


# --------------------------------------------------------------------------- idle connections

# scripts/test-tsan.sh sets TSAN_OPTIONS for the binary it tests.
UNDER_THREAD_SANITIZER = "TSAN_OPTIONS" in os.environ

# 3000 keeps the suite quick; SPENDWALL_TEST_IDLE_CONNECTIONS=10000 for the full figure.
IDLE_CONNECTIONS = int(os.environ.get("SPENDWALL_TEST_IDLE_CONNECTIONS", "3000"))


@pytest.fixture
def many_fds():
    """Room for the idle connections in this process and in the proxy (which inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE_CONNECTIONS + 512  # per process: this one, and the proxy (inherited)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_thousands_of_idle_connections_are_bounded_and_closed(many_fds, start_proxy):
    deadline = f"{max(3, IDLE_CONNECTIONS // 800)}s"  # longer than opening them all takes
    proxy = start_proxy({"server": {"header_timeout": deadline, "idle_timeout": deadline}})
    pid = proxy.proc.pid
    assert_serves(proxy.port)
    rss_before, fds_before = rss_bytes(pid), open_fds(pid)
    sockets = []
    try:
        for i in range(IDLE_CONNECTIONS):
            s = socket.create_connection((HOST, proxy.port), timeout=10)
            if i % 2:
                s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")  # half a head
            sockets.append(s)
        wait_until(lambda: open_fds(pid) >= fds_before + IDLE_CONNECTIONS * 0.9, timeout=10,
                   message="the proxy to accept the idle connections")
        rss_loaded = rss_bytes(pid)
        started = time.monotonic()
        assert_serves(proxy.port)
        assert time.monotonic() - started < 2, "a request waited behind the idle connections"
        per_connection = (rss_loaded - rss_before) / IDLE_CONNECTIONS
        print(f"\n{IDLE_CONNECTIONS} idle connections: RSS {rss_before / 2**20:.1f} -> "
              f"{rss_loaded / 2**20:.1f} MiB ({per_connection / 1024:.1f} KiB each), "
              f"fds {fds_before} -> {open_fds(pid)}")
        # ASan adds redzones and quarantine; a plain build uses a fraction of this (8 KiB
        # measured). ThreadSanitizer's shadow memory multiplies every byte the proxy touches.
        bound = 64 * 1024 * (4 if UNDER_THREAD_SANITIZER else 1)
        assert per_connection < bound, f"{per_connection:.0f} bytes per idle connection"

        def all_closed_by_proxy() -> bool:
            return open_fds(pid) <= fds_before + 10

        wait_until(all_closed_by_proxy, timeout=20 + IDLE_CONNECTIONS // 500, interval=0.5,
                   message="the proxy to close idle connections at header_timeout")
    finally:
        for s in sockets:
            s.close()
    assert_serves(proxy.port)


# --------------------------------------------------------------------------- back-pressure


def test_client_that_stops_reading_a_stream_gets_back_pressure(proxy, fake):
    """The fake streams 16 KiB events without end; the client reads the head and stops.

    The proxy must stop reading the upstream once the sockets' buffers are full (the fake
    then stalls) and its memory must not grow with what the upstream would still send.
    """
    pid = proxy.proc.pid
    body = json.dumps(CHAT.body("gpt", stream=True)).encode()
    raw = post(body, ("x-fake-scenario", "endless;piece-bytes=16384"))
    rss_before = rss_bytes(pid)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((HOST, proxy.port))
    try:
        sock.sendall(raw)
        assert sock.recv(1024).startswith(b"HTTP/1.1 200"), "the stream did not start"
        [upstream] = wait_until(lambda: fake.requests(), timeout=10, message="the upstream")

        samples = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.5)
            samples.append((upstream.events_sent, rss_bytes(pid)))
            if len(samples) >= 4 and samples[-4][0] == samples[-1][0]:
                break  # no event for 1.5 s: the upstream is held back
        sent, rss_stalled = samples[-1]
        assert len(samples) >= 4 and samples[-4][0] == sent, \
            f"the upstream never stalled: events sent over time {[e for e, _ in samples]}"
        growth = rss_stalled - rss_before
        print(f"\nstalled after {sent} events ({sent * 16 / 1024:.1f} MiB from the upstream); "
              f"proxy RSS {rss_before / 2**20:.1f} -> {rss_stalled / 2**20:.1f} MiB")
        assert growth < 32 * 2**20, f"RSS grew {growth / 2**20:.1f} MiB for a stalled client"
    finally:
        sock.close()
    # The client is gone: the proxy drops the upstream too instead of draining it forever.
    wait_until(lambda: upstream.ended, timeout=15, message="the upstream stream to be dropped")
    assert_serves(proxy.port)
