"""Durability: a delivered response's record survives `kill -9` (PRODUCT.md §7).

"The record of a request whose response was delivered is not lost when the proxy process is
killed (`kill -9`): it reaches the operating system before the response's last byte reaches
the client." Concurrent clients (streaming and not) load a proxy with an SQLite ledger; it is
killed in the middle; a new process on the same config and ledger must hold the record of
every response a client received before the kill (the whole body, or a stream up to its
final `[DONE]` / `message_stop` / `response.completed` event), with the right status.
"""

from __future__ import annotations

import os
import random
import signal
import time
from typing import Any

from swtest.apis import CHAT, COMPLETIONS, EMBEDDINGS, MESSAGES, RESPONSES, Api
from swtest.client import auth_headers, wait_until
from swtest.config import APP_KEY
from swtest.load import Clients, Exchange, fetch_records, send
from swtest.process import Spendwall

CLIENTS = 6
LOAD_SECONDS = 3.0        # load before the kill
MIN_DELIVERED = 60        # and at least this many responses delivered (waited for, bounded)
LOAD_TIMEOUT = 60.0

# (api, route, stream, extra body): streams are slowed down so that some are in flight at
# the kill; every response is fully reported by the fake.
MIX: list[tuple[Api, str, bool, dict[str, Any]]] = [
    (CHAT, "gpt", False, {}),
    (CHAT, "gpt", True, {"stream_options": {"include_usage": True}}),
    (CHAT, "gpt", True, {}),
    (COMPLETIONS, "gpt", True, {"stream_options": {"include_usage": True}}),
    (EMBEDDINGS, "embed", False, {}),
    (RESPONSES, "gpt", False, {}),
    (RESPONSES, "gpt", True, {}),
    (MESSAGES, "claude", False, {}),
    (MESSAGES, "claude", True, {}),
    (CHAT, "forbidden", False, {}),  # a 403 has its record too
]


def one_request(port: int, index: int) -> tuple[Api, bool, Exchange]:
    api, route, stream, extra = MIX[index % len(MIX)]
    rng = random.Random(index)
    scenario = f"words={rng.randint(3, 25)}"
    if stream:
        scenario += f";chunk-delay-ms={rng.randint(2, 25)}"
    elif api is not EMBEDDINGS:
        scenario += f";delay-ms={rng.randint(0, 60)}"
    headers = {**auth_headers(APP_KEY), "x-fake-scenario": scenario}
    return api, stream, send(port, api, api.body(route, stream=stream, **extra), headers,
                             timeout=30)


def reported_tokens(api: Api, stream: bool, ex: Exchange) -> dict[str, int] | None:
    """Token kinds from the usage the client saw, if it saw any."""
    if ex.status != 200:
        return None
    usage = api.stream_usage(ex.events) if stream else ex.body.get("usage")
    return api.token_kinds(usage) if usage else None


def restart(proxy: Spendwall) -> Spendwall:
    """A new process on the very same config file (hard-linked, so that logs stay apart)."""
    again = proxy.config.with_name(f"{proxy.config.stem}-restarted{proxy.config.suffix}")
    os.link(proxy.config, again)
    return Spendwall(proxy.binary, again, proxy.env)


def test_delivered_responses_survive_kill_9(start_proxy, launcher, tmp_path):
    config = launcher.config({"ledger": {"backend": "sqlite",
                                         "path": str(tmp_path / "ledger.db")}})
    proxy = start_proxy(config=config)
    clients = Clients(lambda i: one_request(proxy.port, i), CLIENTS).start()
    started = time.monotonic()

    def loaded() -> bool:
        proxy.assert_alive()
        assert not clients.errors, clients.errors
        delivered = sum(ex.delivered for _, _, ex in clients.snapshot())
        return time.monotonic() - started >= LOAD_SECONDS and delivered >= MIN_DELIVERED

    try:
        wait_until(loaded, timeout=LOAD_TIMEOUT, message=f"{MIN_DELIVERED} delivered responses")
    finally:
        if proxy.alive():
            proxy.signal(signal.SIGKILL)  # kill -9 in the middle of the load (or of a failure)
        results = clients.stop(timeout=60)
        proxy.kill()  # reaps it
    assert proxy.proc.returncode == -signal.SIGKILL, proxy.output()
    assert not clients.errors, clients.errors

    delivered = [(api, stream, ex) for api, stream, ex in results if ex.delivered]
    statuses = [ex.status for _, _, ex in delivered]
    assert statuses.count(200) >= MIN_DELIVERED * 0.8, statuses
    assert all(ex.request_id for _, _, ex in delivered), "a response without a request id"

    survivor = restart(proxy)
    launcher.started.append(survivor)  # stopped (or reported dead) by the fixture
    survivor.start()

    records = fetch_records(survivor.admin_port, [ex.request_id for _, _, ex in delivered],
                            threads=4, wait=10)
    problems = []
    for api, stream, ex in delivered:
        status, record = records[ex.request_id]
        what = f"{ex.request_id} ({api.name}, stream={stream}, client got {ex.status})"
        if status != 200:
            problems.append(f"{what}: GET /admin/requests → {status} {record}")
            continue
        if record["status"] != ex.status or record["endpoint"] != api.path or \
                record["stream"] is not stream:
            problems.append(f"{what}: record status {record['status']} endpoint "
                            f"{record['endpoint']} stream {record['stream']}")
        tokens = reported_tokens(api, stream, ex)
        if tokens is not None and (record["tokens"] != tokens or
                                   record["usage_source"] != "reported"):
            problems.append(f"{what}: record tokens {record['tokens']} "
                            f"({record['usage_source']}), the client saw {tokens}")
    undelivered = len(results) - len(delivered)
    assert not problems, (f"{len(problems)} of {len(delivered)} delivered responses lost or "
                          f"altered by kill -9 ({undelivered} requests undelivered):\n" +
                          "\n".join(problems[:20]))

    # The restarted proxy keeps recording on the same ledger.
    _, _, ex = one_request(survivor.port, 0)
    assert ex.finished and ex.status == 200, ex
    status, record = fetch_records(survivor.admin_port, [ex.request_id])[ex.request_id]
    assert status == 200 and record["status"] == 200, record
