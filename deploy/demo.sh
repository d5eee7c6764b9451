#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (idempotent), builds the release preset and runs
# `vigil demo` with any extra flags given (e.g. --duration 60).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup.sh build
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target vigil
exec ./build/release/engine/app/vigil demo "$@"
