#!/usr/bin/env bash
# Bounded soak of the release binary: mixed traffic, injected upstream faults, kill -9
# restarts; checks the ledger, budgets and the alert outbox at the end (bench/soak/soak.py).
#
#   bench/soak/run.sh                 # 10 minutes, 6 kills in the first half
#   bench/soak/run.sh --short         # 60 s, 3 kills
#   bench/soak/run.sh --duration 1800 --kills 12 --report soak.json
#
# Builds build/proxy/spendwall (RelWithDebInfo) first unless --binary is given.
set -euo pipefail
cd "$(dirname "$0")/../.."

args=()
if [ "${1:-}" = "--short" ]; then
  shift
  args=(--duration 60 --kills 3 --sample-interval 5)
fi
if [[ " $* " != *" --binary "* ]]; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build --target spendwall -j "$(nproc)"
fi
exec /usr/bin/python3 bench/soak/soak.py "${args[@]}" "$@"
