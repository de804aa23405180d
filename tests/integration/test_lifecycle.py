"""Admin probes, graceful shutdown, and the `check` / `version` commands."""

from __future__ import annotations

import re
import signal
import threading
import time
from pathlib import Path

from swtest.apis import CHAT, expected_reply
from swtest.client import SseStream, auth_headers, connection_refused, request, wait_until
from swtest.config import APP_KEY, GPT
from swtest.metrics import Metrics
from swtest.process import run_cli

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "integration"
DIAGNOSTIC = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.+)$")


# --------------------------------------------------------------------------- admin plane


def test_healthz_and_readyz(proxy):
    for path in ("/healthz", "/readyz"):
        resp = request(proxy.admin_port, "GET", path)
        assert resp.status == 200, (path, resp)


def test_metrics_are_exported(proxy):
    metrics = Metrics.scrape(proxy.admin_port)
    assert {"spendwall_build_info", "spendwall_workflow_info"} <= metrics.names()
    assert metrics.total("spendwall_workflow_info", workflow="app", owner="test-team") == 1


def test_admin_plane_is_not_the_data_plane(proxy):
    assert request(proxy.port, "GET", "/healthz").status == 404
    assert request(proxy.admin_port, "POST", CHAT.path, CHAT.body("gpt"),
                   auth_headers(APP_KEY)).status == 404


def test_listening_line_names_both_addresses(proxy):
    line = proxy.listening_line()
    assert line["listen"] == f"127.0.0.1:{proxy.port}"
    assert line["admin_listen"] == f"127.0.0.1:{proxy.admin_port}"
    assert proxy.port != proxy.admin_port


# --------------------------------------------------------------------------- shutdown


class StreamReader(threading.Thread):
    """Reads one streaming request in the background; `first_event` is set on the first one."""

    def __init__(self, port: int, scenario: str):
        super().__init__(daemon=True)
        self.port = port
        self.scenario = scenario
        self.first_event = threading.Event()
        self.events = []
        self.status = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            headers = {**auth_headers(APP_KEY), "x-fake-scenario": self.scenario}
            with SseStream(self.port, CHAT.path, CHAT.body("gpt", stream=True), headers,
                           timeout=20) as s:
                self.status = s.status
                for event in s.events():
                    self.events.append(event)
                    self.first_event.set()
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            self.first_event.set()


def test_sigterm_drains_an_in_flight_stream_then_exits_0(start_proxy):
    proxy = start_proxy({"server": {"drain_timeout": "10s"}})
    reader = StreamReader(proxy.port, "words=15;chunk-delay-ms=150")  # about 2.5 s
    reader.start()
    assert reader.first_event.wait(10), "the stream never started"
    assert reader.error is None, reader.error

    proxy.signal(signal.SIGTERM)
    wait_until(lambda: connection_refused(proxy.port), timeout=3,
               message="new connections refused after SIGTERM")
    reader.join(20)
    assert not reader.is_alive(), "the in-flight stream never finished"
    assert reader.error is None, reader.error
    assert reader.status == 200
    assert CHAT.stream_text(reader.events) == expected_reply(GPT, words=15)
    assert CHAT.stream_finished(reader.events), "the drained stream was cut"
    assert proxy.proc.wait(10) == 0, proxy.output()


def test_sigterm_cuts_streams_at_drain_timeout(start_proxy):
    proxy = start_proxy({"server": {"drain_timeout": "1s"}})
    reader = StreamReader(proxy.port, "words=100;chunk-delay-ms=100")  # about 10 s
    reader.start()
    assert reader.first_event.wait(10), "the stream never started"

    started = time.monotonic()
    proxy.signal(signal.SIGTERM)
    code = proxy.proc.wait(10)
    elapsed = time.monotonic() - started
    assert code == 0, proxy.output()
    assert elapsed < 5, f"exit took {elapsed:.2f}s with drain_timeout 1s"
    reader.join(10)
    assert not CHAT.stream_finished(reader.events)


def test_sigterm_with_nothing_in_flight_exits_promptly(start_proxy):
    proxy = start_proxy()
    started = time.monotonic()
    assert proxy.terminate(timeout=10) == 0, proxy.output()
    assert time.monotonic() - started < 3


# --------------------------------------------------------------------------- CLI


def test_version(spendwall_bin):
    result = run_cli(spendwall_bin, "version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "version prints something"


def test_check_accepts_the_test_config(spendwall_bin, launcher, proxy_env):
    path = launcher.write(launcher.config())
    result = run_cli(spendwall_bin, "check", "-c", str(path), env=proxy_env)
    assert result.returncode == 0, result.stderr
    assert not [l for l in result.stderr.splitlines() if ": error: " in l]


BAD_CONFIG = DATA_DIR / "check-errors.yaml"
UNKNOWN_KEY_AT = (6, 3)        # `lisen:`
UNDEFINED_PROVIDER_LINE = 15   # `provider: nowhere`


def test_check_reports_every_error_with_file_line_and_column(spendwall_bin, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_CONFIG.read_text())
    result = run_cli(spendwall_bin, "check", "-c", str(path), cwd=tmp_path)
    assert result.returncode == 1, (result.returncode, result.stderr)
    errors = [m for m in map(DIAGNOSTIC.match, result.stderr.splitlines()) if m]
    assert len(errors) >= 2, f"every error is reported at once:\n{result.stderr}"
    assert all(m["file"] == str(path) for m in errors), "FILE as given on the command line"
    where = {(int(m["line"]), int(m["col"])) for m in errors}
    assert UNKNOWN_KEY_AT in where, f"unknown key `lisen` at {UNKNOWN_KEY_AT}:\n{result.stderr}"
    assert any(line == UNDEFINED_PROVIDER_LINE for line, _ in where), \
        f"undefined provider on line {UNDEFINED_PROVIDER_LINE}:\n{result.stderr}"


def test_check_names_a_missing_environment_variable(spendwall_bin, launcher, tmp_path):
    path = launcher.write(launcher.config())
    env = {"PATH": "/usr/bin:/bin"}  # no SW_TEST_* keys
    result = run_cli(spendwall_bin, "check", "-c", str(path), env=env)
    assert result.returncode == 1
    errors = [m for m in map(DIAGNOSTIC.match, result.stderr.splitlines()) if m]
    assert errors, result.stderr
    assert any("SW_TEST_OPENAI_KEY" in m["msg"] for m in errors), result.stderr


def test_serve_refuses_a_bad_config(spendwall_bin, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_CONFIG.read_text())
    result = run_cli(spendwall_bin, "serve", "-c", str(path), cwd=tmp_path, timeout=15)
    assert result.returncode != 0
    line, col = UNKNOWN_KEY_AT
    assert f"{path}:{line}:{col}: error:" in result.stderr
