#!/usr/bin/env python3
"""Spendwall load harness: the same canned upstream behind direct access, nginx, HAProxy,
the Portkey gateway and Spendwall, measured interleaved in one run.

    loadbench.py throughput --spendwall build/proxy/spendwall [--portkey] [--reps 3]
    loadbench.py capacity   --spendwall build/proxy/spendwall [--streams 10000]

The proxies are pinned to core 0, wrk and the upstream to core 1. Exits non-zero when any
response was not 2xx, a socket failed, or Spendwall's counters disagree with wrk's count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import probes
import targets as tg

HERE = Path(__file__).resolve().parent


# ----------------------------------------------------------------------------- machine


def machine_description() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    return (f"{cpu}, {len(list(Path('/sys/devices/system/cpu').glob('cpu[0-9]*')))} CPUs, "
            f"{mem_kib // 1024} MiB RAM, Linux {platform.release()}; {nginx}; {wrk.strip()}")


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


# ----------------------------------------------------------------------------- throughput


def measure_once(target: tg.Target, kind: str, connections: int, seconds: float,
                 warmup: float) -> dict:
    port = target.port(kind)
    host = target.portkey_host.get(kind)
    probes.run_wrk(port, connections, warmup, kind, host)
    time.sleep(0.3)   # lets the warmup's in-flight requests finish before the counters are read
    pids = probes.process_tree(target.pid)
    probes.reset_peak_rss(pids)
    counted_before = _spendwall_counts(target.admin_port) if target.admin_port else None
    cpu_before = probes.cpu_seconds(pids)
    result = probes.run_wrk(port, connections, seconds, kind, host)
    cpu_after = probes.cpu_seconds(pids)
    row = {
        "target": target.name, "kind": kind, "connections": connections,
        "requests": result["requests"], "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50_us": result["p50_us"], "p90_us": result["p90_us"], "p99_us": result["p99_us"],
        "cpu_us_per_req": (cpu_after - cpu_before) * 1e6 / max(1, result["requests"]),
        "peak_rss_kib": probes.peak_rss_kib(pids),
        "errors": {k: result[k] for k in ("non2xx", "connect", "read", "write", "timeout")},
        "body_bytes": result["body_bytes"],
    }
    if counted_before is not None:
        time.sleep(0.5)
        after = _spendwall_counts(target.admin_port)
        row["spendwall_counted"] = {k: after[k] - counted_before[k] for k in after}
    return row


def _spendwall_counts(admin_port: int = tg.SPENDWALL_ADMIN_PORT) -> dict[str, float]:
    text = probes.scrape(admin_port)
    return {
        "ok": probes.metric_sum(text, "spendwall_requests_total", code="200"),
        "client_closed": probes.metric_sum(text, "spendwall_requests_total", code="499"),
        "all": probes.metric_sum(text, "spendwall_requests_total"),
        "unauthenticated": probes.metric_sum(text, "spendwall_unauthenticated_requests_total"),
        "ledger_records": probes.metric_plain(text, "spendwall_ledger_records_total"),
    }


def check_row(row: dict) -> list[str]:
    problems = []
    errors = {k: v for k, v in row["errors"].items() if v}
    where = f'{row["target"]} {row["kind"]} c={row["connections"]}'
    if errors:
        problems.append(f"{where}: wrk saw errors {errors} in {row['requests']} requests")
    if row["requests"] == 0:
        problems.append(f"{where}: no request completed")
    counted = row.get("spendwall_counted")
    if counted is not None:
        # wrk stops counting at the deadline; up to one request per connection can still
        # finish afterwards, and Spendwall counts it.
        low, high = row["requests"], row["requests"] + row["connections"]
        if not low <= counted["ok"] <= high:
            problems.append(f"{where}: spendwall_requests_total{{code=200}} grew by "
                            f"{counted['ok']:.0f}, wrk completed {row['requests']}")
        # wrk closes its connections at the deadline: a stream still in flight then ends
        # as 499 (client closed), at most one per connection. Any other status is an error.
        other = counted["all"] - counted["ok"] - counted["client_closed"]
        if other or counted["unauthenticated"] or counted["client_closed"] > row["connections"]:
            problems.append(f"{where}: Spendwall counted unexpected statuses {counted}")
    return problems


def streaming_latency(target: tg.Target, count: int) -> dict:
    port = target.port("sse")
    timings = probes.stream_timings(port, "sse", count, target.portkey_host.get("sse"))
    bad = [t.status for t in timings if t.status != 200]
    if bad:
        raise RuntimeError(f"{target.name}: streaming probe got statuses {sorted(set(bad))}")
    first = [t.first_byte_s * 1e6 for t in timings]
    last = [t.chunk_arrivals_s[-1] * 1e6 for t in timings]
    return {"target": target.name, "ttfb_p50_us": probes.percentile(first, 50),
            "ttfb_p99_us": probes.percentile(first, 99),
            "done_p50_us": probes.percentile(last, 50), "done_p99_us": probes.percentile(last, 99)}


def chunk_gaps(target: tg.Target, streams: int) -> dict:
    """Inter-event gaps seen by the client when the upstream spaces events 50 ms apart."""
    timings = probes.stream_timings(target.port("gap"), "gap", streams)
    gaps = []
    for t in timings:
        if t.status != 200:
            raise RuntimeError(f"{target.name}: gap probe got {t.status}")
        # The first three events arrive without a pause (role, first token, ...) only if
        # buffered; every event after the first must follow its predecessor by ~50 ms.
        arrivals = t.chunk_arrivals_s
        gaps.extend((b - a) * 1e3 for a, b in zip(arrivals, arrivals[1:]))
    deviation = [abs(g - tg.GAP_CHUNK_INTERVAL_S * 1e3) for g in gaps]
    return {"target": target.name, "gaps": len(gaps), "gap_p50_ms": probes.percentile(gaps, 50),
            "gap_min_ms": min(gaps), "deviation_p99_ms": probes.percentile(deviation, 99)}


def summarize(rows: list[dict], names: list[str]) -> list[dict]:
    """Median and range per (kind, connections, target); ratios paired within a repetition."""
    summary = []
    keys = sorted({(r["kind"], r["connections"]) for r in rows},
                  key=lambda k: (k[0] != "json", k[1]))
    for kind, conns in keys:
        for name in names:
            mine = [r for r in rows if (r["kind"], r["connections"], r["target"]) ==
                    (kind, conns, name)]
            if not mine:
                continue
            entry = {"kind": kind, "connections": conns, "target": name, "reps": len(mine)}
            for field in ("rps", "p50_us", "p90_us", "p99_us", "cpu_us_per_req"):
                values = [r[field] for r in mine]
                entry[field] = statistics.median(values)
                entry[field + "_range"] = (min(values), max(values))
            entry["peak_rss_kib"] = max(r["peak_rss_kib"] for r in mine)
            for ref in ("nginx", "direct", "baseline"):
                cpu_ratios, rps_ratios, p50_added, p99_added = [], [], [], []
                for r in mine:
                    peer = [q for q in rows if q["target"] == ref and q["rep"] == r["rep"] and
                            (q["kind"], q["connections"]) == (kind, conns)]
                    if not peer:
                        continue
                    q = peer[0]
                    if q["cpu_us_per_req"] > 0:
                        cpu_ratios.append(r["cpu_us_per_req"] / q["cpu_us_per_req"])
                    rps_ratios.append(r["rps"] / q["rps"])
                    p50_added.append(r["p50_us"] - q["p50_us"])
                    p99_added.append(r["p99_us"] - q["p99_us"])
                if rps_ratios:
                    entry[f"cpu_vs_{ref}"] = statistics.median(cpu_ratios) if cpu_ratios else None
                    entry[f"rps_vs_{ref}"] = statistics.median(rps_ratios)
                    entry[f"p50_added_vs_{ref}_us"] = statistics.median(p50_added)
                    entry[f"p99_added_vs_{ref}_us"] = statistics.median(p99_added)
            summary.append(entry)
    return summary


def _rng(entry: dict, field: str, fmt: str) -> str:
    low, high = entry[field + "_range"]
    if entry["reps"] == 1:
        return format(entry[field], fmt)
    return f"{format(entry[field], fmt)} ({format(low, fmt)}–{format(high, fmt)})"


def _ratio(value) -> str:
    return "" if value is None else f"{value:.2f}×"


def markdown(summary: list[dict], latencies: list[dict], gaps: list[dict], meta: dict) -> str:
    out = [f"# Spendwall load run, {meta['when']}", "",
           f"Machine: {meta['machine']}", f"Load average before/after: {meta['load_before']} / "
           f"{meta['load_after']}", f"Repetitions: {meta['reps']} × {meta['seconds']} s "
           f"(+{meta['warmup']} s warmup), interleaved; medians with (min–max).",
           f"Spendwall: {meta['spendwall']}", "",
           "CPU-µs/req is the proxy process tree's utime+stime over the measured window divided "
           "by wrk's completed requests (for `direct` it is the upstream nginx's own cost, on "
           "the load core). Ratios pair targets within the same repetition.", ""]
    with_baseline = any("cpu_vs_baseline" in e for e in summary)
    out += ["| mode | conns | target | req/s | p50 µs | p90 µs | p99 µs | CPU-µs/req | "
            "peak RSS MiB | CPU vs nginx | req/s vs nginx | req/s vs direct |" +
            (" CPU vs baseline |" if with_baseline else ""),
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" +
            ("---:|" if with_baseline else "")]
    for e in summary:
        mode = "non-streaming" if e["kind"] == "json" else "streaming"
        out.append(
            f"| {mode} | {e['connections']} | {e['target']} | {_rng(e, 'rps', ',.0f')} | "
            f"{e['p50_us']:.0f} | {e['p90_us']:.0f} | {e['p99_us']:.0f} | "
            f"{_rng(e, 'cpu_us_per_req', '.1f')} | {e['peak_rss_kib'] / 1024:.1f} | "
            f"{_ratio(e.get('cpu_vs_nginx'))} | {_ratio(e.get('rps_vs_nginx'))} | "
            f"{_ratio(e.get('rps_vs_direct'))} |" +
            (f" {_ratio(e.get('cpu_vs_baseline'))} |" if with_baseline else ""))
    ones = [e for e in summary if e["connections"] == 1 and "p50_added_vs_direct_us" in e
            and e["target"] != "direct"]
    if ones:
        out += ["", "Latency added over direct at 1 connection (wrk, median of repetitions):", "",
                "| mode | target | p50 added µs | p99 added µs |", "|---|---|---:|---:|"]
        for e in ones:
            mode = "non-streaming" if e["kind"] == "json" else "streaming"
            out.append(f"| {mode} | {e['target']} | {e['p50_added_vs_direct_us']:.0f} | "
                       f"{e['p99_added_vs_direct_us']:.0f} |")
    if latencies:
        direct = next((l for l in latencies if l["target"] == "direct"), None)
        out += ["", f"Streaming time to first byte (socket client, {meta['probe_count']} "
                "sequential streams per target):", "",
                "| target | TTFB p50 µs | TTFB p99 µs | added p50 µs | added p99 µs | "
                "last event p50 µs |", "|---|---:|---:|---:|---:|---:|"]
        for l in latencies:
            added50 = l["ttfb_p50_us"] - direct["ttfb_p50_us"] if direct else float("nan")
            added99 = l["ttfb_p99_us"] - direct["ttfb_p99_us"] if direct else float("nan")
            out.append(f"| {l['target']} | {l['ttfb_p50_us']:.0f} | {l['ttfb_p99_us']:.0f} | "
                       f"{added50:.0f} | {added99:.0f} | {l['done_p50_us']:.0f} |")
    if gaps:
        out += ["", "Chunk pacing (upstream spaces events 50 ms apart):", "",
                "| target | gaps | median gap ms | min gap ms | p99 deviation from 50 ms |",
                "|---|---:|---:|---:|---:|"]
        for g in gaps:
            out.append(f"| {g['target']} | {g['gaps']} | {g['gap_p50_ms']:.2f} | "
                       f"{g['gap_min_ms']:.2f} | {g['deviation_p99_ms']:.2f} |")
    return "\n".join(out) + "\n"


def throughput(args: argparse.Namespace, procs: tg.Processes) -> int:
    upstream = tg.start_upstream(procs)
    chosen: list[tg.Target] = [upstream]
    chosen.append(tg.start_nginx_proxy(procs))
    if args.haproxy:
        chosen.append(tg.start_haproxy(procs))
    if args.portkey:
        chosen.append(tg.start_portkey(procs, HERE / "portkey"))
    spendwall = tg.start_spendwall(procs, Path(args.spendwall).resolve())
    chosen.append(spendwall)
    if args.baseline:
        chosen.append(tg.start_spendwall(procs, Path(args.baseline).resolve(), name="baseline",
                                         port=tg.BASELINE_PORT,
                                         admin_port=tg.BASELINE_ADMIN_PORT))
    names = [t.name for t in chosen]
    meta = {"when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_description(), "load_before": load_average(),
            "reps": args.reps, "seconds": args.seconds, "warmup": args.warmup,
            "spendwall": subprocess.run([args.spendwall, "version"], capture_output=True,
                                        text=True).stdout.strip(),
            "probe_count": args.probe_count}
    time.sleep(1.0)
    rows, problems = [], []
    connections = [int(c) for c in args.connections.split(",")]
    kinds = [k for k in args.modes.split(",")]
    for rep in range(args.reps):
        order = chosen[rep % len(chosen):] + chosen[:rep % len(chosen)]
        for kind in kinds:
            for conns in connections:
                for target in order:
                    if target.port(kind) is None:
                        continue
                    row = measure_once(target, kind, conns, args.seconds, args.warmup)
                    row["rep"] = rep
                    rows.append(row)
                    problems += check_row(row)
                    print(f"rep {rep} {kind:4} c={conns:<3} {target.name:9} "
                          f"{row['rps']:9.0f} req/s  p50 {row['p50_us']:6d} µs  "
                          f"p99 {row['p99_us']:7d} µs  {row['cpu_us_per_req']:7.1f} CPU-µs/req  "
                          f"RSS {row['peak_rss_kib'] / 1024:6.1f} MiB", flush=True)
    latencies, gaps = [], []
    if "sse" in kinds and args.probe_count:
        for target in chosen:
            latencies.append(streaming_latency(target, args.probe_count))
        for target in chosen:
            if target.port("gap") is not None:
                gaps.append(chunk_gaps(target, args.gap_streams))
    # The ledger writes asynchronously; after a quiet pause every counted request is a record.
    time.sleep(3)
    ledger_note = ""
    for target in chosen:
        if not target.admin_port:
            continue
        final = _spendwall_counts(target.admin_port)
        ledger_note += (f"\n{target.name} counted {final['all']:.0f} requests over the run; its "
                        f"ledger holds {final['ledger_records']:.0f} records.\n")
        if final["ledger_records"] != final["all"]:
            problems.append(f"{target.name}: ledger holds {final['ledger_records']:.0f} records "
                            f"for {final['all']:.0f} counted requests")
    meta["load_after"] = load_average()
    summary = summarize(rows, names)
    report = markdown(summary, latencies, gaps, meta)
    report += ledger_note
    if problems:
        report += "\n**Problems:**\n\n" + "".join(f"- {p}\n" for p in problems)
    print(report)
    if args.out:
        Path(args.out).write_text(report)
        Path(args.out).with_suffix(".json").write_text(json.dumps(
            {"meta": meta, "rows": rows, "summary": summary, "latencies": latencies,
             "gaps": gaps, "problems": problems}, indent=1))
    return 1 if problems else 0


# ----------------------------------------------------------------------------- capacity


def capacity(args: argparse.Namespace, procs: tg.Processes) -> int:
    if args.kind == "slow":
        tg.start_upstream(procs)
    spendwall = tg.start_spendwall(procs, Path(args.spendwall).resolve(),
                                   max_upstream_connections=min(65535, args.streams + 1000))
    time.sleep(2.0)
    pid = spendwall.pid
    idle_rss = probes.rss_kib([pid])
    probes.reset_peak_rss([pid])
    before = _spendwall_counts()
    cpu_before = probes.cpu_seconds([pid])
    peak = {"active": 0.0, "fds": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["fds"] = max(peak["fds"], probes.open_fds(pid))
            try:
                text = probes.scrape()
                peak["active"] = max(peak["active"],
                                     probes.metric_sum(text, "spendwall_active_requests"))
            except OSError:
                pass
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # 16 tokens at 8 per second: the simulated stream's events spread over 2 s.
    result = probes.run_wrk(tg.SPENDWALL_PORT, args.streams, args.seconds, args.kind,
                            threads=2, timeout_s=30, max_tokens=16)
    stop.set()
    sampler.join()
    cpu = probes.cpu_seconds([pid]) - cpu_before
    time.sleep(1.0)
    after = _spendwall_counts()
    peak_rss = probes.peak_rss_kib([pid])
    counted = after["ok"] - before["ok"]
    errors = {k: result[k] for k in ("non2xx", "connect", "read", "write", "timeout") if result[k]}
    per_stream = (peak_rss - idle_rss) / max(1.0, peak["active"])
    report = (f"Capacity ({args.kind} streams, {args.streams} connections, {args.seconds} s): "
              f"{result['requests']} streams completed, errors {errors or 'none'}, "
              f"Spendwall counted {counted:.0f} with status 200; peak in flight "
              f"{peak['active']:.0f} (spendwall_active_requests), peak open fds {peak['fds']}; "
              f"idle RSS {idle_rss / 1024:.1f} MiB, peak RSS {peak_rss / 1024:.1f} MiB, "
              f"{per_stream:.1f} KiB per in-flight stream; CPU {cpu:.2f} s "
              f"({cpu * 1e6 / max(1, result['requests']):.0f} µs per stream); "
              f"stream p50 {result['p50_us'] / 1e3:.0f} ms, p99 {result['p99_us'] / 1e3:.0f} ms.")
    print(report)
    if args.out:
        with open(args.out, "a") as out:
            out.write(report + "\n")
    ok = not errors and result["requests"] > 0 and counted >= result["requests"]
    return 0 if ok else 1


# ----------------------------------------------------------------------------- profile


def profile(args: argparse.Namespace, procs: tg.Processes) -> int:
    """perf record on Spendwall while wrk drives one mode; writes perf.data beside --out."""
    tg.start_upstream(procs)
    spendwall = tg.start_spendwall(procs, Path(args.spendwall).resolve())
    probes.run_wrk(tg.SPENDWALL_PORT, args.connections, 2, args.kind)
    data = Path(args.out or procs.workdir / "perf.data").resolve()
    call_graph = ["--call-graph", "dwarf,32768"] if args.call_graph else []
    recorder = subprocess.Popen(["perf", "record", "-F", str(args.frequency), *call_graph,
                                 "-o", str(data), "-p", str(spendwall.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)
    result = probes.run_wrk(tg.SPENDWALL_PORT, args.connections, args.seconds, args.kind)
    recorder.send_signal(2)
    recorder.wait(timeout=120)
    print(f"{result['requests']} requests, errors non2xx={result['non2xx']}; profile in {data}")
    print(f"perf report -i {data} --no-children --percent-limit 0.7 --stdio")
    return 0 if result["requests"] and not result["non2xx"] else 1


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--spendwall", required=True)
    t.add_argument("--reps", type=int, default=3)
    t.add_argument("--seconds", type=float, default=10)
    t.add_argument("--warmup", type=float, default=2)
    t.add_argument("--connections", default="1,32,256")
    t.add_argument("--modes", default="json,sse")
    t.add_argument("--haproxy", action="store_true")
    t.add_argument("--portkey", action="store_true")
    t.add_argument("--baseline", help="a second Spendwall binary measured alongside (before/after)")
    t.add_argument("--probe-count", type=int, default=300)
    t.add_argument("--gap-streams", type=int, default=5)
    t.add_argument("--out")
    c = sub.add_parser("capacity")
    c.add_argument("--spendwall", required=True)
    c.add_argument("--streams", type=int, default=10000)
    c.add_argument("--seconds", type=float, default=8)
    c.add_argument("--kind", choices=["sim", "slow"], default="sim")
    c.add_argument("--out")
    f = sub.add_parser("profile")
    f.add_argument("--spendwall", required=True)
    f.add_argument("--kind", choices=["json", "sse"], default="json")
    f.add_argument("--connections", type=int, default=32)
    f.add_argument("--seconds", type=float, default=8)
    f.add_argument("--frequency", type=int, default=999)
    f.add_argument("--call-graph", action="store_true")
    f.add_argument("--out")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="spendwall-load-"))
    procs = tg.Processes(workdir)
    try:
        if args.command == "throughput":
            return throughput(args, procs)
        if args.command == "profile":
            return profile(args, procs)
        return capacity(args, procs)
    finally:
        procs.stop_all()
        print(f"logs and configs: {workdir}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
