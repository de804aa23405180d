#!/usr/bin/env python3
"""A fake model provider for black-box tests: OpenAI and Anthropic shapes over HTTP/1.1.

Stdlib only (asyncio). It speaks keep-alive HTTP/1.1, optionally over TLS, and serves

  POST /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/completions  (OpenAI)
  POST /v1/messages                                                           (Anthropic)
  GET  /v1/models
  GET  /_fake/requests     every request received so far, as JSON
  DELETE /_fake/requests   forget them

non-streaming and SSE streaming (chunked transfer encoding), with deterministic usage
derived from the request. A request header steers the answer:

  x-fake-scenario: status=429;retry-after=1     provider-style error body, optional Retry-After
  x-fake-scenario: delay-ms=2000                wait before the response head
  x-fake-scenario: chunk-delay-ms=50            wait between SSE events
  x-fake-scenario: stream-reset-after=3         abort the connection (RST) after 3 SSE events
  x-fake-scenario: close-before-head            read the request, close without answering
  x-fake-scenario: garbage-response             answer bytes that are not HTTP
  x-fake-scenario: oversized=1048576            a valid JSON body of that many bytes
  x-fake-scenario: words=20                     reply length in words (one SSE delta each)
  x-fake-scenario: cached=5;reasoning=3         token details reported in usage
  x-fake-scenario: no-usage                     omit usage from the answer
  x-fake-scenario: bad-json                     200 application/json whose body is not JSON
  x-fake-scenario: html                         200 text/html login page instead of JSON/SSE
  x-fake-scenario: reset-before-head            read the request, abort (RST) without answering
  x-fake-scenario: reset-mid-head               half a response head, then RST
  x-fake-scenario: reset-mid-body               the head and half a JSON body, then RST
  x-fake-scenario: trickle-ms=100               a JSON body in 8-byte pieces, 100 ms apart
  x-fake-scenario: endless                      a chat stream that never ends (deltas forever)
  x-fake-scenario: piece-bytes=4096             pad every reply piece (SSE delta) to that size

Items are separated by ';' (',' works too). A server-wide default scenario (--scenario, or
the `scenario` argument) applies to every request that carries none.

Standalone:  python3 fake_upstream.py --port 0 [--tls-cert C --tls-key K]   (prints the port)
In-process:  with FakeUpstream() as fake: fake.port, fake.requests(), fake.clear()
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import socket
import ssl
import struct
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
EMBEDDING_DIMENSIONS = 8

OPENAI_PATHS = ("/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions")
ANTHROPIC_PATHS = ("/v1/messages",)

REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
    422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout", 529: "Overloaded",
}


class BadRequest(Exception):
    """The client's bytes are not a request this server can read."""


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    status: int | None = None
    retry_after: str | None = None
    delay_ms: int = 0
    chunk_delay_ms: int = 0
    stream_reset_after: int | None = None
    close_before_head: bool = False
    garbage_response: bool = False
    oversized: int | None = None
    words: int | None = None
    cached: int = 0
    reasoning: int = 0
    no_usage: bool = False
    bad_json: bool = False
    html: bool = False
    reset_before_head: bool = False
    reset_mid_head: bool = False
    reset_mid_body: bool = False
    trickle_ms: int = 0
    endless: bool = False
    piece_bytes: int = 0

    @staticmethod
    def parse(text: str | None) -> "Scenario":
        if not text:
            return Scenario()
        values: dict[str, Any] = {}
        ints = {"status", "delay-ms", "chunk-delay-ms", "stream-reset-after", "oversized",
                "words", "cached", "reasoning", "trickle-ms",
                "piece-bytes"}
        flags = {"close-before-head", "garbage-response", "no-usage", "bad-json", "html",
                 "reset-before-head", "reset-mid-head", "reset-mid-body", "endless"}
        for item in text.replace(",", ";").split(";"):
            item = item.strip()
            if not item:
                continue
            key, _, value = item.partition("=")
            key = key.strip().lower()
            if key in ints:
                values[key.replace("-", "_")] = int(value)
            elif key in flags:
                values[key.replace("-", "_")] = True
            elif key == "retry-after":
                values["retry_after"] = value.strip()
            else:
                raise ValueError(f"unknown scenario item {item!r}")
        return Scenario(**values)


# --------------------------------------------------------------------------- recording


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    tls: bool
    server_name: str | None
    connection_id: int
    at: float
    usage: dict[str, Any] | None = None  # what this server reported, when it did
    events_sent: int = 0                 # SSE events written so far (grows while streaming)
    ended: bool = False                  # the answer was written, or the connection broke

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self) -> Any:
        return json.loads(self.body)

    def to_dict(self) -> dict[str, Any]:
        try:
            parsed: Any = json.loads(self.body) if self.body else None
        except ValueError:
            parsed = None
        return {
            "method": self.method, "path": self.path, "headers": [list(h) for h in self.headers],
            "body": self.body.decode("utf-8", "replace"), "json": parsed, "tls": self.tls,
            "server_name": self.server_name, "connection_id": self.connection_id,
            "at": self.at, "usage": self.usage, "events_sent": self.events_sent,
            "ended": self.ended,
        }


# --------------------------------------------------------------------------- HTTP I/O


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def wants_close(self) -> bool:
        conn = (self.header("connection") or "").lower()
        return "close" in conn or (self.version == "HTTP/1.0" and "keep-alive" not in conn)


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Reads one request; None on a clean EOF before any byte."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise BadRequest("connection closed inside the request head") from e
    except asyncio.LimitOverrunError as e:
        raise BadRequest("request head too large") from e
    lines = head[:-4].decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ")
    except ValueError as e:
        raise BadRequest(f"bad request line {lines[0]!r}") from e
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(f"bad header line {line!r}")
        headers.append((name, value.strip()))
    request = Request(method, target, version, headers)
    te = (request.header("transfer-encoding") or "").lower()
    if te == "chunked":
        request.body = await read_chunked(reader)
    elif te:
        raise BadRequest(f"unsupported transfer-encoding {te!r}")
    else:
        length = int(request.header("content-length") or 0)
        if length > MAX_BODY_BYTES:
            raise BadRequest("body too large")
        request.body = await reader.readexactly(length)
    return request


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest("body too large")
        if await reader.readexactly(2) != b"\r\n":
            raise BadRequest("bad chunk framing")


def compact_json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def abort_with_reset(writer: asyncio.StreamWriter) -> None:
    """Closes the connection with a TCP RST instead of an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Exchange:
    """Writes one response: either a whole body or an SSE stream in chunks."""

    def __init__(self, writer: asyncio.StreamWriter, scenario: Scenario, keep_alive: bool,
                 record: RecordedRequest | None = None):
        self.writer = writer
        self.scenario = scenario
        self.keep_alive = keep_alive
        self.record = record
        self.events_sent = 0
        self.reset = False

    def _connection_header(self) -> list[tuple[str, str]]:
        return [("Connection", "keep-alive" if self.keep_alive else "close")]

    async def send_body(self, status: int, body: bytes, content_type: str = "application/json",
                        extra: list[tuple[str, str]] | None = None) -> None:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        headers += extra or []
        headers += self._connection_header()
        head = response_head(status, headers)
        if self.scenario.reset_mid_head:
            return await self._abort_after(head[:len(head) // 2])
        if self.scenario.reset_mid_body:
            return await self._abort_after(head + body[:len(body) // 2])
        if self.scenario.trickle_ms:
            return await self._trickle(head + body)
        self.writer.write(head + body)
        await self.writer.drain()

    async def _abort_after(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()
        await asyncio.sleep(0.05)  # let the bytes leave before the RST
        abort_with_reset(self.writer)
        self.reset = True

    async def _trickle(self, data: bytes) -> None:
        for i in range(0, len(data), 8):
            self.writer.write(data[i:i + 8])
            await self.writer.drain()
            await asyncio.sleep(self.scenario.trickle_ms / 1000)

    async def send_json(self, status: int, obj: Any,
                        extra: list[tuple[str, str]] | None = None) -> None:
        await self.send_body(status, compact_json(obj).encode(), extra=extra)

    async def start_stream(self) -> None:
        headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                   ("Transfer-Encoding", "chunked")] + self._connection_header()
        self.writer.write(response_head(200, headers))
        await self.writer.drain()

    async def event(self, data: str, event: str | None = None) -> bool:
        """Sends one SSE event in its own chunk. False once the scenario cut the stream."""
        if self.reset:
            return False
        if self.scenario.stream_reset_after is not None and \
                self.events_sent >= self.scenario.stream_reset_after:
            abort_with_reset(self.writer)
            self.reset = True
            return False
        if self.events_sent and self.scenario.chunk_delay_ms:
            await asyncio.sleep(self.scenario.chunk_delay_ms / 1000)
        elif self.scenario.endless:
            await asyncio.sleep(0)  # an endless stream must not starve the other connections
        payload = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
        raw = payload.encode()
        self.writer.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        await self.writer.drain()
        self.events_sent += 1
        if self.record is not None:
            self.record.events_sent = self.events_sent
        return True

    async def json_event(self, obj: Any, event: str | None = None) -> bool:
        return await self.event(compact_json(obj), event)

    async def end_stream(self) -> None:
        if not self.reset:
            self.writer.write(b"0\r\n\r\n")
            await self.writer.drain()


# --------------------------------------------------------------------------- content


def collect_texts(value: Any) -> list[str]:
    """Every text a model would read in a request fragment (strings, `text` fields)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for item in value for t in collect_texts(item)]
    if isinstance(value, dict):
        texts = []
        for key in ("content", "text", "input", "prompt", "system", "instructions"):
            if key in value:
                texts += collect_texts(value[key])
        return texts
    return []


def count_input_tokens(body: dict[str, Any]) -> int:
    """Deterministic token count: about 4 bytes a token plus 3 per message."""
    texts = [t for key in ("messages", "input", "prompt", "system", "instructions")
             for t in collect_texts(body.get(key))]
    messages = body.get("messages")
    framing = 3 * len(messages) if isinstance(messages, list) else 0
    return max(1, sum(max(1, len(t.encode()) // 4) for t in texts) + framing)


def max_output_tokens(body: dict[str, Any]) -> int | None:
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        if isinstance(body.get(key), int):
            return body[key]
    return None


def reply_words(model: str, scenario: Scenario, limit: int | None) -> tuple[list[str], bool]:
    """The reply as a list of word pieces (each one token); True when cut by the limit."""
    base = f"This is a deterministic reply from {model} written by the fake upstream.".split()
    count = scenario.words if scenario.words is not None else len(base)
    words = [w for w, _ in zip(itertools.cycle(base), range(count))]
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    if limit is not None and limit < len(pieces):
        return pieces[:limit], True
    return pieces, False


def embedding_for(text: str, index: int) -> list[float]:
    seed = sum(text.encode()) + index
    return [round(((seed * (i + 7)) % 1000) / 1000 - 0.5, 3) for i in range(EMBEDDING_DIMENSIONS)]


class Usage:
    """Deterministic usage of one exchange, rendered in each API's shape."""

    def __init__(self, input_tokens: int, output_tokens: int, scenario: Scenario):
        self.cached = min(scenario.cached, input_tokens)
        self.reasoning = scenario.reasoning
        self.input = input_tokens
        self.output = output_tokens + self.reasoning  # visible + reasoning

    def chat(self) -> dict[str, Any]:
        return {"prompt_tokens": self.input, "completion_tokens": self.output,
                "total_tokens": self.input + self.output,
                "prompt_tokens_details": {"cached_tokens": self.cached, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": self.reasoning,
                                              "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0,
                                              "rejected_prediction_tokens": 0}}

    def responses(self) -> dict[str, Any]:
        return {"input_tokens": self.input, "input_tokens_details": {"cached_tokens": self.cached},
                "output_tokens": self.output,
                "output_tokens_details": {"reasoning_tokens": self.reasoning},
                "total_tokens": self.input + self.output}

    def embeddings(self) -> dict[str, Any]:
        return {"prompt_tokens": self.input, "total_tokens": self.input}

    def anthropic(self) -> dict[str, Any]:
        # Anthropic reports uncached input (`cached` maps to cache reads), no reasoning.
        return {"input_tokens": self.input - self.cached,
                "output_tokens": self.output - self.reasoning,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": self.cached}


def error_body(status: int, message: str, anthropic: bool) -> dict[str, Any]:
    """The error body a real provider sends for `status`, in its own API's shape."""
    if anthropic:
        kind = {400: "invalid_request_error", 401: "authentication_error",
                403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                429: "rate_limit_error", 529: "overloaded_error"}.get(
                    status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    kind, code = {401: ("invalid_request_error", "invalid_api_key"),
                  404: ("invalid_request_error", "not_found"),
                  429: ("requests", "rate_limit_exceeded")}.get(
                      status, ("server_error", None) if status >= 500
                      else ("invalid_request_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


SCENARIO_ERROR_MESSAGE = "Scenario error"


# --------------------------------------------------------------------------- the server


class FakeUpstreamServer:
    """The asyncio server. Use FakeUpstream (a thread) or run() (standalone)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 tls_cert: str | None = None, tls_key: str | None = None,
                 scenario: str | None = None):
        self.host = host
        self.port = port
        self.default_scenario = scenario
        self.ssl_context: ssl.SSLContext | None = None
        if tls_cert:
            self.ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ssl_context.load_cert_chain(tls_cert, tls_key)
            self.ssl_context.sni_callback = self._remember_sni
        self._sni_by_ssl_object: dict[int, str | None] = {}
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._connection_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self.connections_accepted = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # ---- recording (thread-safe)
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def _record(self, rec: RecordedRequest) -> None:
        with self._lock:
            self._records.append(rec)

    def _remember_sni(self, ssl_object: ssl.SSLObject, server_name: str | None, _ctx) -> None:
        self._sni_by_ssl_object[id(ssl_object)] = server_name

    # ---- lifecycle
    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_connection, self.host, self.port, ssl=self.ssl_context,
            limit=MAX_HEAD_BYTES, ssl_handshake_timeout=10 if self.ssl_context else None)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    # ---- connections
    async def _serve_connection(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.connections_accepted += 1
        connection_id = next(self._connection_ids)
        ssl_object = writer.get_extra_info("ssl_object")
        server_name = self._sni_by_ssl_object.pop(id(ssl_object), None) if ssl_object else None
        try:
            while True:
                try:
                    request = await read_request(reader)
                except (BadRequest, ValueError) as e:
                    writer.write(response_head(400, [("Content-Length", str(len(str(e)))),
                                                     ("Connection", "close")]) + str(e).encode())
                    await writer.drain()
                    return
                if request is None:
                    return
                keep_alive = await self._handle(request, writer, connection_id, server_name)
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            return
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                with contextlib.suppress(Exception):
                    writer.close()

    async def _handle(self, request: Request, writer: asyncio.StreamWriter, connection_id: int,
                      server_name: str | None) -> bool:
        """Answers one request; returns whether the connection may carry another."""
        if request.path == "/_fake/requests":
            return await self._handle_introspection(request, writer)

        record = RecordedRequest(request.method, request.target, request.headers, request.body,
                                 self.ssl_context is not None, server_name, connection_id,
                                 time.time())
        self._record(record)
        try:
            scenario = Scenario.parse(request.header("x-fake-scenario") or self.default_scenario)
        except ValueError as e:
            exchange = Exchange(writer, Scenario(), keep_alive=False)
            await exchange.send_json(400, {"error": {"message": str(e), "type": "fake_error"}})
            return False

        if scenario.delay_ms:
            await asyncio.sleep(scenario.delay_ms / 1000)
        if scenario.close_before_head:
            writer.close()
            return False
        if scenario.reset_before_head:
            abort_with_reset(writer)
            return False
        if scenario.garbage_response:
            writer.write(b"\x00\x01 this is not HTTP at all \xff\r\n\r\n{{{{")
            await writer.drain()
            writer.close()
            return False

        exchange = Exchange(writer, scenario, keep_alive=not request.wants_close(),
                            record=record)
        try:
            await Handler(self, request, record, scenario, exchange).run()
        finally:
            record.ended = True
        return exchange.keep_alive and not exchange.reset

    async def _handle_introspection(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        exchange = Exchange(writer, Scenario(), keep_alive=not request.wants_close())
        if request.method == "GET":
            await exchange.send_json(200, {"requests": [r.to_dict() for r in self.requests()]})
        elif request.method == "DELETE":
            self.clear()
            await exchange.send_json(200, {"cleared": True})
        else:
            await exchange.send_json(405, {"error": {"message": "method not allowed"}})
        return exchange.keep_alive

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"


class Handler:
    """One API request: validates a little, then answers in the API's shape."""

    def __init__(self, server: FakeUpstreamServer, request: Request, record: RecordedRequest,
                 scenario: Scenario, exchange: Exchange):
        self.server = server
        self.request = request
        self.record = record
        self.scenario = scenario
        self.exchange = exchange
        self.anthropic = request.path in ANTHROPIC_PATHS

    async def run(self) -> None:
        path = self.request.path
        if path not in OPENAI_PATHS + ANTHROPIC_PATHS + ("/v1/models",):
            return await self.error(404, f"Unknown path {path}")
        if path == "/v1/models":
            if self.request.method != "GET":
                return await self.error(405, "Method not allowed")
            return await self.exchange.send_json(200, {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}]})
        if self.request.method != "POST":
            return await self.error(405, "Method not allowed")
        if self.scenario.status is not None:
            retry_after = self.scenario.retry_after
            extra = [("retry-after", retry_after)] if retry_after else []
            return await self.error(self.scenario.status, SCENARIO_ERROR_MESSAGE, extra)
        if self.scenario.bad_json:
            return await self.exchange.send_body(200, b'{"id": "broken", "choices": [')
        if self.scenario.html:
            return await self.exchange.send_body(
                200, b"<html><body>Please sign in to the corporate gateway</body></html>",
                content_type="text/html; charset=utf-8")
        if self.scenario.oversized is not None:
            return await self.send_oversized(self.scenario.oversized)
        try:
            body = json.loads(self.request.body)
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as e:
            return await self.error(400, f"Invalid JSON body: {e}")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return await self.error(400, "model is required")
        if self.anthropic and not isinstance(body.get("max_tokens"), int):
            return await self.error(400, "max_tokens: Field required")

        handlers = {"/v1/chat/completions": self.chat, "/v1/responses": self.responses,
                    "/v1/embeddings": self.embeddings, "/v1/completions": self.completions,
                    "/v1/messages": self.messages}
        await handlers[path](body, model)

    # ---- errors
    async def error(self, status: int, message: str,
                    extra: list[tuple[str, str]] | None = None) -> None:
        await self.exchange.send_json(status, error_body(status, message, self.anthropic), extra)

    async def send_oversized(self, size: int) -> None:
        prefix, suffix = b'{"id":"oversized","padding":"', b'"}'
        filler = max(0, size - len(prefix) - len(suffix))
        await self.exchange.send_body(200, prefix + b"x" * filler + suffix)

    # ---- shared pieces
    def usage_for(self, body: dict[str, Any], output_tokens: int) -> Usage | None:
        if self.scenario.no_usage:
            return None
        return Usage(count_input_tokens(body), output_tokens, self.scenario)

    def remember(self, usage: dict[str, Any] | None) -> dict[str, Any] | None:
        self.record.usage = usage
        return usage

    def words(self, body: dict[str, Any], model: str) -> tuple[list[str], bool]:
        pieces, cut = reply_words(model, self.scenario, max_output_tokens(body))
        if self.scenario.piece_bytes:
            pieces = [p.ljust(self.scenario.piece_bytes, ".") for p in pieces]
        return pieces, cut

    # ---- OpenAI chat completions
    async def chat(self, body: dict[str, Any], model: str) -> None:
        pieces, cut = self.words(body, model)
        usage = self.usage_for(body, len(pieces))
        rid, created = self.server.next_id("chatcmpl-fake"), int(time.time())
        finish = "length" if cut else "stop"
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(pieces), "refusal": None}
            answer = {"id": rid, "object": "chat.completion", "created": created, "model": model,
                      "choices": [{"index": 0, "message": message, "logprobs": None,
                                   "finish_reason": finish}],
                      "system_fingerprint": "fp_fake"}
            if usage:
                answer["usage"] = self.remember(usage.chat())
            return await self.exchange.send_json(200, answer)

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(choices: list[Any], **extra: Any) -> dict[str, Any]:
            obj = {"id": rid, "object": "chat.completion.chunk", "created": created,
                   "model": model, "system_fingerprint": "fp_fake", "choices": choices}
            if include_usage:
                obj["usage"] = None
            obj.update(extra)
            return obj

        def delta(d: dict[str, Any], finish_reason: str | None = None) -> list[Any]:
            return [{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish_reason}]

        await self.exchange.start_stream()
        first = [chunk(delta({"role": "assistant", "content": "", "refusal": None}))]
        if self.scenario.endless:
            forever = (chunk(delta({"content": p})) for p in itertools.cycle(pieces or [" "]))
            return await self.stream_json(itertools.chain(first, forever))
        events = first + [chunk(delta({"content": p})) for p in pieces]
        events.append(chunk(delta({}, finish)))
        if include_usage and usage:
            events.append(chunk([], usage=self.remember(usage.chat())))
        await self.stream_json(events)
        if await self.exchange.event("[DONE]"):
            await self.exchange.end_stream()

    # ---- OpenAI legacy completions
    async def completions(self, body: dict[str, Any], model: str) -> None:
        pieces, cut = self.words(body, model)
        usage = self.usage_for(body, len(pieces))
        rid, created = self.server.next_id("cmpl-fake"), int(time.time())
        finish = "length" if cut else "stop"

        def choice(text: str, finish_reason: str | None) -> dict[str, Any]:
            return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}

        base = {"id": rid, "object": "text_completion", "created": created, "model": model,
                "system_fingerprint": "fp_fake"}
        if not body.get("stream"):
            answer = dict(base, choices=[choice("".join(pieces), finish)])
            if usage:
                answer["usage"] = self.remember(usage.chat())
            return await self.exchange.send_json(200, answer)

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        extra = {"usage": None} if include_usage else {}
        await self.exchange.start_stream()
        events = [dict(base, choices=[choice(p, None)], **extra) for p in pieces]
        events.append(dict(base, choices=[choice("", finish)], **extra))
        if include_usage and usage:
            events.append(dict(base, choices=[], usage=self.remember(usage.chat())))
        await self.stream_json(events)
        if await self.exchange.event("[DONE]"):
            await self.exchange.end_stream()

    # ---- OpenAI embeddings
    async def embeddings(self, body: dict[str, Any], model: str) -> None:
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            return await self.error(400, "input is required")
        base64_format = body.get("encoding_format") == "base64"
        data = []
        for i, item in enumerate(inputs):
            vector = embedding_for(str(item), i)
            encoded: Any = vector
            if base64_format:
                encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        answer: dict[str, Any] = {"object": "list", "data": data, "model": model}
        usage = self.usage_for(body, 0)
        if usage:
            answer["usage"] = self.remember(usage.embeddings())
        await self.exchange.send_json(200, answer)

    # ---- OpenAI Responses
    async def responses(self, body: dict[str, Any], model: str) -> None:
        pieces, cut = self.words(body, model)
        usage = self.usage_for(body, len(pieces))
        rid, msg_id = self.server.next_id("resp_fake"), self.server.next_id("msg_fake")
        text = "".join(pieces)
        status = "incomplete" if cut else "completed"

        def content_part(t: str) -> dict[str, Any]:
            return {"type": "output_text", "text": t, "annotations": [], "logprobs": []}

        def item(parts: list[Any], item_status: str) -> dict[str, Any]:
            return {"type": "message", "id": msg_id, "status": item_status, "role": "assistant",
                    "content": parts}

        def response(resp_status: str, output: list[Any], with_usage: bool) -> dict[str, Any]:
            obj = {"id": rid, "object": "response", "created_at": int(time.time()),
                   "status": resp_status, "error": None,
                   "incomplete_details": ({"reason": "max_output_tokens"}
                                          if resp_status == "incomplete" else None),
                   "instructions": body.get("instructions"),
                   "max_output_tokens": body.get("max_output_tokens"), "model": model,
                   "output": output, "parallel_tool_calls": True, "previous_response_id": None,
                   "temperature": 1.0, "tool_choice": "auto", "tools": [], "top_p": 1.0,
                   "truncation": "disabled", "usage": None, "metadata": {}}
            if with_usage and usage:
                obj["usage"] = self.remember(usage.responses())
            return obj

        final = response(status, [item([content_part(text)], "completed")], with_usage=True)
        if not body.get("stream"):
            return await self.exchange.send_json(200, final)

        seq = itertools.count()

        def ev(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
            return kind, {"type": kind, "sequence_number": next(seq), **fields}

        events = [ev("response.created", response=response("in_progress", [], False)),
                  ev("response.in_progress", response=response("in_progress", [], False)),
                  ev("response.output_item.added", output_index=0,
                     item=item([], "in_progress")),
                  ev("response.content_part.added", item_id=msg_id, output_index=0,
                     content_index=0, part=content_part(""))]
        events += [ev("response.output_text.delta", item_id=msg_id, output_index=0,
                      content_index=0, delta=p, logprobs=[]) for p in pieces]
        events += [ev("response.output_text.done", item_id=msg_id, output_index=0,
                      content_index=0, text=text, logprobs=[]),
                   ev("response.content_part.done", item_id=msg_id, output_index=0,
                      content_index=0, part=content_part(text)),
                   ev("response.output_item.done", output_index=0,
                      item=item([content_part(text)], "completed")),
                   ev("response.incomplete" if cut else "response.completed", response=final)]
        await self.exchange.start_stream()
        for kind, obj in events:
            if not await self.exchange.json_event(obj, event=kind):
                return
        await self.exchange.end_stream()

    # ---- Anthropic messages
    async def messages(self, body: dict[str, Any], model: str) -> None:
        pieces, cut = self.words(body, model)
        usage = self.usage_for(body, len(pieces))
        mid = self.server.next_id("msg_fake")
        stop_reason = "max_tokens" if cut else "end_turn"
        if not body.get("stream"):
            answer = {"id": mid, "type": "message", "role": "assistant", "model": model,
                      "content": [{"type": "text", "text": "".join(pieces)}],
                      "stop_reason": stop_reason, "stop_sequence": None}
            if usage:
                answer["usage"] = self.remember(usage.anthropic())
            return await self.exchange.send_json(200, answer)

        start_usage = dict(usage.anthropic(), output_tokens=1) if usage else None
        if usage:
            self.remember(usage.anthropic())
        message = {"id": mid, "type": "message", "role": "assistant", "model": model,
                   "content": [], "stop_reason": None, "stop_sequence": None}
        if start_usage:
            message["usage"] = start_usage
        delta_usage = {"output_tokens": usage.anthropic()["output_tokens"]} if usage else None
        events = [("message_start", {"type": "message_start", "message": message}),
                  ("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}}),
                  ("ping", {"type": "ping"})]
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "text_delta", "text": p}})
                   for p in pieces]
        message_delta: dict[str, Any] = {"type": "message_delta",
                                         "delta": {"stop_reason": stop_reason,
                                                   "stop_sequence": None}}
        if delta_usage:
            message_delta["usage"] = delta_usage
        events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   ("message_delta", message_delta),
                   ("message_stop", {"type": "message_stop"})]
        await self.exchange.start_stream()
        for kind, obj in events:
            if not await self.exchange.json_event(obj, event=kind):
                return
        await self.exchange.end_stream()

    async def stream_json(self, events: Iterable[dict[str, Any]]) -> None:
        for obj in events:
            if not await self.exchange.json_event(obj):
                return


# --------------------------------------------------------------------------- in-process


class FakeUpstream:
    """Runs a FakeUpstreamServer on its own event loop in a daemon thread.

    Usable as a context manager; `port`, `requests()`, `clear()` are thread-safe.
    """

    def __init__(self, tls_cert: str | None = None, tls_key: str | None = None,
                 scenario: str | None = None, host: str = "127.0.0.1"):
        self.server = FakeUpstreamServer(host, 0, tls_cert, tls_key, scenario)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="fake-upstream")

    def start(self) -> "FakeUpstream":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> "FakeUpstream":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def tls(self) -> bool:
        return self.server.ssl_context is not None

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.server.requests() if path is None or r.path == path]

    def clear(self) -> None:
        self.server.clear()


# --------------------------------------------------------------------------- standalone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--scenario", help="default x-fake-scenario for every request")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")

    async def run() -> None:
        server = FakeUpstreamServer(args.host, args.port, args.tls_cert, args.tls_key,
                                    args.scenario)
        await server.start()
        print(server.port, flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
