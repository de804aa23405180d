#!/usr/bin/env bash
# Installs every Debian 12 package Spendwall needs to build, test and benchmark.
# Idempotent: does nothing (no apt-get update) when everything is already present.
# Arguments name extra packages for one tool only (the load harness passes wrk, nginx…).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev
  libsimdjson-dev libyaml-cpp-dev prometheus-cpp-dev
  libssl-dev libsqlite3-dev sqlite3
  libgtest-dev libgmock-dev libbenchmark-dev
  libhowardhinnant-date-dev
  clang-14 libclang-rt-14-dev llvm-14  # scripts/fuzz.sh: libFuzzer, its sanitizer runtimes, llvm-symbolizer
  prometheus  # promtool: `promtool check metrics`, and the deploy tests' rule and config checks
  yamllint    # the deploy tests lint deploy/*.yaml
  chromium fonts-dejavu-core  # headless screenshot test of the `spendwall report` HTML page
  openssl ca-certificates curl tzdata
  python3 python3-pytest python3-yaml
  nodejs npm
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node may come from another repository that names its package differently; a
# working node and npm on PATH is what the SDK compatibility test needs.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do
    [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p")
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
