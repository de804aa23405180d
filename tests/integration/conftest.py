"""Fixtures: fake upstreams (HTTP, TLS, always-failing), certificates, and the real binary.

The binary comes from $SPENDWALL_BIN. One proxy with the standard config serves most tests
(`proxy`); tests that need other settings or kill the process use `start_proxy`.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import swtest  # noqa: F401  (puts tests/fakes on sys.path)
from fake_upstream import FakeUpstream
from swtest.certs import Certs, make_certs
from swtest.config import PROVIDER_ENV, Upstreams, deep_merge, standard_config, write_config
from swtest.process import Spendwall
from swtest.secrets import scan

REPO_ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- binary


@pytest.fixture(scope="session")
def spendwall_bin() -> str:
    path = os.environ.get("SPENDWALL_BIN")
    if not path:
        pytest.fail("SPENDWALL_BIN is not set: point it at the built `spendwall` binary "
                    "(ctest sets it)", pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail(f"SPENDWALL_BIN={path} is not an executable file", pytrace=False)
    return path


@pytest.fixture(scope="session")
def proxy_env() -> dict[str, str]:
    return {**os.environ, **PROVIDER_ENV}


# --------------------------------------------------------------------------- upstreams


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl CLI is needed to make test certificates", pytrace=False)
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as f:
        yield f


@pytest.fixture(scope="session")
def fake_tls(certs: Certs) -> Iterator[FakeUpstream]:
    with FakeUpstream(tls_cert=str(certs.cert), tls_key=str(certs.key)) as f:
        yield f


@pytest.fixture(scope="session")
def fake_failing() -> Iterator[FakeUpstream]:
    with FakeUpstream(scenario="status=500") as f:
        yield f


@pytest.fixture(scope="session")
def dead_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def upstreams(fake: FakeUpstream, fake_tls: FakeUpstream, fake_failing: FakeUpstream,
              dead_port: int) -> Upstreams:
    return Upstreams(plain=fake.port, tls=fake_tls.port, failing=fake_failing.port,
                     dead=dead_port)


@pytest.fixture(autouse=True)
def _fresh_fakes(fake: FakeUpstream, fake_tls: FakeUpstream,
                 fake_failing: FakeUpstream) -> None:
    for f in (fake, fake_tls, fake_failing):
        f.clear()


# --------------------------------------------------------------------------- the binary


class ProxyLauncher:
    """Writes configs into fresh folders (with the CA files beside them) and starts proxies."""

    def __init__(self, binary: str, base: Path, certs: Certs, env: dict[str, str],
                 upstreams: Upstreams):
        self.binary = binary
        self.base = base
        self.certs = certs
        self.env = env
        self.upstreams = upstreams
        self.started: list[Spendwall] = []
        self._count = 0

    def config(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        return deep_merge(standard_config(self.upstreams), overrides or {})

    def write(self, config: dict[str, Any]) -> Path:
        self._count += 1
        directory = self.base / f"proxy-{self._count}"
        directory.mkdir(parents=True)
        shutil.copy(self.certs.ca, directory / "ca.pem")
        shutil.copy(self.certs.other_ca, directory / "other-ca.pem")
        return write_config(directory, config)

    def start(self, overrides: dict[str, Any] | None = None,
              config: dict[str, Any] | None = None) -> Spendwall:
        path = self.write(config if config is not None else self.config(overrides))
        proxy = Spendwall(self.binary, path, self.env)
        self.started.append(proxy)
        return proxy.start()

    def stop_all(self) -> list[tuple[Spendwall, int]]:
        """Stops every proxy still running; returns those that had died on their own."""
        died = []
        for proxy in self.started:
            if not proxy.stopped and not proxy.alive():
                died.append((proxy, proxy.proc.returncode))
            elif proxy.alive():
                proxy.terminate()
        return died


@pytest.fixture(scope="session")
def _shared_launcher(spendwall_bin: str, tmp_path_factory: pytest.TempPathFactory,
                     certs: Certs, proxy_env: dict[str, str],
                     upstreams: Upstreams) -> Iterator[ProxyLauncher]:
    launcher = ProxyLauncher(spendwall_bin, tmp_path_factory.mktemp("shared"), certs, proxy_env,
                             upstreams)
    yield launcher
    launcher.stop_all()


@pytest.fixture
def proxy(_shared_launcher: ProxyLauncher) -> Iterator[Spendwall]:
    """The shared proxy with the standard config; restarted if an earlier test crashed it."""
    current = _shared_launcher.started[-1] if _shared_launcher.started else None
    if current is None or not current.alive():
        current = _shared_launcher.start()
    yield current
    if not current.alive(grace=0.05):
        pytest.fail(f"spendwall died during this test (exit {current.proc.returncode}):\n"
                    f"{current.output()}", pytrace=False)


@pytest.fixture
def launcher(spendwall_bin: str, tmp_path: Path, certs: Certs, proxy_env: dict[str, str],
             upstreams: Upstreams) -> Iterator[ProxyLauncher]:
    """Dedicated proxies for one test; fails the test if one of them died on its own."""
    launcher = ProxyLauncher(spendwall_bin, tmp_path, certs, proxy_env, upstreams)
    yield launcher
    died = launcher.stop_all()
    if died:
        proxy, code = died[0]
        pytest.fail(f"spendwall died during this test (exit {code}):\n{proxy.output()}",
                    pytrace=False)


@pytest.fixture
def start_proxy(launcher: ProxyLauncher) -> Callable[..., Spendwall]:
    """start_proxy(overrides) merges into the standard config; start_proxy(config=...) not."""
    return launcher.start


# --------------------------------------------------------------------------- secrets


@pytest.fixture(scope="session", autouse=True)
def _no_secret_written_during_the_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session (torn down last, after every proxy stopped): no key or token
    appears in any proxy log, ledger text value, ledger file or spool segment the suite left."""
    yield
    scanned = scan(tmp_path_factory.getbasetemp())
    assert not scanned.findings, "secrets written by the proxy during the suite:\n" + \
        "\n".join(map(str, scanned.findings[:20]))


# --------------------------------------------------------------------------- reporting


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Attaches the proxy's log to every failing test that used one."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Spendwall):
            report.sections.append(("spendwall log (tail)", value.output(6000)))
        elif isinstance(value, ProxyLauncher):
            for proxy in value.started:
                report.sections.append(("spendwall log (tail)", proxy.output(6000)))
