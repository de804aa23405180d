#!/usr/bin/env bash
# Builds Spendwall (release) and runs it on config/quickstart.yaml: the in-process
# simulated provider, no API keys, no network. Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPENDWALL_BUILD_TESTS=OFF -DSPENDWALL_BUILD_BENCH=OFF
cmake --build build -j "$(nproc)" --target spendwall
exec ./build/proxy/spendwall serve -c config/quickstart.yaml "$@"
