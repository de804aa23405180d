"""The fake upstream on its own (no proxy): the shapes and scenarios the suite relies on."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import sys
import time

import pytest

from fake_upstream import SCENARIO_ERROR_MESSAGE, error_body
from swtest import FAKES_DIR
from swtest.apis import CHAT, COMPLETIONS, EMBEDDINGS, MESSAGES, METERED, STREAMING, Api, \
    expected_reply
from swtest.client import RawConnection, raw_request, request, stream


def scenario(value: str) -> dict[str, str]:
    return {"x-fake-scenario": value}


@pytest.mark.parametrize("api", METERED, ids=lambda a: a.name)
def test_answers_every_api_with_usage(fake, api: Api):
    resp = request(fake.port, "POST", api.path, api.body("m1"))
    assert resp.status == 200, resp
    answer = resp.json()
    api.check_shape(answer)
    if api is not EMBEDDINGS:
        assert api.text(answer) == expected_reply("m1")
    [seen] = fake.requests()
    assert answer["usage"] == seen.usage and seen.usage
    assert sum(api.token_kinds(seen.usage).values()) > 0


@pytest.mark.parametrize("api", STREAMING, ids=lambda a: a.name)
def test_streams_every_streaming_api(fake, api: Api):
    result = stream(fake.port, api.path, api.body("m1", stream=True))
    assert result.status == 200 and result.complete
    assert result.header("transfer-encoding") == "chunked"
    assert api.stream_text(result.events) == expected_reply("m1")
    assert api.stream_finished(result.events)


@pytest.mark.parametrize("api", (CHAT, COMPLETIONS), ids=lambda a: a.name)
def test_usage_chunk_only_when_asked(fake, api: Api):
    plain = stream(fake.port, api.path, api.body("m", stream=True))
    asked = stream(fake.port, api.path,
                   api.body("m", stream=True, stream_options={"include_usage": True}))
    assert not [e for e in plain.data_json() if "usage" in e]
    usage_chunks = [e for e in asked.data_json() if e.get("choices") == []]
    assert len(usage_chunks) == 1 and usage_chunks[0]["usage"]["completion_tokens"] > 0
    assert asked.events[-1].data == "[DONE]" and asked.events[-2].json()["choices"] == []


def test_messages_stream_reports_usage_in_start_and_delta(fake):
    result = stream(fake.port, MESSAGES.path, MESSAGES.body("m", stream=True))
    kinds = [e.event for e in result.events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    usage = MESSAGES.stream_usage(result.events)
    assert usage == fake.requests()[0].usage


def test_max_tokens_limits_the_reply(fake):
    answer = request(fake.port, "POST", CHAT.path, CHAT.body("m", max_tokens=3)).json()
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"]["completion_tokens"] == 3


def test_cached_and_reasoning_tokens(fake):
    answer = request(fake.port, "POST", CHAT.path, CHAT.body("m"),
                     scenario("cached=2;reasoning=5")).json()
    kinds = CHAT.token_kinds(answer["usage"])
    assert kinds["cached_input"] == 2 and kinds["reasoning"] == 5


@pytest.mark.parametrize("api", (CHAT, MESSAGES), ids=lambda a: a.name)
def test_status_scenario_uses_the_providers_error_shape(fake, api: Api):
    resp = request(fake.port, "POST", api.path, api.body("m"),
                   scenario("status=429;retry-after=7"))
    assert resp.status == 429
    assert resp.header("retry-after") == "7"
    assert resp.json() == error_body(429, SCENARIO_ERROR_MESSAGE, api.anthropic)


def test_delay_scenario(fake):
    started = time.monotonic()
    assert request(fake.port, "POST", CHAT.path, CHAT.body("m"), scenario("delay-ms=600")) \
        .status == 200
    assert time.monotonic() - started >= 0.55


def test_chunk_delay_scenario(fake):
    started = time.monotonic()
    result = stream(fake.port, CHAT.path, CHAT.body("m", stream=True),
                    scenario("words=4;chunk-delay-ms=150"))
    assert CHAT.stream_text(result.events) == expected_reply("m", words=4)
    assert time.monotonic() - started >= 0.15 * 6  # role + 4 words + finish + [DONE]


def test_stream_reset_scenario(fake):
    result = stream(fake.port, CHAT.path, CHAT.body("m", stream=True),
                    scenario("stream-reset-after=3"))
    assert result.status == 200
    assert len(result.events) == 3 and not result.complete


def test_close_before_head_scenario(fake):
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        request(fake.port, "POST", CHAT.path, CHAT.body("m"), scenario("close-before-head"))


def test_garbage_response_scenario(fake):
    with pytest.raises(http.client.HTTPException):
        request(fake.port, "POST", CHAT.path, CHAT.body("m"), scenario("garbage-response"))


def test_oversized_scenario(fake):
    resp = request(fake.port, "POST", CHAT.path, CHAT.body("m"), scenario("oversized=200000"))
    assert resp.status == 200 and len(resp.body) == 200000
    assert resp.json()["id"] == "oversized"


def test_bad_json_scenario(fake):
    resp = request(fake.port, "POST", CHAT.path, CHAT.body("m"), scenario("bad-json"))
    assert resp.header("content-type") == "application/json"
    with pytest.raises(ValueError):
        json.loads(resp.body)


def test_unknown_scenario_is_an_error(fake):
    assert request(fake.port, "POST", CHAT.path, CHAT.body("m"), scenario("nope")).status == 400


def test_default_scenario_applies_to_every_request(fake_failing):
    assert request(fake_failing.port, "POST", CHAT.path, CHAT.body("m")).status == 500


def test_records_requests_and_exposes_them(fake):
    request(fake.port, "POST", CHAT.path, CHAT.body("m"), {"x-probe": "1"})
    listed = request(fake.port, "GET", "/_fake/requests").json()["requests"]
    assert [(r["method"], r["path"], r["json"]["model"]) for r in listed] == \
        [("POST", CHAT.path, "m")]
    assert ["x-probe", "1"] in [[k.lower(), v] for k, v in listed[0]["headers"]]
    assert request(fake.port, "DELETE", "/_fake/requests").status == 200
    assert request(fake.port, "GET", "/_fake/requests").json()["requests"] == []
    assert fake.requests() == []


def test_keep_alive_and_chunked_request_bodies(fake):
    body = json.dumps(CHAT.body("m")).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with RawConnection(fake.port) as conn:
        for _ in range(3):
            resp = conn.exchange(raw_request("POST", CHAT.path, [
                ("Host", "x"), ("Transfer-Encoding", "chunked")], chunked))
            assert resp.status == 200
    assert len({r.connection_id for r in fake.requests()}) == 1


def test_tls_with_sni(fake_tls, certs):
    context = ssl.create_default_context(cafile=str(certs.ca))
    for host in ("127.0.0.1", "localhost"):
        conn = http.client.HTTPSConnection(host, fake_tls.port, context=context, timeout=10)
        conn.request("POST", CHAT.path, json.dumps(CHAT.body("m")))
        assert conn.getresponse().status == 200
        conn.close()
    by_ip, by_name = fake_tls.requests()
    assert by_ip.tls and by_ip.server_name is None
    assert by_name.server_name == "localhost"


def test_tls_is_refused_with_another_ca(fake_tls, certs):
    context = ssl.create_default_context(cafile=str(certs.other_ca))
    conn = http.client.HTTPSConnection("127.0.0.1", fake_tls.port, context=context, timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("POST", CHAT.path, "{}")
    conn.close()


def test_standalone_prints_its_port():
    proc = subprocess.Popen([sys.executable, str(FAKES_DIR / "fake_upstream.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        assert request(port, "POST", CHAT.path, CHAT.body("m")).status == 200
    finally:
        proc.terminate()
        proc.wait(10)
