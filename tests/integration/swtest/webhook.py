"""A webhook receiver for alert sinks: fails its first POSTs, then records the events."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .client import HOST


class FlakyReceiver:
    """A webhook receiver that answers 500 to its first `failures` POSTs, then 200."""

    def __init__(self, failures: int):
        self.failures = failures
        self.attempts = 0
        self.received: list[tuple[dict[str, str], Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    receiver.attempts += 1
                    fail = receiver.attempts <= receiver.failures
                    if not fail:
                        receiver.received.append((dict(self.headers), json.loads(raw)))
                self.send_response(500 if fail else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}/hooks/spend"

    def events(self) -> list[tuple[dict[str, str], Any]]:
        with self._lock:
            return list(self.received)

    def __enter__(self) -> "FlakyReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
