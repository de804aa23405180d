"""What a run reads: wrk's summary, a process tree's CPU time and peak RSS from /proc,
Spendwall's request counters, and a socket client timing first bytes and chunk gaps."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import statistics
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from targets import HOST, LOAD_CORE, SPENDWALL_ADMIN_PORT, BENCH_KEY

HERE = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- /proc


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of every thread of these processes (children's waits excluded)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])   # utime, stime (fields 14, 15)
    return total / CLK_TCK


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak_rss(pids: list[int]) -> None:
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")   # resets VmHWM to VmRSS
        except OSError:
            pass


def peak_rss_kib(pids: list[int]) -> int:
    return sum(_status_kib(pid, "VmHWM") for pid in pids)


def rss_kib(pids: list[int]) -> int:
    return sum(_status_kib(pid, "VmRSS") for pid in pids)


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


# ----------------------------------------------------------------------------- wrk


def run_wrk(port: int, connections: int, seconds: float, kind: str,
            portkey_host: str | None = None, threads: int = 1,
            timeout_s: float = 10.0, max_tokens: int = 64) -> dict:
    env = {**os.environ, "BENCH_MODEL": f"bench-{kind}",
           "BENCH_STREAM": "0" if kind == "json" else "1", "BENCH_KEY": BENCH_KEY,
           "BENCH_MAX_TOKENS": str(max_tokens)}
    if portkey_host:
        env["BENCH_PORTKEY_HOST"] = portkey_host
    argv = ["taskset", "-c", LOAD_CORE, "wrk", f"-t{min(threads, connections)}",
            f"-c{connections}", f"-d{math.ceil(seconds)}s", f"--timeout={math.ceil(timeout_s)}s",
            "-s", str(HERE / "chat.lua"), f"http://{HOST}:{port}/v1/chat/completions"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True,
                         timeout=seconds + timeout_s + 60)
    for line in out.stdout.splitlines():
        if line.startswith("WRKJSON "):
            result = json.loads(line[len("WRKJSON "):])
            result["raw"] = out.stdout
            return result
    raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")


# ----------------------------------------------------------------------------- metrics


_SAMPLE = re.compile(r'^(\w+)\{([^}]*)\}\s+(\S+)$')


def scrape(port: int = SPENDWALL_ADMIN_PORT) -> str:
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as reply:
        return reply.read().decode()


def metric_sum(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


def metric_plain(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


# ----------------------------------------------------------------------------- socket client


@dataclass
class StreamTiming:
    first_byte_s: float
    chunk_arrivals_s: list[float]   # relative to the request's send
    status: int


def _request_bytes(kind: str, portkey_host: str | None) -> bytes:
    filler = "The quick brown fox jumps over the lazy dog. " * 18
    body = json.dumps({"model": f"bench-{kind}", "max_tokens": 64, "stream": True,
                       "stream_options": {"include_usage": True},
                       "messages": [{"role": "system", "content": "You are a concise assistant."},
                                    {"role": "user", "content": filler}]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {BENCH_KEY}\r\n"
            f"Content-Length: {len(body)}\r\n")
    if portkey_host:
        head += f"x-portkey-provider: openai\r\nx-portkey-custom-host: {portkey_host}\r\n"
    return (head + "\r\n").encode() + body


def _response_complete(buf: bytes) -> bool:
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    head, body = buf[:head_end].lower(), buf[head_end + 4:]
    if b"transfer-encoding: chunked" in head:
        return body.endswith(b"0\r\n\r\n") and (body.startswith(b"0\r\n")
                                                  or b"\r\n0\r\n\r\n" in body)
    length = re.search(rb"content-length:\s*(\d+)", head)
    return length is not None and len(body) >= int(length.group(1))


def stream_once(sock: socket.socket, request: bytes) -> StreamTiming:
    """Sends one streaming request on a kept-alive socket; times first byte and each event."""
    start = time.perf_counter()
    sock.sendall(request)
    buf = b""
    first = None
    arrivals: list[float] = []
    while not _response_complete(buf):
        data = sock.recv(65536)
        now = time.perf_counter() - start
        if not data:
            raise RuntimeError("connection closed mid-response")
        if first is None:
            first = now
        before = buf.count(b"data: ")
        buf += data
        arrivals.extend([now] * (buf.count(b"data: ") - before))
    status = int(buf.split(b" ", 2)[1])
    return StreamTiming(first, arrivals, status)


def stream_timings(port: int, kind: str, count: int, portkey_host: str | None = None
                   ) -> list[StreamTiming]:
    request = _request_bytes(kind, portkey_host)
    timings = []
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            timings.append(stream_once(sock, request))
    return timings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
