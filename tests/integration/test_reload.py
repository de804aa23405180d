"""Hot reload (PRODUCT.md §3 `POST /admin/reload`, §4 Reload; metrics.md config reload metrics).

Every test runs its own proxy on its own config file and rewrites that file. The proxy also
polls the file, so a rewrite meant for an explicit trigger (SIGHUP, `POST /admin/reload`) is
made with `Config.rewrite(hidden=True)`: the same size and modification time as before, a
change only a trigger that reads the file can notice. That keeps the explicit-trigger tests
independent of when the poller runs; `hidden=False` is an ordinary edit the poller sees.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
from decimal import Decimal
from typing import Any

from swtest.apis import CHAT, expected_cost, expected_reply
from swtest.client import SseEvent, SseStream, auth_headers, request, wait_until
from swtest.config import APP_KEY, GPT, GPT_MINI, PRICE_GPT, PRICE_GPT_MINI, to_yaml
from swtest.metrics import Metrics
from swtest.process import Spendwall
from swtest.secrets import secret

RELOADS = "spendwall_config_reloads_total"
LAST_SUCCESS = "spendwall_config_last_reload_success_timestamp_seconds"
DIAGNOSTIC = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.+)$")

# Same width as PRICE_GPT's figures, so a price-only rewrite keeps the file's size.
PRICE_GPT_NEW = {"input": Decimal("5.00"), "cached_input": Decimal("2.50"),
                 "output": Decimal("20.00")}
ADMIN_TOKEN = secret("sw-admin-token-reload-tests-0001")
OTHER_TOKEN = secret("sw-admin-token-reload-tests-0002")

FILE_WATCH_TIMEOUT = 15.0  # polls once a second, acts once a change has settled for one poll
SETTLE = 3.5               # long enough for the poller to have acted on anything it saw
PAD_TO = 16384             # every config file is padded to this size (see Config.render)
PADDING_LINES = 2          # the lines Config.render puts before the YAML


# --------------------------------------------------------------------------- helpers


class Config:
    """A dedicated proxy's config file, rewritten in place."""

    def __init__(self, proxy: Spendwall):
        self.path = proxy.config

    @staticmethod
    def render(config: dict[str, Any] | str) -> str:
        """YAML padded with a comment to PAD_TO bytes, so any two renderings have one size.

        Two lines come before the YAML itself (`config` may be YAML text already)."""
        body = to_yaml(config) if isinstance(config, dict) else config
        head = "# Written by the reload tests.\n"
        pad = PAD_TO - len(head) - len(body) - 2
        assert pad >= 0, "config too large for PAD_TO"
        return head + "#" + " " * pad + "\n" + body

    def rewrite(self, text: str | dict[str, Any], hidden: bool) -> None:
        text = self.render(text) if isinstance(text, dict) else text
        before = os.stat(self.path)
        self.path.write_text(text)
        if hidden:
            assert len(text.encode()) == before.st_size, "a hidden rewrite keeps the size"
            os.utime(self.path, ns=(before.st_atime_ns, before.st_mtime_ns))

    def text(self) -> str:
        return self.path.read_text()


def start(launcher, overrides: dict[str, Any] | None = None) -> tuple[Spendwall, Config,
                                                                     dict[str, Any]]:
    """A dedicated proxy whose config file is padded (see Config.render)."""
    config = launcher.config(overrides)
    path = launcher.write(config)
    path.write_text(Config.render(config))
    proxy = Spendwall(launcher.binary, path, launcher.env)
    launcher.started.append(proxy)
    proxy.start()
    return proxy, Config(proxy), config


def with_gpt_price(config: dict[str, Any], price: dict[str, Decimal]) -> dict[str, Any]:
    return {**config, "prices": {**config["prices"], f"oa/{GPT}": price}}


def with_gpt_target(config: dict[str, Any], model: str) -> dict[str, Any]:
    routes = {**config["routes"], "gpt": {"targets": [{"provider": "oa", "model": model}]}}
    return {**config, "routes": routes}


def admin_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


def post_reload(proxy: Spendwall, token: str | None = None):
    return request(proxy.admin_port, "POST", "/admin/reload", headers=admin_headers(token),
                   timeout=30)


def reload_state(proxy: Spendwall) -> tuple[float, float, float]:
    """(ok reloads, rejected reloads, last success timestamp)."""
    m = Metrics.scrape(proxy.admin_port)
    return m.total(RELOADS, result="ok"), m.total(RELOADS, result="rejected"), \
        m.total(LAST_SUCCESS)


def chat(proxy: Spendwall, route: str = "gpt"):
    resp = request(proxy.port, "POST", CHAT.path, CHAT.body(route), auth_headers(APP_KEY))
    assert resp.status == 200, resp
    return resp


def cost_of(resp) -> Decimal:
    value = resp.header("x-spendwall-cost-usd")
    assert value is not None, resp
    return Decimal(value)


def priced_chat(proxy: Spendwall, fake) -> tuple[Decimal, Decimal, Decimal]:
    """One chat on `gpt`: (cost header, cost at the old price, cost at the new price)."""
    fake.clear()
    resp = chat(proxy)
    [seen] = fake.requests()
    kinds = CHAT.token_kinds(seen.usage)
    return cost_of(resp), expected_cost(kinds, PRICE_GPT), expected_cost(kinds, PRICE_GPT_NEW)


def ledger_record(proxy: Spendwall, request_id: str, timeout: float = 10.0) -> dict:
    def fetch():
        resp = request(proxy.admin_port, "GET", f"/admin/requests/{request_id}")
        return resp.json() if resp.status == 200 else None
    return wait_until(fetch, timeout, message=f"ledger record {request_id}")


def log_messages(proxy: Spendwall) -> list[str]:
    return [line.get("msg", "") for line in proxy.log_lines()]


def diagnostics_of(resp) -> list[re.Match]:
    assert resp.status == 422, resp
    body = resp.json()
    assert body.get("result") == "rejected", body
    assert isinstance(body.get("diagnostics"), list) and body["diagnostics"], body
    matches = [DIAGNOSTIC.match(d) for d in body["diagnostics"]]
    assert all(matches), f"every diagnostic reads FILE:LINE:COL: error: …: {body}"
    return matches


class StreamReader(threading.Thread):
    """One slow chat stream on `gpt`, read in the background."""

    def __init__(self, port: int, scenario: str):
        super().__init__(daemon=True)
        self.port = port
        self.scenario = scenario
        self.first_event = threading.Event()
        self.done = threading.Event()
        self.events: list[SseEvent] = []
        self.headers: list[tuple[str, str]] = []
        self.status: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            headers = {**auth_headers(APP_KEY), "x-fake-scenario": self.scenario}
            body = CHAT.body("gpt", stream=True, stream_options={"include_usage": True})
            with SseStream(self.port, CHAT.path, body, headers, timeout=30) as s:
                self.status = s.status
                self.headers = s.response.getheaders()
                for event in s.events():
                    self.events.append(event)
                    self.first_event.set()
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            self.first_event.set()
            self.done.set()

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


SLOW_STREAM = "words=20;chunk-delay-ms=200"  # about 4 s


def start_slow_stream(proxy: Spendwall) -> StreamReader:
    reader = StreamReader(proxy.port, SLOW_STREAM)
    reader.start()
    assert reader.first_event.wait(20), "the stream never started"
    assert reader.error is None, reader.error
    assert reader.status == 200
    assert not reader.done.is_set(), "the stream ended before the reload"
    return reader


def finish(reader: StreamReader) -> None:
    reader.join(40)
    assert not reader.is_alive(), "the in-flight stream never finished"
    assert reader.error is None, reader.error
    assert CHAT.stream_finished(reader.events), "the stream was cut by the reload"
    assert CHAT.stream_text(reader.events) == expected_reply(GPT, words=20)


# --------------------------------------------------------------------------- price changes


def test_admin_reload_applies_a_new_price_to_the_next_request(launcher, fake):
    proxy, cfg, config = start(launcher)
    cost, old, new = priced_chat(proxy, fake)
    assert cost == old and old != new
    ok0, rejected0, stamp0 = reload_state(proxy)

    cfg.rewrite(with_gpt_price(config, PRICE_GPT_NEW), hidden=True)
    before = time.time()
    resp = post_reload(proxy)
    assert resp.status == 200, resp
    assert resp.json() == {"result": "ok"}

    cost, old, new = priced_chat(proxy, fake)
    assert cost == new, f"the next request is priced at the new price ({new}), not {old}"
    ok1, rejected1, stamp1 = reload_state(proxy)
    assert (ok1 - ok0, rejected1 - rejected0) == (1, 0)
    assert stamp1 > stamp0 and stamp1 >= before - 1, (stamp0, stamp1, before)


def test_sighup_applies_a_new_price(launcher, fake):
    proxy, cfg, config = start(launcher)
    cost, old, _ = priced_chat(proxy, fake)
    assert cost == old
    ok0, rejected0, stamp0 = reload_state(proxy)

    cfg.rewrite(with_gpt_price(config, PRICE_GPT_NEW), hidden=True)
    proxy.signal(signal.SIGHUP)
    wait_until(lambda: reload_state(proxy)[0] == ok0 + 1, timeout=15,
               message="the ok reload counter after SIGHUP")
    cost, _, new = priced_chat(proxy, fake)
    assert cost == new
    ok1, rejected1, stamp1 = reload_state(proxy)
    assert (ok1 - ok0, rejected1 - rejected0) == (1, 0)
    assert stamp1 > stamp0
    assert proxy.alive(), "SIGHUP does not stop the proxy"


# --------------------------------------------------------------------------- in-flight requests


def test_in_flight_stream_keeps_the_price_it_started_with(launcher, fake):
    proxy, cfg, config = start(launcher)
    reader = start_slow_stream(proxy)

    cfg.rewrite(with_gpt_price(config, PRICE_GPT_NEW), hidden=True)
    resp = post_reload(proxy)
    assert resp.json() == {"result": "ok"}, resp
    assert not reader.done.is_set(), "the reload finished while the stream was in flight"
    finish(reader)

    [seen] = [r for r in fake.requests() if r.path == CHAT.path]
    kinds = CHAT.token_kinds(seen.usage)
    old = expected_cost(kinds, PRICE_GPT)
    record = ledger_record(proxy, reader.header("x-spendwall-request-id"))
    assert record["stream"] is True and record["model"] == GPT
    assert record["tokens"] == kinds
    assert Decimal(str(record["cost_usd"])) == old, \
        f"the stream started at the old price: {old}, not {expected_cost(kinds, PRICE_GPT_NEW)}"

    cost, _, new = priced_chat(proxy, fake)
    assert cost == new, "the next request uses the new price"


def test_in_flight_stream_keeps_the_model_it_started_with(launcher, fake):
    proxy, cfg, config = start(launcher)
    reader = start_slow_stream(proxy)

    cfg.rewrite(with_gpt_target(config, GPT_MINI), hidden=True)
    resp = post_reload(proxy)
    assert resp.json() == {"result": "ok"}, resp
    assert not reader.done.is_set(), "the reload finished while the stream was in flight"
    finish(reader)

    chunks = [e.json() for e in reader.events if e.data.startswith("{")]
    assert chunks and {c.get("model") for c in chunks} == {GPT}, \
        f"every chunk comes from the model the stream started on: {chunks[:3]}"
    assert [r.json()["model"] for r in fake.requests()] == [GPT]
    record = ledger_record(proxy, reader.header("x-spendwall-request-id"))
    assert (record["provider"], record["model"]) == ("oa", GPT)
    kinds = CHAT.token_kinds(fake.requests()[0].usage)
    assert Decimal(str(record["cost_usd"])) == expected_cost(kinds, PRICE_GPT)

    fake.clear()
    resp = chat(proxy)
    assert resp.header("x-spendwall-model") == GPT_MINI
    [seen] = fake.requests()
    assert seen.json()["model"] == GPT_MINI, "the next request goes to the new target"
    assert cost_of(resp) == expected_cost(CHAT.token_kinds(seen.usage), PRICE_GPT_MINI)


# --------------------------------------------------------------------------- rejected configs


def syntax_error(config: dict[str, Any]) -> tuple[str, int]:
    """`config` rendered with an unterminated flow sequence under `routes:`: (text, 1-based
    line of the error), the same size as any other rendering."""
    lines = to_yaml(config).split("\n")
    at = lines.index("routes:") + 1
    lines.insert(at, "  broken: { targets: [ }")
    return Config.render("\n".join(lines)), at + 1 + PADDING_LINES


def assert_old_config_serves(proxy: Spendwall, fake) -> None:
    cost, old, _ = priced_chat(proxy, fake)
    assert cost == old, "the old config keeps serving"
    assert request(proxy.admin_port, "GET", "/readyz").status == 200


def test_syntax_error_is_rejected_and_the_old_config_keeps_serving(launcher, fake):
    proxy, cfg, config = start(launcher)
    ok0, rejected0, stamp0 = reload_state(proxy)

    # A new price plus a syntax error: nothing of the file may apply.
    broken, line = syntax_error(with_gpt_price(config, PRICE_GPT_NEW))
    cfg.rewrite(broken, hidden=True)
    resp = post_reload(proxy)
    [match] = diagnostics_of(resp)
    assert match["file"] == str(cfg.path), match.string
    assert int(match["line"]) == line, match.string
    assert 1 <= int(match["col"]) <= len(broken.split("\n")[line - 1]) + 1, match.string

    assert_old_config_serves(proxy, fake)
    ok1, rejected1, stamp1 = reload_state(proxy)
    assert (ok1 - ok0, rejected1 - rejected0) == (0, 1)
    assert stamp1 == stamp0, "a rejected reload is not a success"
    assert "config reload rejected" in log_messages(proxy), "a rejected reload is logged"


def test_undefined_provider_is_rejected_and_the_old_config_keeps_serving(launcher, fake):
    proxy, cfg, config = start(launcher)
    ok0, rejected0, _ = reload_state(proxy)

    bad = with_gpt_price(config, PRICE_GPT_NEW)
    bad["routes"] = {**bad["routes"],
                     "gpt": {"targets": [{"provider": "nowhere", "model": GPT}]}}
    text = Config.render(bad)
    cfg.rewrite(text, hidden=True)
    resp = post_reload(proxy)
    matches = diagnostics_of(resp)
    [line] = [i for i, l in enumerate(text.split("\n"), 1) if '"nowhere"' in l]
    col = text.split("\n")[line - 1].index('"nowhere"') + 1
    hits = [m for m in matches if int(m["line"]) == line]
    assert hits, f"a diagnostic on line {line}: {resp.json()}"
    assert hits[0]["file"] == str(cfg.path)
    assert int(hits[0]["col"]) == col, f"column of `\"nowhere\"` is {col}: {hits[0].string}"
    assert "nowhere" in hits[0]["msg"]

    assert_old_config_serves(proxy, fake)
    ok1, rejected1, _ = reload_state(proxy)
    assert (ok1 - ok0, rejected1 - rejected0) == (0, 1)


def test_rejected_file_is_counted_once_not_again_by_the_poller(launcher, fake):
    """One bad edit, then one `POST /admin/reload`: the poller has nothing new to try."""
    proxy, cfg, config = start(launcher)
    ok0, rejected0, _ = reload_state(proxy)
    broken, _ = syntax_error(config)
    cfg.rewrite(broken, hidden=False)
    assert post_reload(proxy).status == 422
    assert reload_state(proxy)[1] - rejected0 == 1

    time.sleep(SETTLE)
    ok1, rejected1, _ = reload_state(proxy)
    rejections = log_messages(proxy).count("config reload rejected")
    assert (ok1 - ok0, rejected1 - rejected0) == (0, 1), \
        f"the same rejected file was tried again without changing ({rejections} rejection " \
        f"log lines):\n{proxy.output(3000)}"
    assert_old_config_serves(proxy, fake)


def test_good_config_after_a_rejected_one_applies(launcher, fake):
    proxy, cfg, config = start(launcher)
    ok0, rejected0, _ = reload_state(proxy)
    broken, _ = syntax_error(config)
    cfg.rewrite(broken, hidden=True)
    assert post_reload(proxy).status == 422

    cfg.rewrite(with_gpt_price(config, PRICE_GPT_NEW), hidden=True)
    resp = post_reload(proxy)
    assert resp.json() == {"result": "ok"}, resp
    cost, _, new = priced_chat(proxy, fake)
    assert cost == new
    ok1, rejected1, _ = reload_state(proxy)
    assert (ok1 - ok0, rejected1 - rejected0) == (1, 1)


# --------------------------------------------------------------------------- unchanged


def test_unchanged_file_answers_unchanged_and_counts_nothing(launcher, fake):
    proxy, cfg, _ = start(launcher)
    before = reload_state(proxy)
    for _ in range(2):
        resp = post_reload(proxy)
        assert resp.status == 200, resp
        assert resp.json() == {"result": "unchanged"}
    assert reload_state(proxy) == before, "an unchanged reload counts nothing"

    proxy.signal(signal.SIGHUP)
    time.sleep(1.0)
    assert proxy.alive()
    assert reload_state(proxy) == before, "SIGHUP on an unchanged file counts nothing"
    assert "config reloaded" not in log_messages(proxy)
    assert_old_config_serves(proxy, fake)


def test_rewriting_the_same_content_does_nothing(launcher, fake):
    proxy, cfg, _ = start(launcher)
    before = reload_state(proxy)
    time.sleep(0.05)
    cfg.rewrite(cfg.text(), hidden=False)  # same bytes, new modification time
    time.sleep(SETTLE)  # the poller has seen the write and read the file again
    assert reload_state(proxy) == before, "an unchanged file counts nothing"
    assert "config reloaded" not in log_messages(proxy)
    assert post_reload(proxy).json() == {"result": "unchanged"}
    assert_old_config_serves(proxy, fake)


# --------------------------------------------------------------------------- file changes


def test_file_change_on_disk_reloads_without_a_trigger(launcher, fake):
    proxy, cfg, config = start(launcher)
    cost, old, _ = priced_chat(proxy, fake)
    assert cost == old
    ok0, rejected0, stamp0 = reload_state(proxy)

    time.sleep(0.05)
    cfg.rewrite(with_gpt_price(config, PRICE_GPT_NEW), hidden=False)

    def repriced():
        cost, _, new = priced_chat(proxy, fake)
        return cost == new
    wait_until(repriced, timeout=FILE_WATCH_TIMEOUT, interval=0.25,
               message="the new price after the file changed on disk")
    ok1, rejected1, stamp1 = reload_state(proxy)
    assert (ok1 - ok0, rejected1 - rejected0) == (1, 0)
    assert stamp1 > stamp0
    assert post_reload(proxy).json() == {"result": "unchanged"}, "the poller already applied it"


def test_included_price_file_change_on_disk_reloads(launcher, fake):
    """A price in an `include_prices` file: the poller watches that file too."""
    prices_path_name = "prices-included.yaml"
    base = launcher.config()
    inline = {k: v for k, v in base["prices"].items() if k != f"oa/{GPT}"}

    def price_file(price: dict[str, Decimal]) -> str:
        return 'as_of: 2026-11-01\nsource: "reload tests"\n' + \
            to_yaml({"prices": {f"oa/{GPT}": price}})

    config = {**base, "include_prices": [prices_path_name], "prices": inline}
    path = launcher.write(config)
    (path.parent / prices_path_name).write_text(price_file(PRICE_GPT))
    proxy = Spendwall(launcher.binary, path, launcher.env)
    launcher.started.append(proxy)
    proxy.start()

    cost, old, _ = priced_chat(proxy, fake)
    assert cost == old
    ok0, _, _ = reload_state(proxy)
    time.sleep(0.05)
    (path.parent / prices_path_name).write_text(price_file(PRICE_GPT_NEW))

    def repriced():
        cost, _, new = priced_chat(proxy, fake)
        return cost == new
    wait_until(repriced, timeout=FILE_WATCH_TIMEOUT, interval=0.25,
               message="the new price after the included price file changed")
    assert reload_state(proxy)[0] - ok0 == 1


def test_broken_file_on_disk_is_rejected_once_and_the_old_config_keeps_serving(launcher, fake):
    proxy, cfg, config = start(launcher)
    ok0, rejected0, _ = reload_state(proxy)
    broken, _ = syntax_error(with_gpt_price(config, PRICE_GPT_NEW))
    time.sleep(0.05)
    cfg.rewrite(broken, hidden=False)
    wait_until(lambda: reload_state(proxy)[1] - rejected0 >= 1, timeout=FILE_WATCH_TIMEOUT,
               interval=0.2, message="the rejected reload counter")
    time.sleep(SETTLE)
    ok1, rejected1, _ = reload_state(proxy)
    assert (ok1 - ok0, rejected1 - rejected0) == (0, 1), "one bad edit, one rejection"
    assert_old_config_serves(proxy, fake)


def test_listen_address_change_warns_and_keeps_the_old_sockets(launcher, fake):
    proxy, cfg, config = start(launcher)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        other_port = s.getsockname()[1]
    changed = with_gpt_price(config, PRICE_GPT_NEW)
    changed["server"] = {**changed["server"], "listen": f"127.0.0.1:{other_port}"}
    cfg.rewrite(changed, hidden=True)
    resp = post_reload(proxy)
    assert resp.json() == {"result": "ok"}, resp

    warnings = [l for l in proxy.log_lines() if l.get("level") in ("warn", "warning")
                and "restart" in l.get("msg", "")]
    assert warnings, f"a listen change is logged as needing a restart:\n{proxy.output(3000)}"
    cost, _, new = priced_chat(proxy, fake)  # still on the old port, with the rest applied
    assert cost == new


# --------------------------------------------------------------------------- admin token


def test_admin_token_guards_reload_but_not_metrics_or_health(launcher, fake):
    proxy, cfg, config = start(launcher, {"server": {"admin_token": ADMIN_TOKEN}})
    ok0, rejected0, _ = reload_state(proxy)  # /metrics needs no token
    cfg.rewrite(with_gpt_price(config, PRICE_GPT_NEW), hidden=True)

    for headers in ({}, admin_headers(OTHER_TOKEN), admin_headers(ADMIN_TOKEN + "x"),
                    admin_headers(""), {"Authorization": f"Basic {ADMIN_TOKEN}"},
                    {"Authorization": ADMIN_TOKEN}):
        resp = request(proxy.admin_port, "POST", "/admin/reload", headers=headers)
        assert resp.status == 401, (headers, resp)
    cost, old, _ = priced_chat(proxy, fake)
    assert cost == old, "an unauthorized reload applies nothing"
    assert reload_state(proxy)[:2] == (ok0, rejected0), "and counts nothing"

    for path in ("/metrics", "/healthz", "/readyz"):
        assert request(proxy.admin_port, "GET", path).status == 200, path

    resp = post_reload(proxy, ADMIN_TOKEN)
    assert resp.status == 200, resp
    assert resp.json() == {"result": "ok"}
    cost, _, new = priced_chat(proxy, fake)
    assert cost == new
    assert post_reload(proxy, ADMIN_TOKEN).json() == {"result": "unchanged"}


def test_reload_rotates_the_admin_token(launcher):
    proxy, cfg, config = start(launcher, {"server": {"admin_token": ADMIN_TOKEN}})
    rotated = {**config, "server": {**config["server"], "admin_token": OTHER_TOKEN}}
    cfg.rewrite(rotated, hidden=True)
    resp = post_reload(proxy, ADMIN_TOKEN)
    assert resp.json() == {"result": "ok"}, resp

    assert post_reload(proxy, OTHER_TOKEN).status == 200, \
        "the reloaded admin_token is the one /admin/* accepts"
    assert post_reload(proxy, ADMIN_TOKEN).status == 401, "the replaced token no longer works"
