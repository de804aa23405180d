#!/usr/bin/env bash
# Spendwall load harness, one command:
#   bench/load/run.sh                 # throughput: direct, nginx, HAProxy, Portkey, Spendwall
#   bench/load/run.sh capacity        # 10,000 concurrent slow streams through Spendwall
# Extra arguments go to loadbench.py (e.g. `--reps 5 --seconds 10`, `--streams 5000`).
# Environment: SPENDWALL_BIN (default build/proxy/spendwall, built RelWithDebInfo when
# missing), BENCH_OUT (default bench/load/results/latest.md), NO_PORTKEY=1 to skip npm.
# Not part of the test command: it is a benchmark and wants a quiet 2-core machine.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
mode="${1:-throughput}"
[ $# -gt 0 ] && shift

# The test command does not need these; install-deps.sh installs them when missing.
bash "$repo/scripts/install-deps.sh" wrk nginx libnginx-mod-http-echo haproxy util-linux
if [ "$(nproc --all)" -lt 2 ]; then
  echo "run.sh: needs 2 CPUs (proxy on core 0, load and upstream on core 1)" >&2
  exit 2
fi

bin="${SPENDWALL_BIN:-$repo/build/proxy/spendwall}"
if [ ! -x "$bin" ]; then
  export CCACHE_BASEDIR="$repo" CCACHE_NOHASHDIR=true
  cmake -S "$repo" -B "$repo/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build "$repo/build" -j2 --target spendwall
  bin="$repo/build/proxy/spendwall"
fi

# wrk, nginx and Spendwall each hold one descriptor per connection.
ulimit -n "$(ulimit -Hn)"

mkdir -p "$here/results"
out="${BENCH_OUT:-$here/results/latest.md}"
extra=()
if [ "$mode" = throughput ]; then
  extra+=(--haproxy)
  if [ "${NO_PORTKEY:-0}" != 1 ]; then
    (cd "$here/portkey" && npm ci --no-audit --no-fund --loglevel=error)
    extra+=(--portkey)
  fi
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exec python3 "$here/loadbench.py" "$mode" --spendwall "$bin" --out "$out" "${extra[@]}" "$@"
