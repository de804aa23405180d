"""Runs the real `spendwall` binary and learns its ports from the `listening` log line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0


class ProxyExited(AssertionError):
    pass


class Spendwall:
    """One `spendwall serve -c CONFIG` process, its stdout/stderr kept in files."""

    def __init__(self, binary: str, config: Path, env: dict[str, str]):
        self.binary = binary
        self.config = config
        self.env = env
        self.stderr_path = config.with_suffix(".stderr.log")
        self.stdout_path = config.with_suffix(".stdout.log")
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.admin_port = 0
        self.stopped = False

    # ---- lifecycle
    def start(self, timeout: float = STARTUP_TIMEOUT) -> "Spendwall":
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen([self.binary, "serve", "-c", str(self.config)],
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=self.env, cwd=self.config.parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.listening_line()
            if line:
                self.port = _port_of(line["listen"])
                self.admin_port = _port_of(line["admin_listen"])
                return self
            if self.proc.poll() is not None:
                raise ProxyExited(f"spendwall exited with {self.proc.returncode} before "
                                  f"listening:\n{self.output()}")
            time.sleep(0.02)
        self.kill()
        raise ProxyExited(f"no 'listening' log line within {timeout}s:\n{self.output()}")

    def listening_line(self) -> dict | None:
        return next((l for l in self.log_lines() if l.get("msg") == "listening"), None)

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then SIGKILL after `timeout`. Returns the exit status (negative = signal)."""
        assert self.proc is not None
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise ProxyExited(f"spendwall ignored SIGTERM for {timeout}s:\n{self.output()}")
        return self.proc.returncode

    def kill(self) -> None:
        self.stopped = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def signal(self, sig: int) -> None:
        """Sends `sig`; a stopping signal marks the exit as expected."""
        assert self.proc is not None
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
            self.stopped = True
        self.proc.send_signal(sig)

    # ---- state
    def alive(self, grace: float = 0.0) -> bool:
        """Whether the process runs; `grace` seconds let a crash in progress show."""
        if self.proc is None:
            return False
        if grace:
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        return self.proc.poll() is None

    def assert_alive(self) -> None:
        if not self.stopped and not self.alive():
            raise ProxyExited(f"spendwall exited unexpectedly with {self.proc.returncode}:\n"
                              f"{self.output()}")

    def output(self, limit: int = 20000) -> str:
        """stderr then stdout, without config warnings, cut to the last `limit` characters."""
        lines = (_read(self.stderr_path) + _read(self.stdout_path)).splitlines(keepends=True)
        text = "".join(l for l in lines if ": warning: " not in l)
        return text[-limit:] if len(text) > limit else text

    def log_lines(self) -> list[dict]:
        lines = []
        for raw in _read(self.stderr_path).splitlines():
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict):
                lines.append(obj)
        return lines

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def run_cli(binary: str, *args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else dict(os.environ), cwd=cwd)
