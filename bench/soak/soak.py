#!/usr/bin/env python3
"""Bounded soak of the real `spendwall` binary: mixed traffic, injected upstream faults,
`kill -9` restarts, and the books checked at the end.

Two segments on one SQLite ledger:
  chaos   (the first --chaos-share of --duration): the proxy is killed with SIGKILL at
          --kills random moments under load and restarted on the same config and ledger;
  steady  (the rest): no kills, the same traffic.
Traffic (--clients threads): chat / completions / responses / embeddings / messages,
streaming and not, three workflows (a budget that alerts at every tenth, one that blocks
everything, one with a session cap), and --fault-share of requests steered by the fake
upstream into a failure: 5xx, garbage bytes, HTML, resets before the head / mid body / mid
stream, closes, trickled bodies, never-ending streams (cut at request_timeout).
Budget exceptions go to a log sink and to a webhook that fails the first POST of every
event and a share of the rest, so that events sit in the outbox across kills.

Sampled every --sample-interval: RSS and open fds of the proxy. At the end it reports and
checks (exit status 1 when one fails):
  * every response a client received in full has its ledger record (both segments);
  * steady segment: the ledger's records == the responses the clients observed (by
    x-spendwall-request-id; equal sets, so equal counts);
  * reserved budget (GET /admin/budgets) is 0 once the load stopped;
  * every budget exception stored in the ledger reached the webhook (none lost by kills);
  * the proxy never exited on its own.

  bench/soak/run.sh                       # 10 minutes (build/proxy/spendwall)
  bench/soak/run.sh --short               # ~60 s
  bench/soak/soak.py --binary B --duration 300 --kills 6 --report out.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import swtest  # noqa: E402,F401  (puts tests/fakes on sys.path)
from fake_upstream import FakeUpstream  # noqa: E402
from swtest.apis import CHAT, COMPLETIONS, EMBEDDINGS, MESSAGES, RESPONSES, Api  # noqa: E402
from swtest.certs import make_certs  # noqa: E402
from swtest.client import auth_headers, connection_refused, request  # noqa: E402
from swtest.config import (APP_KEY, BROKE_KEY, CAPPED_KEY, PROVIDER_ENV, Upstreams,  # noqa: E402
                           deep_merge, standard_config, write_config)
from swtest.load import Clients, Exchange, send  # noqa: E402
from swtest.process import Spendwall, open_fds, rss_bytes  # noqa: E402
from swtest.webhook import FlakyReceiver  # noqa: E402

REQUEST_TIMEOUT_S = 10

# (api, route, stream, extra body) for the app workflow.
MIX: list[tuple[Api, str, bool, dict[str, Any]]] = [
    (CHAT, "gpt", False, {}),
    (CHAT, "gpt", True, {"stream_options": {"include_usage": True}}),
    (CHAT, "gpt", True, {}),
    (COMPLETIONS, "gpt", True, {}),
    (EMBEDDINGS, "embed", False, {}),
    (RESPONSES, "gpt", False, {}),
    (RESPONSES, "gpt", True, {}),
    (MESSAGES, "claude", False, {}),
    (MESSAGES, "claude", True, {}),
    (CHAT, "claude", False, {}),       # translated to Anthropic
    (MESSAGES, "gpt", True, {}),       # translated to OpenAI
]
# Faults on the `faulty` (OpenAI) / `faulty-claude` routes: (scenario, streams only).
FAULTS: list[tuple[str, bool]] = [
    ("status=500", False), ("status=503", False), ("status=400", False),
    ("garbage-response", False), ("bad-json", False), ("html", False),
    ("reset-before-head", False), ("reset-mid-head", False), ("reset-mid-body", False),
    ("close-before-head", False), ("trickle-ms=2", False), ("delay-ms=300", False),
    ("stream-reset-after=3", True), ("stream-reset-after=8", True),
    ("endless;chunk-delay-ms=50", True),
]


# --------------------------------------------------------------------------- the proxy


class Proxy:
    """The current incarnation; restarts reuse the config (hard-linked, logs kept apart)."""

    def __init__(self, binary: str, config: Path, env: dict[str, str]):
        self.binary, self.config, self.env = binary, config, env
        self.incarnations: list[Spendwall] = []
        self.lock = threading.Lock()
        self.current = self._start(config)

    def _start(self, config: Path) -> Spendwall:
        proxy = Spendwall(self.binary, config, self.env).start(timeout=60)
        self.incarnations.append(proxy)
        return proxy

    @property
    def port(self) -> int:
        return self.current.port

    def kill_and_restart(self) -> None:
        with self.lock:
            self.current.signal(signal.SIGKILL)
            self.current.kill()  # reaps it
            n = len(self.incarnations)
            again = self.config.with_name(f"{self.config.stem}-{n}{self.config.suffix}")
            os.link(self.config, again)
            self.current = self._start(again)

    def crashed(self) -> list[str]:
        return [f"{p.config.name}: exit {p.proc.returncode}\n{p.output(3000)}"
                for p in self.incarnations if not p.stopped and not p.alive()]


# --------------------------------------------------------------------------- traffic


@dataclass
class Sent:
    segment: str
    api: str
    stream: bool
    fault: str | None
    ex: Exchange
    started: float
    ended: float


def one_request(proxy: Proxy, index: int, seed: int,
                fault_share: float) -> tuple[Api, bool, str | None, Exchange]:
    rng = random.Random(seed * 1_000_003 + index)
    roll = rng.random()
    fault = None
    if roll < 0.08:
        key, headers = BROKE_KEY, {}
        api, route, stream, extra = rng.choice([(CHAT, "gpt", False, {}),
                                                (MESSAGES, "claude", True, {})])
    elif roll < 0.16:
        key, headers = CAPPED_KEY, {"x-spendwall-session": f"soak-{index % 50}"}
        api, route, stream, extra = rng.choice([(CHAT, "gpt", True, {}),
                                                (MESSAGES, "claude", False, {})])
    else:
        key, headers = APP_KEY, {"x-spendwall-tags": f"soak=1,client={index % 7}"}
        api, route, stream, extra = rng.choice(MIX)
    if key == APP_KEY and rng.random() < fault_share and api in (CHAT, MESSAGES):
        scenario, streams_only = rng.choice(FAULTS)
        if streams_only and not stream:
            scenario = "status=502"
        fault = scenario
        route = "faulty" if api is CHAT else "faulty-claude"
    else:
        scenario = f"words={rng.randint(3, 40)}"
        scenario += f";chunk-delay-ms={rng.randint(1, 20)}" if stream else \
            f";delay-ms={rng.randint(0, 40)}"
    headers = {**auth_headers(key, rng.choice(["bearer", "x-api-key"])), **headers,
               "x-fake-scenario": scenario}
    if api is EMBEDDINGS:
        headers["x-fake-scenario"] = ""
    ex = send(proxy.port, api, api.body(route, stream=stream, **extra), headers, timeout=30)
    if ex.status is None:
        time.sleep(0.05)  # the proxy is down (killed, restarting): do not spin
    return api, stream, fault, ex


def run_clients(proxy: Proxy, segment: str, args: argparse.Namespace, seed: int, until: float,
                out: list[Sent], lock: threading.Lock) -> Clients:
    def fn(index: int) -> None:
        if time.monotonic() >= until:
            time.sleep(0.05)
            return
        started = time.time()
        api, stream, fault, ex = one_request(proxy, index, seed, args.fault_share)
        with lock:
            out.append(Sent(segment, api.name, stream, fault, ex, started, time.time()))
    return Clients(fn, args.clients).start()


# --------------------------------------------------------------------------- sampling


@dataclass
class Sampler:
    proxy: Proxy
    interval: float
    sent: list[Sent]
    started: float = field(default_factory=time.monotonic)
    samples: list[dict[str, Any]] = field(default_factory=list)
    exception_ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        with self.proxy.lock:
            current = self.proxy.current
        pid = current.proc.pid
        try:
            rss = rss_bytes(pid) / 2**20
            fds = open_fds(pid)
        except (AssertionError, FileNotFoundError, ProcessLookupError):
            return
        try:
            resp = request(current.admin_port, "GET", "/admin/exceptions", timeout=5)
            if resp.status == 200:
                self.exception_ids |= {e["id"] for e in resp.json()["exceptions"]}
        except OSError:
            pass
        row = {"t_s": round(time.monotonic() - self.started, 1), "pid": pid,
               "incarnation": len(self.proxy.incarnations), "rss_mib": round(rss, 1),
               "fds": fds, "requests": len(self.sent)}
        self.samples.append(row)
        print(f"  t={row['t_s']:7.1f}s  pid {pid:7d}  RSS {row['rss_mib']:7.1f} MiB  "
              f"fds {fds:4d}  requests {row['requests']}", flush=True)

    def __enter__(self) -> "Sampler":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


# --------------------------------------------------------------------------- the books


def ledger_rows(db: Path) -> tuple[dict[str, int], list[tuple[str, str]], dict[str, str]]:
    """({request id: started_at_us}, [(exception id, kind)], {exception id: webhook state})."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        requests = dict(conn.execute("SELECT id, started_at_us FROM requests"))
        exceptions = list(conn.execute("SELECT id, kind FROM exceptions"))
        states = dict(conn.execute(
            "SELECT exception_id, state FROM exception_deliveries WHERE sink = 'hook'"))
    finally:
        conn.close()
    return requests, exceptions, states


def reserved_usd(admin_port: int) -> Decimal:
    resp = request(admin_port, "GET", "/admin/budgets", timeout=10)
    assert resp.status == 200, resp
    return sum((Decimal(str(w["reserved_usd"])) for wf in resp.json()["workflows"]
                for w in wf["windows"]), Decimal(0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(REPO / "build" / "proxy" / "spendwall"))
    parser.add_argument("--duration", type=float, default=600, help="seconds of load")
    parser.add_argument("--chaos-share", type=float, default=0.5,
                        help="share of --duration with kill -9 restarts")
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--fault-share", type=float, default=0.15)
    parser.add_argument("--sample-interval", type=float, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", help="keep the config, ledger and logs here")
    parser.add_argument("--report", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    args.binary = str(Path(args.binary).resolve())  # the proxy runs in the work dir
    rng = random.Random(args.seed)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="spendwall-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    certs = make_certs(work / "certs")
    for name, src in (("ca.pem", certs.ca), ("other-ca.pem", certs.other_ca)):
        shutil.copy(src, work / name)
    db = work / "ledger.db"
    sent: list[Sent] = []
    lock = threading.Lock()
    failures: list[str] = []

    with FakeUpstream() as fake, FakeUpstream(scenario="status=500") as failing, \
            FakeUpstream(tls_cert=str(certs.cert), tls_key=str(certs.key)) as fake_tls, \
            FlakyReceiver(fail_first_of_each=True, fail_rate=0.3, seed=args.seed) as hook:
        dead = _free_port()
        # Spend ~2e-4 USD a request at ~40 requests/s: alert at every tenth of a budget
        # that the run crosses about half way.
        budget = Decimal(str(round(args.duration * 40 * 0.0002 * 0.4, 4)))
        config = deep_merge(standard_config(Upstreams(fake.port, fake_tls.port, failing.port,
                                                      dead)), {
            "server": {"request_timeout": f"{REQUEST_TIMEOUT_S}s", "drain_timeout": "5s",
                       "max_request_bytes": "1MiB", "max_header_bytes": "16KiB"},
            "ledger": {"backend": "sqlite", "path": str(db), "sync_interval": "1s"},
            "alerts": {"sinks": [{"name": "log", "kind": "log"},
                                 {"name": "hook", "kind": "webhook", "url": hook.url}]},
        })
        config["workflows"]["app"]["budget"] = {
            "daily": budget, "on_exceeded": "alert",
            "alert_at": [Decimal(i) / 10 for i in range(1, 11)]}
        config_path = write_config(work, config)
        env = {**os.environ, **PROVIDER_ENV}
        proxy = Proxy(args.binary, config_path, env)
        print(f"soak: {args.duration:.0f}s, {args.clients} clients, {args.kills} kills in the "
              f"first {args.chaos_share:.0%}, faults {args.fault_share:.0%}; daily budget "
              f"{budget} USD; work dir {work}", flush=True)

        t0 = time.monotonic()
        chaos_end = t0 + args.duration * args.chaos_share
        end = t0 + args.duration
        with Sampler(proxy, args.sample_interval, sent) as sampler:
            # ---- chaos
            clients = run_clients(proxy, "chaos", args, args.seed, chaos_end, sent, lock)
            kill_at = sorted(rng.uniform(t0 + 2, chaos_end - 2) for _ in range(args.kills))
            kills = []
            for moment in kill_at:
                time.sleep(max(0.0, moment - time.monotonic()))
                proxy.kill_and_restart()
                kills.append(round(moment - t0, 1))
                print(f"  kill -9 at t={moment - t0:.1f}s, restarted as pid "
                      f"{proxy.current.proc.pid}", flush=True)
            time.sleep(max(0.0, chaos_end - time.monotonic()))
            clients.stop(timeout=60)
            # ---- steady: a clean cut between the segments (nothing in flight)
            steady_start_us = int(time.time() * 1e6)
            clients = run_clients(proxy, "steady", args, args.seed + 1, end, sent, lock)
            time.sleep(max(0.0, end - time.monotonic()))
            clients.stop(timeout=60)
            if clients.errors:
                failures.append(f"client errors: {clients.errors[:3]}")
            time.sleep(1.5)  # one sync interval
            reserved = reserved_usd(proxy.current.admin_port)
            # Let the outbox drain (retries back off 1, 2, 4… s).
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                sampler.sample()
                if sampler.exception_ids <= hook.delivered_ids():
                    break
                time.sleep(2)
        crashed = proxy.crashed()
        exit_code = proxy.current.terminate()

    requests, exceptions, hook_states = ledger_rows(db)
    delivered = [s for s in sent if s.ex.delivered]
    observed = [s for s in sent if s.ex.request_id]
    missing = [s for s in delivered if s.ex.request_id not in requests]
    steady_observed = {s.ex.request_id for s in observed if s.segment == "steady"}
    steady_records = {rid for rid, at in requests.items() if at >= steady_start_us}
    chaos_observed = {s.ex.request_id for s in observed if s.segment == "chaos"}
    chaos_records = {rid for rid, at in requests.items() if at < steady_start_us}
    stored_exceptions = {eid for eid, _ in exceptions}
    lost_exceptions = (stored_exceptions | sampler.exception_ids) - hook.delivered_ids()
    statuses: dict[str, int] = {}
    for s in observed:
        statuses[str(s.ex.status)] = statuses.get(str(s.ex.status), 0) + 1
    rss = [row["rss_mib"] for row in sampler.samples]
    fds = [row["fds"] for row in sampler.samples]
    report = {
        "duration_s": args.duration, "clients": args.clients, "kills_at_s": kills,
        "requests_sent": len(sent), "responses_observed": len(observed),
        "responses_delivered_in_full": len(delivered),
        "client_errors_no_response": len(sent) - len(observed),
        "faults_injected": sum(1 for s in sent if s.fault), "statuses": statuses,
        "ledger_records": len(requests),
        "delivered_without_record": len(missing),
        "chaos": {"observed": len(chaos_observed), "records": len(chaos_records),
                  "observed_without_record": len(chaos_observed - chaos_records),
                  "records_never_observed": len(chaos_records - chaos_observed)},
        "steady": {"observed": len(steady_observed), "records": len(steady_records),
                   "observed_without_record": len(steady_observed - steady_records),
                   "records_never_observed": len(steady_records - steady_observed)},
        "reserved_usd_at_end": str(reserved),
        "exceptions": {"stored": len(stored_exceptions), "listed": len(sampler.exception_ids),
                       "delivered_to_webhook": len(hook.delivered_ids()),
                       "webhook_posts": hook.attempts, "lost": sorted(lost_exceptions),
                       "webhook_states": _count(hook_states.values())},
        "rss_mib": {"first": rss[0], "max": max(rss), "last": rss[-1]},
        "fds": {"first": fds[0], "max": max(fds), "last": fds[-1]},
        "samples": sampler.samples,
        "crashes": crashed, "final_exit_code": exit_code, "workdir": str(work),
    }

    if missing:
        failures.append(f"{len(missing)} delivered responses without a ledger record, e.g. "
                        f"{[s.ex.request_id for s in missing[:5]]}")
    if steady_observed != steady_records:
        failures.append(f"steady segment: {len(steady_observed)} observed responses vs "
                        f"{len(steady_records)} ledger records")
    if reserved != 0:
        failures.append(f"reserved budget at the end is {reserved} USD, not 0")
    if lost_exceptions:
        failures.append(f"{len(lost_exceptions)} exceptions never reached the webhook")
    if not stored_exceptions:
        failures.append("no budget exception was raised: the outbox was not exercised")
    if crashed:
        failures.append(f"the proxy exited on its own: {crashed}")
    if exit_code != 0:
        failures.append(f"the final SIGTERM exit status was {exit_code}")
    report["failures"] = failures

    summary = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    print("soak: " + ("FAILED\n  " + "\n  ".join(failures) if failures else "OK"))
    return 1 if failures else 0


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert connection_refused(port)
    return port


if __name__ == "__main__":
    sys.exit(main())
