"""The processes a load run starts: the canned upstream, the proxies under test, their configs.

Every process is started in its own session, pinned with taskset, and stopped by pid.
Ports are fixed (loopback only) so that a run is reproducible and easy to poke at by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
BENCH_KEY = "sw-bench-key-0001"
PROXY_CORE = "0"
LOAD_CORE = "1"

# One upstream port per canned behaviour: nginx cannot choose a response by request body.
UPSTREAM_PORTS = {"json": 18100, "sse": 18101, "slow": 18102, "gap": 18103}
NGINX_PROXY_PORTS = {"json": 18110, "sse": 18111, "gap": 18113}
HAPROXY_PORTS = {"json": 18120, "sse": 18121}
SPENDWALL_PORT = 18130
SPENDWALL_ADMIN_PORT = 18131
BASELINE_PORT = 18132
BASELINE_ADMIN_PORT = 18133
PORTKEY_PORT = 18140

SSE_CHUNKS = 20
SLOW_FIRST_BYTE_S = 1.0
SLOW_CHUNK_INTERVAL_S = 0.1   # 20 chunks over 2 s
GAP_CHUNK_INTERVAL_S = 0.05   # the no-buffering check


# ----------------------------------------------------------------------------- canned bodies


def chat_completion() -> str:
    """A ~1 KB non-streaming chat completion with usage, no `$` (nginx would expand it)."""
    content = ("Spendwall meters every request. " * 18).strip()
    return json.dumps({
        "id": "chatcmpl-bench0001", "object": "chat.completion", "created": 1764300000,
        "model": "bench-model", "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 262, "completion_tokens": 126, "total_tokens": 388},
    }, separators=(",", ":"))


def sse_events() -> list[str]:
    """An OpenAI stream: role chunk, content chunks, finish chunk, usage chunk, [DONE]."""
    def chunk(choices: list, usage: dict | None = None) -> str:
        body = {"id": "chatcmpl-bench0002", "object": "chat.completion.chunk",
                "created": 1764300000, "model": "bench-model", "system_fingerprint": "fp_bench",
                "choices": choices}
        if usage is not None:
            body["usage"] = usage
        return "data: " + json.dumps(body, separators=(",", ":")) + "\n\n"

    events = [chunk([{"index": 0, "delta": {"role": "assistant", "content": ""},
                      "finish_reason": None}])]
    for i in range(SSE_CHUNKS - 3):
        events.append(chunk([{"index": 0, "delta": {"content": f" token{i}"},
                              "finish_reason": None}]))
    events.append(chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    events.append(chunk([], {"prompt_tokens": 262, "completion_tokens": SSE_CHUNKS - 3,
                             "total_tokens": 262 + SSE_CHUNKS - 3}))
    events.append("data: [DONE]\n\n")
    return events


def _nginx_literal(text: str) -> str:
    if "$" in text or "'" in text:
        raise ValueError("canned body must not contain $ or '")
    return "'" + text.replace("\\", "\\\\").replace("\n", "\\n") + "'"


def _sse_location(pause_first: float, pause_between: float) -> str:
    """echo-module body: chunked, each event flushed on its own, optionally paced."""
    lines = ["echo_read_request_body;"]
    if pause_first:
        lines.append(f"echo_sleep {pause_first};")
    for event in sse_events():
        lines.append(f"echo -n {_nginx_literal(event)};")
        lines.append("echo_flush;")
        if pause_between:
            lines.append(f"echo_sleep {pause_between};")
    return "\n        ".join(lines)


# ----------------------------------------------------------------------------- configs


def upstream_nginx_conf(workdir: Path) -> str:
    module = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
    json_body = _nginx_literal(chat_completion())

    def server(port: int, body: str, content_type: str) -> str:
        return f"""
    server {{
        listen {HOST}:{port} reuseport backlog=16384;
        location / {{
            default_type {content_type};
            {body}
        }}
    }}"""

    servers = [
        server(UPSTREAM_PORTS["json"], f"return 200 {json_body};", "application/json"),
        server(UPSTREAM_PORTS["sse"], _sse_location(0, 0), "text/event-stream"),
        server(UPSTREAM_PORTS["slow"], _sse_location(SLOW_FIRST_BYTE_S, SLOW_CHUNK_INTERVAL_S),
               "text/event-stream"),
        server(UPSTREAM_PORTS["gap"], _sse_location(0, GAP_CHUNK_INTERVAL_S),
               "text/event-stream"),
    ]
    return _nginx_main(workdir, "upstream", f"load_module {module};") + "".join(servers) + "\n}\n"


def _nginx_main(workdir: Path, name: str, preamble: str = "") -> str:
    return f"""{preamble}
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 65536;
pid {workdir}/{name}.pid;
error_log {workdir}/{name}-error.log warn;
events {{ worker_connections 30000; multi_accept on; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {workdir}/{name}-body;
    proxy_temp_path {workdir}/{name}-proxy;
    fastcgi_temp_path {workdir}/{name}-fastcgi;
    uwsgi_temp_path {workdir}/{name}-uwsgi;
    scgi_temp_path {workdir}/{name}-scgi;
    client_body_buffer_size 64k;
"""


def nginx_proxy_conf(workdir: Path) -> str:
    """Plain keep-alive reverse proxy: the physical-limit reference (no JSON work)."""
    blocks = []
    for kind, port in NGINX_PROXY_PORTS.items():
        streaming = kind != "json"
        blocks.append(f"""
    upstream up_{kind} {{ server {HOST}:{UPSTREAM_PORTS[kind]}; keepalive 512; }}
    server {{
        listen {HOST}:{port} backlog=16384;
        location / {{
            proxy_pass http://up_{kind};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering {"off" if streaming else "on"};
        }}
    }}""")
    return _nginx_main(workdir, "nginx-proxy") + "".join(blocks) + "\n}\n"


def haproxy_conf() -> str:
    frontends = []
    for kind, port in HAPROXY_PORTS.items():
        frontends.append(f"""
frontend fe_{kind}
    bind {HOST}:{port}
    default_backend be_{kind}
backend be_{kind}
    http-reuse always
    server up {HOST}:{UPSTREAM_PORTS[kind]}
""")
    return """global
    nbthread 1
    maxconn 9000
defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    option http-keep-alive
""" + "".join(frontends)


def key_hash(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def spendwall_conf(workdir: Path, max_upstream_connections: int = 2048, name: str = "spendwall",
                   port: int = SPENDWALL_PORT, admin_port: int = SPENDWALL_ADMIN_PORT) -> str:
    """Full metering, a budgeted workflow and the SQLite ledger on; one I/O worker."""
    ledger_name = name
    providers, prices, routes = [], [], []
    for kind in ("json", "sse", "slow", "gap"):
        name = f"up-{kind}"
        providers.append(f"""  {name}:
    kind: openai
    base_url: http://{HOST}:{UPSTREAM_PORTS[kind]}/v1
    api_key: sk-bench-upstream
    max_connections: {max_upstream_connections}
""")
        prices.append(f"  {name}/bench-model: {{ input: 2.50, cached_input: 1.25, output: 10.00 }}\n")
        routes.append(f"  bench-{kind}: {{ targets: [ {{ provider: {name}, model: bench-model }} ] }}\n")
    # In-process slow streams for the capacity run: no upstream sockets, so the fd limit
    # only has to cover the client side.
    providers.append(f"""  sim:
    kind: simulated
    latency: {SLOW_FIRST_BYTE_S:g}s
    tokens_per_second: 8
""")
    prices.append("  sim/sim-model: { input: 2.50, output: 10.00 }\n")
    routes.append("  bench-sim: { targets: [ { provider: sim, model: sim-model } ] }\n")
    return f"""version: 1
server:
  listen: "{HOST}:{port}"
  admin_listen: "{HOST}:{admin_port}"
  workers: 1
  idle_timeout: 120s
ledger:
  backend: sqlite
  path: {workdir}/{ledger_name}.db
providers:
{"".join(providers)}prices:
{"".join(prices)}routes:
{"".join(routes)}workflows:
  bench:
    owner: perf
    contact: "#perf"
    keys: [ "{key_hash(BENCH_KEY)}" ]
    routes: ["*"]
    budget:
      daily: 1000000
      monthly: 10000000
      alert_at: [0.5, 0.8, 1.0]
      on_exceeded: block
    review: weekly
alerts:
  sinks:
    - {{ name: stdout, kind: log }}
"""


# ----------------------------------------------------------------------------- processes


@dataclass
class Target:
    name: str
    ports: dict[str, int]          # kind -> port the client sends to
    pid: int = 0                   # root pid; CPU and RSS are summed over its children too
    portkey_host: dict[str, str] = field(default_factory=dict)
    admin_port: int | None = None  # Spendwall's metrics, checked against wrk's count

    def port(self, kind: str) -> int | None:
        return self.ports.get(kind)


class Processes:
    """Starts pinned processes in their own sessions; stops exactly those pids."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, core: str, argv: list[str], env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")
        proc = subprocess.Popen(["taskset", "-c", core, *argv], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})}, cwd=cwd,
                                preexec_fn=_raise_fd_limit)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 10
        for proc in reversed(self.started):
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _raise_fd_limit() -> None:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def start_upstream(procs: Processes) -> Target:
    conf = procs.workdir / "upstream.conf"
    conf.write_text(upstream_nginx_conf(procs.workdir))
    proc = procs.start("upstream", LOAD_CORE, ["nginx", "-p", str(procs.workdir), "-c", str(conf)])
    for port in UPSTREAM_PORTS.values():
        wait_for_port(port, proc)
    return Target("direct", dict(UPSTREAM_PORTS), proc.pid)


def start_nginx_proxy(procs: Processes) -> Target:
    conf = procs.workdir / "nginx-proxy.conf"
    conf.write_text(nginx_proxy_conf(procs.workdir))
    proc = procs.start("nginx-proxy", PROXY_CORE,
                       ["nginx", "-p", str(procs.workdir), "-c", str(conf)])
    for port in NGINX_PROXY_PORTS.values():
        wait_for_port(port, proc)
    return Target("nginx", dict(NGINX_PROXY_PORTS), proc.pid)


def start_haproxy(procs: Processes) -> Target:
    conf = procs.workdir / "haproxy.cfg"
    conf.write_text(haproxy_conf())
    proc = procs.start("haproxy", PROXY_CORE, ["haproxy", "-db", "-f", str(conf)])
    for port in HAPROXY_PORTS.values():
        wait_for_port(port, proc)
    return Target("haproxy", dict(HAPROXY_PORTS), proc.pid)


def start_spendwall(procs: Processes, binary: Path, max_upstream_connections: int = 2048,
                    name: str = "spendwall", port: int = SPENDWALL_PORT,
                    admin_port: int = SPENDWALL_ADMIN_PORT) -> Target:
    """`name`/ports differ for a second binary (a baseline build) measured in the same run."""
    conf = procs.workdir / f"{name}.yaml"
    conf.write_text(spendwall_conf(procs.workdir, max_upstream_connections, name, port, admin_port))
    check = subprocess.run([str(binary), "check", "-c", str(conf)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"spendwall check failed:\n{check.stdout}{check.stderr}")
    proc = procs.start(name, PROXY_CORE, [str(binary), "serve", "-c", str(conf)])
    wait_for_port(port, proc, timeout=120)
    wait_for_port(admin_port, proc, timeout=120)
    ports = {kind: port for kind in (*UPSTREAM_PORTS, "sim")}
    return Target(name, ports, proc.pid, admin_port=admin_port)


def start_portkey(procs: Processes, portkey_dir: Path) -> Target:
    portkey_dir = portkey_dir.resolve()
    entry = portkey_dir / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    if not entry.exists():
        raise RuntimeError(f"{entry} missing: run `npm ci` in {portkey_dir}")
    proc = procs.start("portkey", PROXY_CORE,
                       [shutil.which("node") or "node", str(entry), f"--port={PORTKEY_PORT}", "--headless"],
                       cwd=portkey_dir)
    wait_for_port(PORTKEY_PORT, proc, timeout=60)
    hosts = {kind: f"http://{HOST}:{UPSTREAM_PORTS[kind]}/v1" for kind in ("json", "sse")}
    return Target("portkey", {"json": PORTKEY_PORT, "sse": PORTKEY_PORT}, proc.pid, hosts)
