#!/usr/bin/env bash
# Console browser tests (ctest: browser.console). $1: the vigil binary; $2: the browser_produce
# binary (puts an sos DeviceEvent on the broker); $3: optional directory for screenshots.
# Installs playwright-core from package-lock.json on first use.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -d node_modules/playwright-core || package-lock.json -nt node_modules ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
cd ../..   # the demo reads rules/eldercare relative to the repository
exec node tests/browser/console_test.mjs "$1" "$2" "${3:-}"
