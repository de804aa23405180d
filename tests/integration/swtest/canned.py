"""A one-answer upstream: every POST gets the same status, headers and body.

For provider answers the fake upstream's scenarios cannot shape (e.g. a context-length
400 whose body names the reason). Records the path and body of every request.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .client import HOST


class CannedUpstream:
    """`with CannedUpstream(400, {...}) as up:` up.port, up.requests() -> [(path, json)]."""

    def __init__(self, status: int, body: dict[str, Any],
                 headers: list[tuple[str, str]] | None = None):
        self.status = status
        self.body = json.dumps(body).encode()
        self.headers = headers or []
        self._seen: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        canned = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    parsed = None
                with canned._lock:
                    canned._seen.append((self.path, parsed))
                self.send_response(canned.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(canned.body)))
                for name, value in canned.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(canned.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="canned-upstream")

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def requests(self) -> list[tuple[str, Any]]:
        with self._lock:
            return list(self._seen)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def __enter__(self) -> "CannedUpstream":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
