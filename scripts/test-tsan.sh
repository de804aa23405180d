#!/usr/bin/env bash
# Builds Spendwall with ThreadSanitizer (build-tsan) and runs the unit tests and the
# integration suite (the real multi-worker binary) under it. Any data race fails the run:
# TSan halts the process that found it, and every report it wrote fails the script even when
# the process that raced was a proxy the harness only stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${SPENDWALL_TSAN_BUILD_DIR:-build-tsan}
source scripts/build-env.sh

cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug \
  -DSPENDWALL_SANITIZE=thread \
  -DSPENDWALL_WERROR="$werror" \
  -DSPENDWALL_BUILD_BENCH=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

reports="$PWD/$build_dir/tsan-reports"
rm -rf "$reports"
mkdir -p "$reports"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 log_path=$reports/tsan suppressions=$PWD/tests/tsan.supp"
# The unit tests and the integration suite; the deploy checks run no code of ours.
status=0
ctest --test-dir "$build_dir" -L 'unit|integration' -LE Benchmark --output-on-failure -j 2 \
  --timeout 1800 || status=$?

if compgen -G "$reports/tsan.*" >/dev/null; then
  echo "test-tsan: ThreadSanitizer reports:" >&2
  cat "$reports"/tsan.* >&2
  status=1
fi
exit "$status"
