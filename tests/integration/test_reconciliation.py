"""Reconciliation under concurrent load: client ⇄ ledger ⇄ metrics, to the nano-dollar.

PRODUCT.md §2 steps 8–10 and §7, metrics.md: a few thousand mixed requests from a small pool
of concurrent clients against a proxy with an SQLite ledger. For every response whose usage
was fully reported, the client works out the cost itself (Σ tokens × price per 1M, divided by
10^6 once, rounded half up, in nano-USD) and the sums must equal the ledger's exactly. Then
every record together must equal the exported counters: cost, requests, tokens by kind,
estimated-usage count, records written.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from swtest.apis import (CHAT, COMPLETIONS, EMBEDDINGS, MESSAGES, PROMPT, RESPONSES, TOKEN_KINDS,
                         Api, expected_cost)
from swtest.client import auth_headers, wait_until
from swtest.config import APP_KEY, PRICE_CLAUDE, PRICE_EMBED, PRICE_GPT
from swtest.load import Exchange, fetch_records, run_pool, send, series
from swtest.metrics import Metrics

SEED = 20261128
REQUESTS = 2000
CLIENTS = 6
LOAD_TIMEOUT = 150.0   # the whole load; it takes a fraction of that even under ASan

# Prices with sub-nano fractions per token, so that rounding (half up, once per request,
# not per token kind) decides the last nano-dollar.
ODD_GPT, ODD_CLAUDE = "fake-gpt-odd", "fake-claude-odd"
PRICE_ODD_GPT = {"input": Decimal("1.0005"), "cached_input": Decimal("0.3333335"),
                 "output": Decimal("2.0000005"), "reasoning": Decimal("7.7777775")}
PRICE_ODD_CLAUDE = {"input": Decimal("3.0000015"), "cached_input": Decimal("0.1000005"),
                    "output": Decimal("15.0000025")}  # cache_write defaults to input

PRICES = {"gpt": PRICE_GPT, "gpt-tls": PRICE_GPT, "faulty": PRICE_GPT,
          "claude": PRICE_CLAUDE, "claude-tls": PRICE_CLAUDE, "faulty-claude": PRICE_CLAUDE,
          "embed": PRICE_EMBED, "odd": PRICE_ODD_GPT, "odd-claude": PRICE_ODD_CLAUDE,
          "forbidden": {}}

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()

# What the client can check of each kind of request.
EXACT = "exact"          # usage fully reported: the client knows the exact cost
REJECTED = "rejected"    # refused by the proxy (403): a record with cost 0
CUT = "cut"              # stream cut by the upstream: usage estimated, ledger ⇄ metrics only
NO_USAGE = "no-usage"    # the provider omitted usage: estimated, ledger ⇄ metrics only
PASSED = "passed"        # the provider's own 400, passed through: ledger ⇄ metrics only


@dataclass
class Case:
    seq: int
    api: Api
    route: str
    expect: str
    stream: bool = False
    include_usage: bool = False
    scenario: dict[str, int | bool] = field(default_factory=dict)
    words: int = 0       # extra prompt words, to vary input tokens

    @property
    def usage_hidden(self) -> bool:
        """OpenAI chat/legacy streams without include_usage: the proxy asks for usage and
        hides it from the client (PRODUCT.md §2 step 4)."""
        return self.stream and self.api in (CHAT, COMPLETIONS) and not self.include_usage

    def scenario_header(self) -> str:
        return ";".join(k if v is True else f"{k}={v}" for k, v in self.scenario.items())

    def body(self) -> dict[str, Any]:
        text = " ".join([PROMPT] + [WORDS[i % len(WORDS)]
                                    for i in range(self.seq, self.seq + self.words)])
        payload: dict[str, Any]
        if self.api is COMPLETIONS:
            payload = {"prompt": text}
        elif self.api is RESPONSES:
            payload = {"input": text}
        elif self.api is EMBEDDINGS:
            payload = {"input": [text, "second input"][: 1 + self.seq % 2]}
        else:
            payload = {"messages": [{"role": "user", "content": text}]}
        if self.include_usage:
            payload["stream_options"] = {"include_usage": True}
        return self.api.body(self.route, stream=self.stream, **payload)

    def headers(self) -> dict[str, str]:
        headers = {**auth_headers(APP_KEY), "x-test-seq": str(self.seq)}
        if self.scenario:
            headers["x-fake-scenario"] = self.scenario_header()
        return headers


# (weight, api, route, stream, include_usage, expect)
MIX = [
    (12, CHAT, "gpt", False, False, EXACT),
    (9, CHAT, "gpt", True, True, EXACT),
    (8, CHAT, "gpt", True, False, EXACT),
    (5, COMPLETIONS, "gpt", False, False, EXACT),
    (4, COMPLETIONS, "gpt", True, True, EXACT),
    (4, COMPLETIONS, "gpt", True, False, EXACT),
    (7, EMBEDDINGS, "embed", False, False, EXACT),
    (8, RESPONSES, "gpt", False, False, EXACT),
    (8, RESPONSES, "gpt", True, False, EXACT),
    (8, MESSAGES, "claude", False, False, EXACT),
    (8, MESSAGES, "claude", True, False, EXACT),
    (3, CHAT, "odd", False, False, EXACT),
    (3, CHAT, "odd", True, True, EXACT),
    (2, RESPONSES, "odd", True, False, EXACT),
    (2, EMBEDDINGS, "odd", False, False, EXACT),
    (2, MESSAGES, "odd-claude", False, False, EXACT),
    (2, MESSAGES, "odd-claude", True, False, EXACT),
    (2, CHAT, "gpt-tls", True, True, EXACT),
    (2, MESSAGES, "claude-tls", False, False, EXACT),
    (3, CHAT, "faulty", True, True, CUT),
    (1, COMPLETIONS, "faulty", True, False, CUT),
    (2, RESPONSES, "faulty", True, False, CUT),
    (2, MESSAGES, "faulty-claude", True, False, CUT),
    (2, CHAT, "gpt", False, False, NO_USAGE),
    (1, MESSAGES, "claude", False, False, NO_USAGE),
    (1, CHAT, "forbidden", False, False, REJECTED),
    (1, MESSAGES, "faulty-claude", False, False, PASSED),
]


def make_cases(count: int, rng: random.Random) -> list[Case]:
    weights = [m[0] for m in MIX]
    cases = []
    for seq in range(count):
        _, api, route, stream, include_usage, expect = rng.choices(MIX, weights)[0]
        case = Case(seq, api, route, expect, stream, include_usage, words=rng.randint(0, 40))
        if api is not EMBEDDINGS:
            case.scenario["words"] = rng.randint(1, 30)
        if api in (CHAT, RESPONSES) and rng.random() < 0.5:
            case.scenario["cached"] = rng.choice([1, 3, 7, 11])
            case.scenario["reasoning"] = rng.choice([0, 2, 5, 9])
        if api is MESSAGES and rng.random() < 0.4:
            case.scenario["cached"] = rng.choice([2, 4, 9])
        if expect == CUT:  # reset after 2–6 events of a stream of at least 10
            case.scenario["words"] = rng.randint(8, 30)
            case.scenario["stream-reset-after"] = rng.randint(2, 6)
        elif expect == NO_USAGE:
            case.scenario["no-usage"] = True
        elif expect == PASSED:
            case.scenario = {"status": 400}
        cases.append(case)
    return cases


def reconciliation_config(launcher, tmp_path) -> dict[str, Any]:
    config = launcher.config({"ledger": {"backend": "sqlite",
                                         "path": str(tmp_path / "ledger.db")}})
    config["prices"][f"oa/{ODD_GPT}"] = PRICE_ODD_GPT
    config["prices"][f"an/{ODD_CLAUDE}"] = PRICE_ODD_CLAUDE
    config["routes"]["odd"] = {"targets": [{"provider": "oa", "model": ODD_GPT}]}
    config["routes"]["odd-claude"] = {"targets": [{"provider": "an", "model": ODD_CLAUDE}]}
    config["workflows"]["app"]["routes"] += ["odd", "odd-claude"]
    return config


def to_nano(usd: Decimal) -> int:
    scaled = usd.scaleb(9)
    assert scaled == scaled.to_integral_value(), f"{usd} is finer than a nano-dollar"
    return int(scaled)


def metric_nano(value: float) -> int:
    """A USD counter exported as a double, read back to the nano-dollar it stands for."""
    return int(Decimal(repr(value)).scaleb(9).to_integral_value(ROUND_HALF_EVEN))


def nano_str(nano: int) -> str:
    return f"{Decimal(nano).scaleb(-9):f} USD ({nano} nano)"


def labels(record: dict[str, Any], *names: str) -> tuple[str, ...]:
    return tuple("" if record.get(n) is None else str(record[n]) for n in names)


# --------------------------------------------------------------------------- checks


def describe(case: Case) -> str:
    return (f"#{case.seq} {case.api.name} route={case.route} stream={case.stream} "
            f"include_usage={case.include_usage} scenario={case.scenario_header()!r}")


@dataclass
class ClientView:
    ids: dict[str, Case] = field(default_factory=dict)  # request id → case
    # request id → (tokens, nano-USD) the client expects, for fully reported exchanges
    expected: dict[str, tuple[dict[str, int], int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)    # exchanges that went wrong
    mismatches: list[str] = field(default_factory=list)  # wrong details, reported later


def client_view(cases: list[Case], exchanges: list[Exchange],
                upstream_usage: dict[int, dict[str, Any]]) -> ClientView:
    """What each client saw, and the exact cost it expects where usage was reported."""
    view = ClientView()
    for case, ex in zip(cases, exchanges):
        what = describe(case)
        if ex.request_id is None or ex.request_id in view.ids:
            view.problems.append(f"{what}: request id {ex.request_id!r} missing or reused "
                                 f"(status {ex.status}, error {ex.error})")
            continue
        view.ids[ex.request_id] = case
        if case.expect == EXACT:
            if not (ex.status == 200 and ex.finished):
                view.problems.append(f"{what}: status {ex.status}, finished {ex.finished}, "
                                     f"error {ex.error}, body {str(ex.body)[:300]}")
                continue
            usage = case.api.stream_usage(ex.events) if case.stream else ex.body.get("usage")
            if case.usage_hidden:
                if usage is not None:
                    view.mismatches.append(f"{what}: the usage chunk reached the client")
                usage = upstream_usage.get(case.seq)  # what the provider reported
            if usage is None:
                view.problems.append(f"{what}: no usage seen")
                continue
            kinds = case.api.token_kinds(usage)
            nano = to_nano(expected_cost(kinds, PRICES[case.route]))
            view.expected[ex.request_id] = (kinds, nano)
            header = ex.header("x-spendwall-cost-usd")
            if not case.stream and (header is None or to_nano(Decimal(header)) != nano):
                view.mismatches.append(f"{what}: x-spendwall-cost-usd {header}, expected "
                                       f"{nano_str(nano)} from usage {usage}")
        elif case.expect == REJECTED:
            if ex.status != 403:
                view.problems.append(f"{what}: status {ex.status}, expected 403")
            view.expected[ex.request_id] = ({k: 0 for k in TOKEN_KINDS}, 0)
        elif case.expect == CUT:
            if ex.status != 200 or ex.finished:
                view.problems.append(f"{what}: expected a 200 stream cut before its end, got "
                                     f"status {ex.status} finished {ex.finished} "
                                     f"error {ex.error}")
        elif case.expect == NO_USAGE:
            if ex.status != 200 or not ex.finished:
                view.problems.append(f"{what}: status {ex.status} finished {ex.finished}")
        elif case.expect == PASSED and ex.status != 400:
            view.problems.append(f"{what}: status {ex.status}, expected the provider's 400")
    return view


def record_mismatches(view: ClientView, records: dict[str, dict[str, Any]],
                      exchanges: list[Exchange]) -> list[str]:
    out = []
    for rid, record in records.items():
        case = view.ids[rid]
        status = exchanges[case.seq].status
        what = f"{rid} ({describe(case)})"
        if record.get("id") != rid or record.get("status") != status:
            out.append(f"{what}: record id {record.get('id')} status {record.get('status')}, "
                       f"the client got {status}")
        if Decimal(str(record["cost_usd"])).scaleb(9) != record["cost_nano_usd"]:
            out.append(f"{what}: cost_usd {record['cost_usd']} is not cost_nano_usd "
                       f"{record['cost_nano_usd']}")
        source = record.get("usage_source")
        if case.expect == EXACT and source != "reported":
            out.append(f"{what}: usage_source {source}, the provider reported usage")
        if case.expect in (CUT, NO_USAGE) and source != "estimated":
            out.append(f"{what}: usage_source {source}, usage was missing ({case.expect})")
        if rid in view.expected:
            kinds, nano = view.expected[rid]
            if record["tokens"] != kinds or record["cost_nano_usd"] != nano:
                out.append(f"{what}: record tokens {record['tokens']} cost "
                           f"{record['cost_nano_usd']}; the client expects {kinds} {nano}")
    return out


COST_LABELS = ("workflow", "route", "provider", "model")
TOKEN_LABELS = ("workflow", "provider", "model")


def compare(name: str, got: dict, want: dict, show=str) -> list[str]:
    """`got` (exported) against `want` (summed from records), series by series."""
    return [f"{name}{key} = {show(got.get(key, 0))}, "
            f"records say {show(want.get(key, 0))}"
            for key in sorted(set(got) | set(want)) if got.get(key, 0) != want.get(key, 0)]


def metric_disagreements(m: Metrics, records: list[dict[str, Any]]) -> list[str]:
    """Every exported counter against the sum of the records (PRODUCT.md §2 step 9)."""
    want_cost: Counter = Counter()
    want_requests: Counter = Counter()
    want_tokens: Counter = Counter()
    want_estimated: Counter = Counter()
    for record in records:
        want_cost[labels(record, *COST_LABELS)] += record["cost_nano_usd"]
        want_requests[labels(record, *COST_LABELS, "endpoint", "status")] += 1
        for kind, n in record["tokens"].items():
            if n:
                want_tokens[labels(record, *TOKEN_LABELS) + (kind,)] += n
        if record["usage_source"] == "estimated":
            want_estimated[labels(record, *TOKEN_LABELS)] += 1

    out = []
    cost = series(m, "spendwall_cost_usd_total", *COST_LABELS)
    total = sum((Decimal(repr(v)) for v in cost.values()), Decimal(0)).quantize(Decimal("1e-9"))
    if total != Decimal(sum(want_cost.values())).scaleb(-9):
        out.append(f"Σ spendwall_cost_usd_total = {total} USD, Σ records "
                   f"{nano_str(sum(want_cost.values()))}")
    out += compare("spendwall_cost_usd_total", {k: metric_nano(v) for k, v in cost.items()},
                   want_cost, nano_str)
    requests = {k: int(v) for k, v in
                series(m, "spendwall_requests_total", *COST_LABELS, "endpoint", "code").items()}
    if sum(requests.values()) != len(records):
        out.append(f"Σ spendwall_requests_total = {sum(requests.values())}, "
                   f"{len(records)} records")
    out += compare("spendwall_requests_total", requests, want_requests)
    out += compare("spendwall_tokens_total",
                   {k: int(v) for k, v in series(m, "spendwall_tokens_total", *TOKEN_LABELS,
                                                 "type").items() if v}, want_tokens)
    out += compare("spendwall_usage_estimated_total",
                   {k: int(v) for k, v in series(m, "spendwall_usage_estimated_total",
                                                 *TOKEN_LABELS).items() if v}, want_estimated)
    if m.total("spendwall_ledger_records_total") != len(records):
        out.append(f"spendwall_ledger_records_total = "
                   f"{m.total('spendwall_ledger_records_total')}, {len(records)} records")
    if m.total("spendwall_ledger_write_errors_total"):
        out.append(f"spendwall_ledger_write_errors_total = "
                   f"{m.total('spendwall_ledger_write_errors_total')}")
    return out


# --------------------------------------------------------------------------- the test


def test_client_ledger_and_metrics_agree_to_the_nano_dollar(start_proxy, launcher, tmp_path,
                                                            fake, fake_tls):
    proxy = start_proxy(config=reconciliation_config(launcher, tmp_path))
    cases = make_cases(REQUESTS, random.Random(SEED))
    exchanges = run_pool(lambda c: send(proxy.port, c.api, c.body(), c.headers(), timeout=60),
                         cases, CLIENTS, LOAD_TIMEOUT)
    proxy.assert_alive()

    # ---- the clients' side
    upstream_usage = {int(seen.header("x-test-seq")): seen.usage
                      for seen in fake.requests() + fake_tls.requests()
                      if seen.header("x-test-seq") is not None and seen.usage is not None}
    view = client_view(cases, exchanges, upstream_usage)
    assert not view.problems, \
        f"{len(view.problems)} exchanges went wrong:\n" + "\n".join(view.problems[:20])
    counts = Counter(c.expect for c in view.ids.values())
    assert len(view.ids) == REQUESTS and counts[CUT] and counts[EXACT] > REQUESTS // 2, counts

    # ---- every request has its record
    fetched = fetch_records(proxy.admin_port, view.ids, threads=CLIENTS)
    unreadable = {rid: answer for rid, answer in fetched.items() if answer[0] != 200}
    assert not unreadable, f"{len(unreadable)} of {len(fetched)} records unreadable, e.g. " \
                           f"{list(unreadable.items())[:5]}"
    records = {rid: body for rid, (_, body) in fetched.items()}
    mismatches = view.mismatches + record_mismatches(view, records, exchanges)

    # ---- client ⇄ ledger, to the nano-dollar (the fully reported exchanges)
    client_nano = sum(nano for _, nano in view.expected.values())
    ledger_nano = sum(records[rid]["cost_nano_usd"] for rid in view.expected)
    client_tokens = {k: sum(kinds[k] for kinds, _ in view.expected.values())
                     for k in TOKEN_KINDS}
    ledger_tokens = {k: sum(records[rid]["tokens"][k] for rid in view.expected)
                     for k in TOKEN_KINDS}
    detail = (f"{len(view.expected)} checked of {len(records)} records {dict(counts)}; "
              f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:20]))
    assert ledger_nano == client_nano, \
        f"ledger {nano_str(ledger_nano)} != client {nano_str(client_nano)}; {detail}"
    assert ledger_tokens == client_tokens, detail
    assert not mismatches, detail

    # ---- ledger ⇄ metrics (every record); counters may trail the records a little
    wait_until(lambda: Metrics.scrape(proxy.admin_port).total("spendwall_requests_total")
               >= REQUESTS, timeout=30, message=f"spendwall_requests_total to reach {REQUESTS}")
    last: list[str] = []

    def agree() -> bool:
        last[:] = metric_disagreements(Metrics.scrape(proxy.admin_port), list(records.values()))
        return not last

    try:
        wait_until(agree, timeout=15, interval=0.5, message="metrics to agree with the ledger")
    except AssertionError:
        raise AssertionError(f"{len(last)} ledger/metrics disagreements:\n" +
                             "\n".join(last[:30])) from None
