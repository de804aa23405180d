"""Concurrent load: one request as the client saw it, a bounded pool of clients, records.

Used by the reconciliation and durability tests: many requests from a few threads, each
remembered with its request id and whether the client received the whole response, then
checked against the ledger (`GET /admin/requests/{id}`) and `/metrics`.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TypeVar

from .apis import Api
from .client import SseEvent, SseStream, request
from .metrics import Metrics

T = TypeVar("T")
R = TypeVar("R")

CLIENT_ERRORS = (OSError, http.client.HTTPException, socket.timeout)


@dataclass
class Exchange:
    """What the client saw of one request."""
    status: int | None = None
    request_id: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None                  # the parsed JSON body (non-streaming or error answers)
    events: list[SseEvent] = field(default_factory=list)
    # The whole response arrived: a complete body, or a stream whose final event
    # ([DONE], message_stop, response.completed) was seen and whose body then ended properly.
    finished: bool = False
    final_event: bool = False         # a stream's final event was seen (its end maybe not)
    error: str | None = None          # the client-side failure, if any

    @property
    def delivered(self) -> bool:
        """The client has the whole answer: a full body, or a stream up to its final event."""
        return self.finished or self.final_event

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def send(port: int, api: Api, body: dict[str, Any], headers: dict[str, str],
         timeout: float = 30.0) -> Exchange:
    """One request on a fresh connection; never raises for network trouble."""
    if body.get("stream"):
        return _send_stream(port, api, body, headers, timeout)
    out = Exchange()
    try:
        resp = request(port, "POST", api.path, body, headers, timeout=timeout)
    except CLIENT_ERRORS as e:
        out.error = f"{type(e).__name__}: {e}"
        return out
    out.status, out.headers = resp.status, resp.headers
    out.request_id = resp.header("x-spendwall-request-id")
    try:
        out.body = json.loads(resp.body)
    except ValueError:
        out.error = f"not JSON: {resp.body[:200]!r}"
        return out
    out.finished = True
    return out


def _send_stream(port: int, api: Api, body: dict[str, Any], headers: dict[str, str],
                 timeout: float) -> Exchange:
    out = Exchange()
    try:
        with SseStream(port, api.path, body, headers, timeout=timeout) as s:
            out.status, out.headers = s.status, s.response.getheaders()
            out.request_id = s.response.getheader("x-spendwall-request-id")
            content_type = s.response.getheader("content-type") or ""
            if s.status != 200 or "event-stream" not in content_type:
                raw = s.response.read()
                out.body = json.loads(raw)
                out.finished = True
                return out
            out.events = list(s.events())
            out.final_event = api.stream_finished(out.events)
            out.finished = s.complete and out.final_event
    except CLIENT_ERRORS as e:
        out.error = f"{type(e).__name__}: {e}"
    except ValueError as e:
        out.error = f"bad body: {e}"
    return out


def run_pool(fn: Callable[[T], R], items: Iterable[T], threads: int,
             timeout: float) -> list[R]:
    """fn(item) for every item on `threads` threads, results in order; fails after `timeout`."""
    items = list(items)
    pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="load")
    try:
        futures = [pool.submit(fn, item) for item in items]
        _, pending = concurrent.futures.wait(futures, timeout=timeout)
        if pending:
            raise AssertionError(f"{len(pending)} of {len(items)} calls unfinished after "
                                 f"{timeout}s ({threads} threads)")
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class Clients:
    """`threads` clients that each call `fn(index)` in a loop until stopped or failing.

    Results (or exceptions) are collected in order of completion. Threads are daemons and
    `stop()` waits for them, bounded: each call must itself be bounded (socket timeouts).
    """

    def __init__(self, fn: Callable[[int], R], threads: int):
        self.fn = fn
        self.results: list[R] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._counter = 0
        self._threads = [threading.Thread(target=self._run, daemon=True, name=f"client-{i}")
                         for i in range(threads)]

    def start(self) -> "Clients":
        for t in self._threads:
            t.start()
        return self

    def _next(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _run(self) -> None:
        while not self._stop.is_set():
            index = self._next()
            try:
                result = self.fn(index)
            except BaseException as e:  # reported by the test
                with self._lock:
                    self.errors.append(e)
                return
            with self._lock:
                self.results.append(result)

    def snapshot(self) -> list[R]:
        with self._lock:
            return list(self.results)

    def stop(self, timeout: float = 60.0) -> list[R]:
        """Asks every client to stop after its current call; waits up to `timeout` in all."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            raise AssertionError(f"clients still running {timeout}s after stop: {alive}")
        return self.snapshot()


def fetch_record(admin_port: int, request_id: str) -> tuple[int, Any]:
    """`GET /admin/requests/{id}`: (status, JSON body)."""
    resp = request(admin_port, "GET", f"/admin/requests/{request_id}", timeout=30)
    return resp.status, resp.json()


def fetch_records(admin_port: int, request_ids: Iterable[str], threads: int = 4,
                  wait: float = 10.0, timeout: float = 120.0) -> dict[str, tuple[int, Any]]:
    """Every record, concurrently: {id: (status, JSON)}. Ids answered 404 are asked again
    for up to `wait` seconds in all (a record may land just after its response)."""
    ids = list(request_ids)
    deadline = time.monotonic() + timeout
    records = dict(zip(ids, run_pool(lambda rid: fetch_record(admin_port, rid), ids, threads,
                                     timeout)))
    settle = time.monotonic() + wait
    while (missing := [rid for rid, (status, _) in records.items() if status == 404]) \
            and time.monotonic() < settle:
        time.sleep(0.5)
        left = max(1.0, deadline - time.monotonic())
        records.update(zip(missing, run_pool(lambda rid: fetch_record(admin_port, rid),
                                             missing, threads, left)))
    return records


def series(metrics: Metrics, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """The samples of `name` summed by the values of `labels` (missing labels read "")."""
    out: dict[tuple[str, ...], float] = {}
    for s in metrics.samples:
        if s.name == name:
            key = tuple(s.labels.get(label, "") for label in labels)
            out[key] = out.get(key, 0.0) + s.value
    return out
