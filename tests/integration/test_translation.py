"""A route may mix APIs: the client always gets its own API's format (PRODUCT.md §2 step 7)."""

from __future__ import annotations

from swtest.apis import CHAT, MESSAGES, expected_reply
from swtest.client import auth_headers, request, stream
from swtest.config import APP_KEY, CLAUDE, GPT


def test_chat_completion_served_by_an_anthropic_target(proxy, fake):
    body = CHAT.body("claude", max_tokens=50, temperature=0.2,
                     messages=[{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": "Hello"}])
    resp = request(proxy.port, "POST", CHAT.path, body, auth_headers(APP_KEY))
    assert resp.status == 200, resp
    answer = resp.json()
    CHAT.check_shape(answer)
    assert CHAT.text(answer) == expected_reply(CLAUDE)
    assert answer["usage"]["prompt_tokens"] > 0 and answer["usage"]["completion_tokens"] > 0

    [seen] = fake.requests()
    assert seen.path == "/v1/messages"
    sent = seen.json()
    assert sent["model"] == CLAUDE and sent["max_tokens"] == 50
    assert "Be brief." in str(sent.get("system")), "system prompt moves to `system`"
    assert all(m["role"] != "system" for m in sent["messages"])


def test_streaming_chat_completion_served_by_an_anthropic_target(proxy, fake):
    result = stream(proxy.port, CHAT.path, CHAT.body("claude", stream=True, max_tokens=50),
                    auth_headers(APP_KEY))
    assert result.status == 200, result.raw
    assert CHAT.stream_text(result.events) == expected_reply(CLAUDE)
    assert CHAT.stream_finished(result.events)
    [seen] = fake.requests()
    assert seen.path == "/v1/messages" and seen.json()["stream"] is True


def test_messages_served_by_an_openai_target(proxy, fake):
    resp = request(proxy.port, "POST", MESSAGES.path, MESSAGES.body("gpt"),
                   auth_headers(APP_KEY, "x-api-key"))
    assert resp.status == 200, resp
    answer = resp.json()
    MESSAGES.check_shape(answer)
    assert MESSAGES.text(answer) == expected_reply(GPT)
    [seen] = fake.requests()
    assert seen.path == "/v1/chat/completions" and seen.json()["model"] == GPT
