"""The command line beyond `serve`: `keys new` and `report` against a live ledger."""

from __future__ import annotations

import hashlib
import json
import re

from swtest.apis import CHAT
from swtest.client import auth_headers, request
from swtest.config import APP_KEY
from swtest.process import run_cli


def test_keys_new_prints_a_key_and_its_yaml_hash_line(spendwall_bin):
    result = run_cli(spendwall_bin, "keys", "new", "--workflow", "support")
    assert result.returncode == 0, result.stderr
    key = re.search(r"^key:\s+(\S+)$", result.stdout, re.M)
    line = re.search(r'^- "sha256:([0-9a-f]{64})"$', result.stdout, re.M)
    assert key and line, result.stdout
    assert len(key.group(1)) >= 40, "a high-entropy key"
    assert hashlib.sha256(key.group(1).encode()).hexdigest() == line.group(1)
    second = run_cli(spendwall_bin, "keys", "new", "--workflow", "support")
    assert key.group(1) not in second.stdout, "every key is new"


def test_keys_new_needs_a_workflow(spendwall_bin):
    result = run_cli(spendwall_bin, "keys", "new")
    assert result.returncode == 2
    assert "--workflow" in result.stderr


def test_report_reads_the_ledger_while_serve_runs(spendwall_bin, start_proxy, tmp_path, proxy_env):
    proxy = start_proxy({"ledger": {"backend": "sqlite", "path": str(tmp_path / "ledger.db")}})
    costs = []
    for _ in range(3):
        resp = request(proxy.port, "POST", CHAT.path, CHAT.body("gpt"), auth_headers(APP_KEY))
        assert resp.status == 200, resp
        costs.append(resp.header("x-spendwall-cost-usd"))

    result = run_cli(spendwall_bin, "report", "-c", str(proxy.config), "--format", "json",
                     "--by", "workflow", env=proxy_env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {row["key"]: row for row in report["rows"]}
    assert rows["app"]["requests"] == 3
    assert rows["app"]["owner"] == "test-team"
    expected = sum(float(c) for c in costs)
    assert abs(rows["app"]["spend_usd"] - expected) < 1e-9
    assert report["totals"]["requests"] == 3

    table = run_cli(spendwall_bin, "report", "-c", str(proxy.config), env=proxy_env)
    assert table.returncode == 0, table.stderr
    assert "app" in table.stdout


def test_report_usage_errors_exit_2(spendwall_bin, launcher, proxy_env):
    path = launcher.write(launcher.config())
    result = run_cli(spendwall_bin, "report", "-c", str(path), "--by", "colour", env=proxy_env)
    assert result.returncode == 2
    assert result.stderr.strip(), "one clear line"
