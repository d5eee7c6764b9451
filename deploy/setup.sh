#!/usr/bin/env bash
# Installs the Debian 12 packages that building, running and testing vigil need.
# Idempotent: asks apt only for what is missing, so a second run takes about a second.
# Usage: deploy/setup.sh [build|test]   (test adds what the test suite needs beyond the build)
set -euo pipefail

mode=${1:-build}

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config git
  librdkafka-dev librocksdb-dev
  libprotobuf-dev protobuf-compiler
  libboost1.81-dev libboost-json1.81-dev
  libyaml-cpp-dev libyaml-dev libhowardhinnant-date-dev tzdata
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  zlib1g-dev libzstd-dev liblz4-dev libsnappy-dev libbz2-dev libssl-dev libsasl2-dev
)
test_pkgs=(python3 jq procps chromium fonts-noto-cjk clang libclang-rt-14-dev)
# Node.js and npm run the deployment schema checks and the browser tests; a machine that already
# has them (from any source) keeps its own.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then test_pkgs+=(nodejs npm); fi

pkgs=("${build_pkgs[@]}")
if [[ "$mode" == test ]]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all packages present"
fi
