#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in build-fuzz and runs
# each for a bounded time over its seed corpus. Fails on any crash, leak, timeout or
# sanitizer report; the input that caused it is left in build-fuzz/artifacts/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 25 s, every target)
#
# Inputs that reach new code are kept in build-fuzz/corpus/<target>/ and reused by the next
# run; the seeds in tests/fuzz/corpus/<target>/ are only read.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-25}
shift || true

bash scripts/install-deps.sh

build_dir=${SPENDWALL_FUZZ_BUILD_DIR:-build-fuzz}
source scripts/build-env.sh

# -O1: fast enough to fuzz, while SPENDWALL_ASSERT (Debug) stays on. The server is not built:
# the targets link only the parser libraries.
cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
  -DSPENDWALL_FUZZ=ON \
  -DSPENDWALL_ONLY="config;metering;api" \
  -DSPENDWALL_BUILD_TESTS=OFF \
  -DSPENDWALL_BUILD_BENCH=OFF \
  -DSPENDWALL_WERROR="$werror" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(ls tests/fuzz/corpus)
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build_dir/artifacts" "$build_dir/logs"

failed=()
for target in "${targets[@]}"; do
  binary="$build_dir/tests/fuzz/fuzz_$target"
  seeds="tests/fuzz/corpus/$target"
  work="$build_dir/corpus/$target"
  log="$build_dir/logs/$target.log"
  [ -x "$binary" ] && [ -d "$seeds" ] || { echo "fuzz: no target or seeds for $target" >&2; exit 2; }
  mkdir -p "$work"
  if "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$build_dir/artifacts/$target-" "$work" "$seeds" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $target ok: ${runs:-?} executions in ${seconds}s, corpus $(ls "$work" | wc -l) inputs"
  else
    echo "fuzz: $target FAILED (log: $log)" >&2
    grep -E "ERROR:|runtime error:|guarantee broken|Test unit written" "$log" | head -20 >&2 || true
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in ${failed[*]}" >&2
  exit 1
fi
