#!/usr/bin/env bash
# Installs the npm packages when node_modules is missing or older than package-lock.json, so
# `npm start` and `npm test` work on a fresh checkout as single commands. As root it also installs
# the Debian peers (scripts/install-peers.sh: rtpengine for the lab's carrier rows, and the test
# peers); without root it says how to get rtpengine and goes on (the lab then leaves those rows out).
set -euo pipefail
cd "$(dirname "$0")/.."
# A node_modules that is a symbolic link is a shared install (git worktrees): `npm ci` would empty the
# link's target under everyone using it, so it is left alone.
if [ -L node_modules ]; then
  echo "deps: node_modules is a link to $(readlink node_modules), not reinstalled here"
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund
fi
if [ "${SIPS_EDGE_SKIP_PEERS:-}" = "1" ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  bash scripts/install-peers.sh || echo "deps: installing the peers failed; the lab runs without rtpengine (its carrier rows are left out)"
elif [ ! -x /usr/bin/rtpengine ]; then
  echo "deps: /usr/bin/rtpengine is missing: the lab's carrier media rows need it."
  echo "      install it with \`sudo apt-get install rtpengine-daemon\` (or \`sudo bash scripts/install-peers.sh\`); the lab goes on without those rows"
fi
