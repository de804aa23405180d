"""The official OpenAI and Anthropic SDKs (tests/compat, node --test) against the proxy."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from swtest.apis import expected_reply
from swtest.config import APP_KEY, BROKE_KEY, CLAUDE, GPT, GPT_MINI

COMPAT_DIR = Path(__file__).resolve().parents[1] / "compat"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the SDK compatibility tests")
    result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                            cwd=COMPAT_DIR, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return COMPAT_DIR / "node_modules"


def test_official_sdks(proxy, node_modules, proxy_env):
    env = {**proxy_env,
           "SPENDWALL_BASE_URL": proxy.url,
           "SPENDWALL_KEY": APP_KEY,
           "SPENDWALL_BROKE_KEY": BROKE_KEY,
           "SPENDWALL_CHAT_MODEL": "gpt",
           "SPENDWALL_MESSAGES_MODEL": "claude",
           "SPENDWALL_EMBED_MODEL": "embed",
           "SPENDWALL_FORBIDDEN_MODEL": "forbidden",
           "SPENDWALL_CHAT_TEXT": expected_reply(GPT),
           "SPENDWALL_MESSAGES_TEXT": expected_reply(CLAUDE),
           # `failover`: its target answers 500 (twice: retries 1), its fallback answers.
           "SPENDWALL_FALLBACK_MODEL": "failover",
           "SPENDWALL_FALLBACK_TEXT": expected_reply(GPT_MINI)}
    result = subprocess.run(["node", "--test", "--test-reporter=tap"], cwd=COMPAT_DIR, env=env,
                            capture_output=True, text=True, timeout=300)
    failed = [line.strip() for line in result.stdout.splitlines()
              if line.strip().startswith("not ok")]
    assert result.returncode == 0, (f"SDK tests failed: {failed}\n{result.stdout[-12000:]}\n"
                                    f"{result.stderr[-4000:]}")
    assert "# fail 0" in result.stdout
