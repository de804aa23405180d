"""HTTP clients for the tests: http.client for normal requests, raw sockets for hygiene."""

from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

HOST = "127.0.0.1"
DEFAULT_TIMEOUT = 15.0

Body = dict[str, Any] | bytes | str | None


def encode_body(body: Body) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def auth_headers(key: str | None, scheme: str = "bearer") -> dict[str, str]:
    """The client's key as `Authorization: Bearer` or `x-api-key`."""
    if key is None:
        return {}
    if scheme == "bearer":
        return {"Authorization": f"Bearer {key}"}
    if scheme == "x-api-key":
        return {"x-api-key": key}
    raise ValueError(scheme)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError(f"not JSON (status {self.status}): {self.body[:500]!r}") from e

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.headers}, {self.body[:300]!r})"


def request(port: int, method: str, path: str, body: Body = None,
            headers: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT) -> Response:
    """One request on a fresh connection."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=encode_body(body), headers=headers or {})
        resp = conn.getresponse()
        return Response(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


# --------------------------------------------------------------------------- SSE


@dataclass
class SseEvent:
    event: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse_lines(lines: Iterator[str]) -> Iterator[SseEvent]:
    """Yields SSE events from text lines (comments and `id:`/`retry:` fields ignored)."""
    event: str | None = None
    data: list[str] = []
    for line in lines:
        line = line.rstrip("\r\n")
        if not line:
            if data or event:
                yield SseEvent(event, "\n".join(data))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data or event:
        yield SseEvent(event, "\n".join(data))


@dataclass
class StreamResult:
    status: int
    headers: list[tuple[str, str]]
    events: list[SseEvent]
    complete: bool          # False when the body ended without proper framing
    raw: bytes = b""        # the body, for error responses

    header = Response.header
    header_values = Response.header_values

    def json(self) -> Any:
        return json.loads(self.raw)

    def data_json(self) -> list[Any]:
        """The JSON payloads of every event whose data is JSON (so not `[DONE]`)."""
        return [e.json() for e in self.events if e.data.startswith("{")]


class SseStream:
    """A streaming request whose events can be read as they arrive."""

    def __init__(self, port: int, path: str, body: Body, headers: dict[str, str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.conn.request("POST", path, body=encode_body(body),
                          headers={"Accept": "text/event-stream", **(headers or {})})
        self.response = self.conn.getresponse()
        self.complete = False

    @property
    def status(self) -> int:
        return self.response.status

    def _lines(self) -> Iterator[str]:
        try:
            while True:
                line = self.response.readline()
                if not line:
                    self.complete = True
                    return
                yield line.decode("utf-8")
        except (http.client.IncompleteRead, ConnectionError, socket.timeout, OSError):
            return

    def events(self) -> Iterator[SseEvent]:
        return parse_sse_lines(self._lines())

    def read_all(self) -> StreamResult:
        headers = self.response.getheaders()
        if self.status != 200 or "event-stream" not in (self.response.getheader(
                "content-type") or ""):
            raw = self.response.read()
            return StreamResult(self.status, headers, [], True, raw)
        events = list(self.events())
        return StreamResult(self.status, headers, events, self.complete)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "SseStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stream(port: int, path: str, body: Body, headers: dict[str, str] | None = None,
           timeout: float = DEFAULT_TIMEOUT) -> StreamResult:
    with SseStream(port, path, body, headers, timeout) as s:
        return s.read_all()


# --------------------------------------------------------------------------- raw sockets


class RawConnection:
    """A plain TCP connection for hand-written (and malformed) requests."""

    def __init__(self, port: int, timeout: float = 5.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self._reader: _KeptReader | None = None

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_response(self, method: str = "POST") -> Response:
        # One buffered reader for every response: pipelined answers can arrive in one read,
        # and a reader per response would drop the bytes the previous one read ahead.
        if self._reader is None:
            self._reader = _KeptReader(self.sock.makefile("rb"))
        resp = http.client.HTTPResponse(self._reader, method=method)  # type: ignore[arg-type]
        resp.begin()
        return Response(resp.status, resp.getheaders(), resp.read())

    def exchange(self, data: bytes, method: str = "POST") -> Response:
        self.send(data)
        return self.read_response(method)

    def closed_by_peer(self, within: float) -> bool:
        """True when the peer closes (FIN or RST) within `within` seconds; data is discarded."""
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                return False
            except OSError:
                return True
        return False

    def drip(self, pieces: Iterable[bytes], every: float, limit: float) -> bool:
        """Sends one piece every `every` seconds for at most `limit` seconds; True as soon as
        the peer closes the connection (slowloris clients)."""
        started = time.monotonic()
        for piece in pieces:
            try:
                self.send(piece)
            except OSError:
                return True
            if self.closed_by_peer(within=every):
                return True
            if time.monotonic() - started > limit:
                return False
        return False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _KeptReader:
    """A socket's buffered reader that http.client may "close" after each response."""

    def __init__(self, reader: Any):
        self._reader = reader

    def makefile(self, *args: Any, **kwargs: Any) -> "_KeptReader":
        return self

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


def raw_request(method: str, path: str, headers: list[tuple[str, str]],
                body: bytes = b"") -> bytes:
    """Serializes a request exactly as given (no header is added)."""
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("latin-1") + b"\r\n" + body


def wait_until(predicate, timeout: float, interval: float = 0.05, message: str = "condition"):
    """Polls `predicate` until it returns a truthy value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def connection_refused(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
