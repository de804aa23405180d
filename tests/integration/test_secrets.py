"""No key ever written down (PRODUCT.md §2: the client's key is never logged).

A proxy with an SQLite ledger, a log sink and a flaky webhook sink (with a token header)
serves a representative mix: every client key over both auth headers and both API formats,
streams, budget blocks, session caps, unknown keys, keys in odd places, failing upstreams,
feedback, budgets, reloads of nothing. Then its logs, every text value of every ledger table,
the raw ledger files and every append-log spool segment seen during the run are grepped for
every client key, provider key and token. The same grep is first shown to find a key planted
in each kind of file. (conftest.py runs the same scan over everything the whole suite wrote.)
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

from swtest.apis import CHAT, MESSAGES, RESPONSES
from swtest.client import RawConnection, auth_headers, raw_request, request, stream
from swtest.config import (APP_KEY, BROKE_KEY, CLIENT_KEYS, OPENAI_PROVIDER_KEY, OUTSIDER_KEY,
                           STAR_KEY, UNKNOWN_KEY, key_hash)
from swtest.secrets import known_secrets, ledger_files, scan, secret
from swtest.webhook import FlakyReceiver

WEBHOOK_TOKEN = secret("sw-webhook-token-secrets-0001")
ALERTING_KEY = secret("sw-test-key-secrets-alerting-0006")


def traffic(port: int, admin_port: int) -> int:
    """The mix; returns how many requests it sent."""
    sent = 0

    def send(path, body, headers, streamed=False):
        nonlocal sent
        sent += 1
        if streamed:
            return stream(port, path, body, headers, timeout=30)
        return request(port, "POST", path, body, headers, timeout=30)

    for key in CLIENT_KEYS + (ALERTING_KEY,):
        for scheme in ("bearer", "x-api-key"):
            headers = auth_headers(key, scheme)
            for api, route in ((CHAT, "gpt"), (MESSAGES, "claude")):
                send(api.path, api.body(route), headers)
                send(api.path, api.body(route, stream=True), headers, streamed=True)
            send(CHAT.path, CHAT.body("forbidden"), headers)
            send(CHAT.path, CHAT.body("gpt", max_tokens=1000),
                 {**headers, "x-spendwall-session": "run-1"})
    app = auth_headers(APP_KEY)
    # Keys where no key belongs: the model, a prompt, odd or doubled auth headers. (Tags,
    # session ids and feedback notes are the client's own data, stored as sent.)
    send(CHAT.path, CHAT.body(APP_KEY), app)
    send(MESSAGES.path, MESSAGES.body(f"claude{OUTSIDER_KEY}"), app)
    send(CHAT.path, CHAT.body("gpt"), {**app, "x-spendwall-tags": f"k={STAR_KEY} x"})
    send(CHAT.path, CHAT.body("gpt"), {"Authorization": f"Basic {APP_KEY}"})
    send(CHAT.path, CHAT.body("gpt"), {"Authorization": f"Bearer {UNKNOWN_KEY}",
                                       "x-api-key": APP_KEY})
    send(CHAT.path, CHAT.body("gpt"), {"Authorization": f"Bearer {APP_KEY}x"})
    send(CHAT.path, b'{"model": "gpt", "messages": [' + APP_KEY.encode(), app)
    send(RESPONSES.path, RESPONSES.body("gpt"), app)
    # Failing upstreams: retried 5xx, refused connections, an untrusted certificate, a cut.
    for route, scenario in (("faulty", "status=500"), ("dead", ""), ("untrusted", ""),
                            ("faulty", "garbage-response"), ("faulty", "status=401")):
        send(CHAT.path, CHAT.body(route), {**app, "x-fake-scenario": scenario})
    send(CHAT.path, CHAT.body("faulty", stream=True),
         {**app, "x-fake-scenario": "stream-reset-after=3"}, streamed=True)
    # A badly framed request carrying a key, and an oversized head carrying one.
    for raw in (raw_request("POST", CHAT.path,
                            [("Host", "x"), ("Authorization", f"Bearer {APP_KEY}"),
                             ("Transfer-Encoding", "chunked"), ("Content-Length", "3")],
                            b"0\r\n\r\n"),
                raw_request("POST", CHAT.path, [("Authorization", f"Bearer {BROKE_KEY}"),
                                                ("x-pad", "p" * 9000)])):
        with RawConnection(port) as conn:
            conn.exchange(raw)
        sent += 1
    # The non-metered endpoints.
    served = request(port, "POST", CHAT.path, CHAT.body("gpt"), app)
    request(port, "POST", "/v1/feedback", {"request_id": served.header("x-spendwall-request-id"),
                                           "outcome": "accepted"}, app)
    request(port, "GET", "/v1/budget", headers={**app, "x-spendwall-session": "run-1"})
    request(port, "GET", "/v1/models", headers=auth_headers(STAR_KEY, "x-api-key"))
    request(admin_port, "GET", "/admin/budgets", headers=app)
    request(admin_port, "GET", "/admin/exceptions")
    return sent


class SpoolCopier:
    """Copies every spool segment it sees (segments are merged into SQLite and deleted)."""

    def __init__(self, spool: Path, into: Path):
        self.spool, self.into = spool, into
        self.copied = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        round_ = 0
        while not self._stop.is_set():
            round_ += 1
            target = self.into / f"round-{round_}" / self.spool.name
            for segment in self.spool.glob("*") if self.spool.is_dir() else []:
                target.mkdir(parents=True, exist_ok=True)
                try:
                    shutil.copy(segment, target / segment.name)
                    self.copied += 1
                except OSError:  # merged and removed meanwhile
                    pass
            self._stop.wait(0.05)

    def __enter__(self) -> "SpoolCopier":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def plant(source: Path, planted: Path, key: str) -> None:
    """Copies the run's files and writes `key` into a log line, a ledger text column and a
    spool segment."""
    shutil.copytree(source, planted)
    log = next(planted.rglob("*.stderr.log"))
    with open(log, "a") as f:
        f.write(f'{{"level":"info","msg":"planted","key":"{key}"}}\n')
    db = next(p for p in ledger_files(planted) if p.name == "ledger.db")
    conn = sqlite3.connect(db)
    try:
        table, column = next(
            (t, c[1]) for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            for c in conn.execute(f'PRAGMA table_info("{t}")') if c[2].upper() == "TEXT"
            and conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
        conn.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = '
                     f'(SELECT min(rowid) FROM "{table}")', (f"x{key}x",))
        conn.commit()
    finally:
        conn.close()
    segment = next(p for p in ledger_files(planted) if ".spool" in str(p.parent))
    with open(segment, "ab") as f:
        f.write(key.encode())


def test_no_key_in_logs_ledger_or_spool(launcher, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with FlakyReceiver(failures=2) as receiver:
        config = launcher.config({
            "ledger": {"backend": "sqlite", "path": str(run / "ledger.db")},
            "workflows": {"alerting": {
                "owner": "alerts-team", "keys": [key_hash(ALERTING_KEY)],
                "routes": ["gpt", "claude"],
                "budget": {"daily": Decimal("0.00001"), "alert_at": [0.5],
                           "on_exceeded": "alert"}}},
            "alerts": {"sinks": [{"name": "log", "kind": "log"},
                                 {"name": "hook", "kind": "webhook", "url": receiver.url,
                                  "headers": {"X-Token": WEBHOOK_TOKEN}}]},
        })
        proxy = launcher.start(config=config)
        with SpoolCopier(run / "ledger.db.spool", run / "spool-copies") as copier:
            sent = traffic(proxy.port, proxy.admin_port)
            time.sleep(1.5)  # a sync interval: the last records reach the spool and SQLite
        deadline = time.monotonic() + 15
        while not receiver.events() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert receiver.events(), "the exception was never delivered (the sink was not exercised)"
        assert proxy.terminate() == 0, proxy.output()
    for log in proxy.config.parent.glob("*.log"):
        shutil.copy(log, run / log.name)

    scanned = scan(run)
    print(f"\n{sent} requests; scanned {scanned.logs} logs, {scanned.databases} databases "
          f"({scanned.text_cells} text values), {scanned.raw_files} ledger files "
          f"({copier.copied} spool segment copies) for {len(known_secrets())} secrets")
    assert scanned.logs == 2 and scanned.databases >= 1 and copier.copied >= 1, scanned
    assert scanned.text_cells > sent, "the ledger holds fewer text values than requests"
    assert not scanned.findings, "secrets written by the proxy:\n" + \
        "\n".join(map(str, scanned.findings[:20]))

    # The grep is not blind: a key planted in each kind of file is found there.
    # (Outside the suite's folder, which conftest.py scans at the end.)
    with tempfile.TemporaryDirectory() as elsewhere:
        planted = Path(elsewhere) / "planted"
        plant(run, planted, OPENAI_PROVIDER_KEY)
        found = scan(planted).findings
    assert all(f.secret == OPENAI_PROVIDER_KEY for f in found), found
    places = {"log": any(f.where.endswith(".stderr.log") for f in found),
              "ledger column": any(".db:" in f.where for f in found),
              "spool segment": any(".spool/" in f.where for f in found)}
    assert all(places.values()), f"a planted key was missed: {places}, found {found}"
