#!/usr/bin/env bash
# Schema checks of the deployment files (ctest: deploy.lint). Installs the pinned checkers from
# the npm registry on first use (package-lock.json), then validates.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -d node_modules/kubernetes-models || package-lock.json -nt node_modules ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node lint.mjs
