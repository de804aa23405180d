#!/usr/bin/env bash
# Builds Spendwall with AddressSanitizer + UndefinedBehaviorSanitizer and runs every
# test but the benchmarks; then the unit and integration tests under ThreadSanitizer
# (scripts/test-tsan.sh) and a bounded run of every fuzz target (scripts/fuzz.sh,
# SPENDWALL_FUZZ_SECONDS each). Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build_dir=${SPENDWALL_TEST_BUILD_DIR:-build-asan}
source scripts/build-env.sh

cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug \
  -DSPENDWALL_SANITIZE=address \
  -DSPENDWALL_WERROR="$werror" \
  -DSPENDWALL_BUILD_BENCH=OFF
cmake --build "$build_dir" -j "$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build_dir" -LE Benchmark --output-on-failure -j 2 --timeout 1200

./scripts/test-tsan.sh
./scripts/fuzz.sh "${SPENDWALL_FUZZ_SECONDS:-20}"
