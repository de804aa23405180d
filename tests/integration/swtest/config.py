"""Test configs: Python dicts rendered as YAML, the keys and prices they use."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

# Client keys (workflow keys) and the providers' own keys.
APP_KEY = "sw-test-key-app-0001"          # workflow `app`: every test route but `forbidden`
OUTSIDER_KEY = "sw-test-key-outsider-0002"  # workflow `outsider`: only `forbidden`
BROKE_KEY = "sw-test-key-broke-0003"      # workflow `broke`: a budget nothing fits in
CAPPED_KEY = "sw-test-key-capped-0004"    # workflow `capped`: a tiny session cap
STAR_KEY = "sw-test-key-star-0005"        # workflow `everything`: routes ["*"]
UNKNOWN_KEY = "sw-test-key-nobody-9999"
OPENAI_PROVIDER_KEY = "sk-provider-openai-test-7f3a"
ANTHROPIC_PROVIDER_KEY = "sk-ant-provider-test-91bc"
PROVIDER_ENV = {"SW_TEST_OPENAI_KEY": OPENAI_PROVIDER_KEY,
                "SW_TEST_ANTHROPIC_KEY": ANTHROPIC_PROVIDER_KEY}
CLIENT_KEYS = (APP_KEY, OUTSIDER_KEY, BROKE_KEY, CAPPED_KEY, STAR_KEY, UNKNOWN_KEY)

# Target model names: never equal to a route name, so a rewrite is visible upstream.
GPT = "fake-gpt-4o"
GPT_MINI = "fake-gpt-4o-mini"
CLAUDE = "fake-claude-sonnet"
EMBED = "fake-embed-small"

PROVIDER_ANTHROPIC_VERSION = "2023-06-01"
PROVIDER_EXTRA_HEADER = ("X-Provider-Extra", "from-config")

# USD per 1M tokens, exact decimals as written in the YAML.
PRICE_GPT = {"input": Decimal("2.50"), "cached_input": Decimal("1.25"), "output": Decimal("10.00")}
PRICE_GPT_MINI = {"input": Decimal("0.15"), "cached_input": Decimal("0.075"),
                  "output": Decimal("0.60")}
PRICE_CLAUDE = {"input": Decimal("3.00"), "cached_input": Decimal("0.30"),
                "cache_write": Decimal("3.75"), "output": Decimal("15.00")}
PRICE_EMBED = {"input": Decimal("0.02")}
PRICE_SIM = {"input": Decimal("3.00"), "output": Decimal("15.00")}

NO_COOLDOWN = {"retries": 0, "cooldown_after": 1000}


def key_hash(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Upstreams:
    """Where the fakes listen."""
    plain: int        # fake upstream over HTTP
    tls: int          # fake upstream over TLS (cert for 127.0.0.1 and localhost)
    failing: int      # fake upstream answering 500 to everything
    dead: int         # a port nothing listens on


# --------------------------------------------------------------------------- YAML


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_./-]+$")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(str(value))


def _key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) else json.dumps(key)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)}: {_flow(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def to_yaml(mapping: dict[str, Any], indent: int = 0) -> str:
    """Block mappings for nested dicts, flow style for lists and leaf mappings."""
    pad = "  " * indent
    out = []
    for key, value in mapping.items():
        nested = isinstance(value, dict) and value and any(
            isinstance(v, (dict, list)) for v in value.values())
        if nested or (isinstance(value, dict) and len(value) > 4):
            out.append(f"{pad}{_key(key)}:\n{to_yaml(value, indent + 1)}")
        else:
            out.append(f"{pad}{_key(key)}: {_flow(value)}\n")
    return "".join(out)


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def write_config(directory: Path, config: dict[str, Any], name: str = "spendwall.yaml") -> Path:
    path = directory / name
    path.write_text("# Written by the integration tests.\n" + to_yaml(config))
    return path


# --------------------------------------------------------------------------- the config


def _openai(base: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "openai", "base_url": f"{base}/v1", "api_key": "${SW_TEST_OPENAI_KEY}",
            **extra}


def _anthropic(base: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "anthropic", "base_url": base, "api_key": "${SW_TEST_ANTHROPIC_KEY}",
            "anthropic_version": PROVIDER_ANTHROPIC_VERSION, **extra}


def _route(provider: str, model: str, **extra: Any) -> dict[str, Any]:
    return {"targets": [{"provider": provider, "model": model}], **extra}


def standard_config(up: Upstreams) -> dict[str, Any]:
    """The config most tests share. `ca.pem` / `other-ca.pem` sit beside the file."""
    plain, tls = f"http://127.0.0.1:{up.plain}", f"https://127.0.0.1:{up.tls}"
    extra_header = {PROVIDER_EXTRA_HEADER[0]: PROVIDER_EXTRA_HEADER[1]}
    providers = {
        "oa": _openai(plain, headers=extra_header),
        "oa-tls": _openai(tls, ca_file="ca.pem"),
        "an": _anthropic(plain),
        "an-tls": _anthropic(tls, ca_file="ca.pem"),
        # Separate providers for failure scenarios, so failures never cool down `oa`/`an`.
        "faulty": _openai(plain),
        "faulty-an": _anthropic(plain),
        "slow": _openai(plain, first_byte_timeout="1s"),
        "limited": _openai(plain, max_response_bytes="64KiB"),
        "dead": _openai(f"http://127.0.0.1:{up.dead}", connect_timeout="2s"),
        "dead-an": _anthropic(f"http://127.0.0.1:{up.dead}", connect_timeout="2s"),
        "untrusted": _openai(tls, ca_file="other-ca.pem"),
        "sni": _openai(f"https://localhost:{up.tls}", ca_file="ca.pem"),
        "broken": _openai(f"http://127.0.0.1:{up.failing}"),
        "sim": {"kind": "simulated", "latency": "20ms", "tokens_per_second": 2000,
                "error_rate": 0.0, "error_status": 429},
    }
    openai_providers = ["oa", "oa-tls", "faulty", "slow", "limited", "dead", "untrusted", "sni",
                        "broken"]
    prices: dict[str, Any] = {}
    for p in openai_providers:
        prices[f"{p}/{GPT}"] = PRICE_GPT
    for p in ("oa", "oa-tls"):
        prices[f"{p}/{EMBED}"] = PRICE_EMBED
    prices[f"oa/{GPT_MINI}"] = PRICE_GPT_MINI
    for p in ("an", "an-tls", "faulty-an", "dead-an"):
        prices[f"{p}/{CLAUDE}"] = PRICE_CLAUDE
    prices["sim/sim-large"] = PRICE_SIM

    routes = {
        "gpt": _route("oa", GPT),
        "gpt-tls": _route("oa-tls", GPT),
        "claude": _route("an", CLAUDE),
        "claude-tls": _route("an-tls", CLAUDE),
        "embed": _route("oa", EMBED),
        "embed-tls": _route("oa-tls", EMBED),
        "faulty": _route("faulty", GPT, retries=1, cooldown_after=1000, max_retry_wait="2s"),
        "faulty-claude": _route("faulty-an", CLAUDE, retries=1, cooldown_after=1000,
                                max_retry_wait="2s"),
        "slow": _route("slow", GPT, **NO_COOLDOWN),
        "limited": _route("limited", GPT, **NO_COOLDOWN),
        "dead": _route("dead", GPT, **NO_COOLDOWN),
        "dead-claude": _route("dead-an", CLAUDE, **NO_COOLDOWN),
        "untrusted": _route("untrusted", GPT, **NO_COOLDOWN),
        "sni": _route("sni", GPT),
        "failover": {"targets": [{"provider": "broken", "model": GPT}],
                     "fallbacks": [{"provider": "oa", "model": GPT_MINI}],
                     "retries": 1, "cooldown_after": 1000},
        "sim": _route("sim", "sim-large"),
        "forbidden": _route("oa", GPT),
    }
    app_routes = [r for r in routes if r != "forbidden"]
    workflows = {
        "app": {"owner": "test-team", "contact": "#test-team", "keys": [key_hash(APP_KEY)],
                "routes": app_routes,
                "budget": {"daily": 1000, "on_exceeded": "block"}, "review": "weekly"},
        "outsider": {"owner": "other-team", "keys": [key_hash(OUTSIDER_KEY)],
                     "routes": ["forbidden"]},
        "everything": {"owner": "platform", "keys": [key_hash(STAR_KEY)], "routes": ["*"]},
        "broke": {"owner": "broke-team", "keys": [key_hash(BROKE_KEY)],
                  "routes": ["gpt", "claude"],
                  "budget": {"daily": Decimal("0.0001"), "on_exceeded": "block"}},
        "capped": {"owner": "capped-team", "keys": [key_hash(CAPPED_KEY)],
                   "routes": ["gpt", "claude"],
                   "budget": {"daily": 1000, "on_exceeded": "block",
                              "session_cap": Decimal("0.001")}},
    }
    return {
        "version": 1,
        "server": {"listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0", "workers": 2,
                   "max_request_bytes": "64KiB", "max_header_bytes": "8KiB",
                   "header_timeout": "2s", "request_timeout": "60s", "idle_timeout": "30s",
                   "drain_timeout": "5s"},
        "ledger": {"backend": "memory"},
        "providers": providers,
        "prices": prices,
        "routes": routes,
        "workflows": workflows,
        "alerts": {"sinks": [{"name": "log", "kind": "log"}]},
    }


MAX_REQUEST_BYTES = 64 * 1024
MAX_HEADER_BYTES = 8 * 1024
