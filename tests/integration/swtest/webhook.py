"""A webhook receiver for alert sinks: fails its first POSTs, then records the events."""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .client import HOST


class FlakyReceiver:
    """A webhook receiver that answers 500 to its first `failures` POSTs, then 200 — or, with
    `fail_first_of_each`, 500 to the first POST of every event id, and to `fail_rate` of
    the later ones (seeded, so runs repeat)."""

    def __init__(self, failures: int = 0, fail_first_of_each: bool = False,
                 fail_rate: float = 0.0, seed: int = 1):
        self.failures = failures
        self.fail_first_of_each = fail_first_of_each
        self.fail_rate = fail_rate
        self._random = random.Random(seed)
        self._seen_ids: set[str] = set()
        self.attempts = 0
        self.received: list[tuple[dict[str, str], Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                event = json.loads(raw)
                with receiver._lock:
                    receiver.attempts += 1
                    fail = receiver._fails(event)
                    if not fail:
                        receiver.received.append((dict(self.headers), event))
                self.send_response(500 if fail else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _fails(self, event: Any) -> bool:
        if self.attempts <= self.failures:
            return True
        event_id = event.get("id") if isinstance(event, dict) else None
        if self.fail_first_of_each and event_id not in self._seen_ids:
            self._seen_ids.add(event_id)
            return True
        return self._random.random() < self.fail_rate

    def delivered_ids(self) -> set[str]:
        with self._lock:
            return {e.get("id") for _, e in self.received if isinstance(e, dict)}

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
