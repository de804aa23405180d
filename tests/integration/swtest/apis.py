"""The metered endpoints: request bodies, how to read answers, expected tokens and cost."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fake_upstream import Scenario, reply_words

from .client import SseEvent

PROMPT = "Say hello to the integration tests, please."
TOKEN_KINDS = ("input", "cached_input", "cache_write", "output", "reasoning")


def expected_reply(model: str, limit: int | None = None, words: int | None = None) -> str:
    """The text the fake upstream answers for `model`."""
    pieces, _ = reply_words(model, Scenario(words=words), limit)
    return "".join(pieces)


@dataclass(frozen=True)
class Api:
    name: str
    path: str
    anthropic: bool = False
    streams: bool = True
    route: str = "gpt"  # the HTTP route; "<route>-tls" goes over TLS

    # ---- requests
    def body(self, model: str, stream: bool = False, **extra: Any) -> dict[str, Any]:
        body = {"model": model, **self._payload()}
        if stream:
            body["stream"] = True
        body.update(extra)
        return body

    def _payload(self) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": PROMPT}]}

    # ---- non-streaming answers
    def text(self, answer: dict[str, Any]) -> str:
        return answer["choices"][0]["message"]["content"]

    def check_shape(self, answer: dict[str, Any]) -> None:
        assert answer["object"] == "chat.completion", answer

    # ---- streams
    def stream_text(self, events: list[SseEvent]) -> str:
        return "".join(c["delta"].get("content") or ""
                       for e in _json_events(events) for c in e.get("choices", []))

    def stream_finished(self, events: list[SseEvent]) -> bool:
        return bool(events) and events[-1].data == "[DONE]"

    def stream_usage(self, events: list[SseEvent]) -> dict[str, Any] | None:
        usages = [e["usage"] for e in _json_events(events) if e.get("usage")]
        return usages[-1] if usages else None

    # ---- metering
    def token_kinds(self, usage: dict[str, Any]) -> dict[str, int]:
        """Disjoint token kinds (PRODUCT.md §2 step 9) from an OpenAI chat-shaped usage."""
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens", 0)
        return _kinds(input=usage["prompt_tokens"] - cached, cached_input=cached,
                      output=usage.get("completion_tokens", 0) - reasoning, reasoning=reasoning)


class ChatApi(Api):
    pass


class CompletionsApi(Api):
    def _payload(self) -> dict[str, Any]:
        return {"prompt": PROMPT}

    def text(self, answer: dict[str, Any]) -> str:
        return answer["choices"][0]["text"]

    def check_shape(self, answer: dict[str, Any]) -> None:
        assert answer["object"] == "text_completion", answer

    def stream_text(self, events: list[SseEvent]) -> str:
        return "".join(c.get("text") or "" for e in _json_events(events)
                       for c in e.get("choices", []))


class ResponsesApi(Api):
    def _payload(self) -> dict[str, Any]:
        return {"input": PROMPT}

    def text(self, answer: dict[str, Any]) -> str:
        return "".join(part["text"] for item in answer["output"] if item["type"] == "message"
                       for part in item["content"] if part["type"] == "output_text")

    def check_shape(self, answer: dict[str, Any]) -> None:
        assert answer["object"] == "response" and answer["status"] == "completed", answer

    def stream_text(self, events: list[SseEvent]) -> str:
        return "".join(e["delta"] for e in _json_events(events)
                       if e.get("type") == "response.output_text.delta")

    def stream_finished(self, events: list[SseEvent]) -> bool:
        return bool(events) and events[-1].event == "response.completed"

    def stream_usage(self, events: list[SseEvent]) -> dict[str, Any] | None:
        done = [e for e in _json_events(events) if e.get("type") == "response.completed"]
        return done[-1]["response"]["usage"] if done else None

    def token_kinds(self, usage: dict[str, Any]) -> dict[str, int]:
        cached = (usage.get("input_tokens_details") or {}).get("cached_tokens", 0)
        reasoning = (usage.get("output_tokens_details") or {}).get("reasoning_tokens", 0)
        return _kinds(input=usage["input_tokens"] - cached, cached_input=cached,
                      output=usage["output_tokens"] - reasoning, reasoning=reasoning)


class EmbeddingsApi(Api):
    def _payload(self) -> dict[str, Any]:
        return {"input": [PROMPT, "second input"]}

    def text(self, answer: dict[str, Any]) -> str:
        return ""

    def check_shape(self, answer: dict[str, Any]) -> None:
        assert answer["object"] == "list", answer
        assert [d["index"] for d in answer["data"]] == [0, 1], answer
        assert all(isinstance(d["embedding"], list) and d["embedding"] for d in answer["data"])


class MessagesApi(Api):
    def body(self, model: str, stream: bool = False, **extra: Any) -> dict[str, Any]:
        return super().body(model, stream, **{"max_tokens": 64, **extra})

    def text(self, answer: dict[str, Any]) -> str:
        return "".join(b["text"] for b in answer["content"] if b["type"] == "text")

    def check_shape(self, answer: dict[str, Any]) -> None:
        assert answer["type"] == "message" and answer["role"] == "assistant", answer

    def stream_text(self, events: list[SseEvent]) -> str:
        return "".join(e["delta"].get("text", "") for e in _json_events(events)
                       if e.get("type") == "content_block_delta")

    def stream_finished(self, events: list[SseEvent]) -> bool:
        return bool(events) and events[-1].event == "message_stop"

    def stream_usage(self, events: list[SseEvent]) -> dict[str, Any] | None:
        evs = _json_events(events)
        start = next((e["message"].get("usage") for e in evs if e.get("type") == "message_start"),
                     None)
        delta = next((e.get("usage") for e in evs if e.get("type") == "message_delta"), None)
        if start is None or delta is None:
            return None
        return {**start, **delta}

    def token_kinds(self, usage: dict[str, Any]) -> dict[str, int]:
        return _kinds(input=usage["input_tokens"],
                      cached_input=usage.get("cache_read_input_tokens") or 0,
                      cache_write=usage.get("cache_creation_input_tokens") or 0,
                      output=usage["output_tokens"])


CHAT = ChatApi("chat", "/v1/chat/completions")
RESPONSES = ResponsesApi("responses", "/v1/responses")
EMBEDDINGS = EmbeddingsApi("embeddings", "/v1/embeddings", streams=False, route="embed")
COMPLETIONS = CompletionsApi("completions", "/v1/completions")
MESSAGES = MessagesApi("messages", "/v1/messages", anthropic=True, route="claude")
METERED = (CHAT, RESPONSES, EMBEDDINGS, COMPLETIONS, MESSAGES)
STREAMING = tuple(a for a in METERED if a.streams)


def _json_events(events: list[SseEvent]) -> list[dict[str, Any]]:
    return [e.json() for e in events if e.data.startswith("{")]


def _kinds(**values: int) -> dict[str, int]:
    return {kind: values.get(kind, 0) for kind in TOKEN_KINDS}


def expected_cost(kinds: dict[str, int], price: dict[str, Decimal]) -> Decimal:
    """USD, exact: Σ tokens × price per 1M, rounded half up to the nano-USD."""
    unit = {"input": price.get("input", Decimal(0)), "output": price.get("output", Decimal(0))}
    unit["cached_input"] = price.get("cached_input", unit["input"])
    unit["cache_write"] = price.get("cache_write", unit["input"])
    unit["reasoning"] = price.get("reasoning", unit["output"])
    total = sum(Decimal(kinds[k]) * unit[k] for k in TOKEN_KINDS) / Decimal(10**6)
    return total.quantize(Decimal("0.000000001"), rounding=ROUND_HALF_UP)
