#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (idempotent), builds the release preset and runs every test
# with ctest. The README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup.sh test
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
ctest --preset release
