#!/usr/bin/env bash
# Installs the npm packages when node_modules is missing or older than package-lock.json, so
# `npm start` and `npm test` work on a fresh checkout as single commands.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund
fi
