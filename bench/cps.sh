#!/usr/bin/env bash
# Issue 4 macro benchmark: max calls/s with 0 failed calls, SIPp UAC (UDP) -> edge -> TLS upstream,
# through ../shared/bench (read-only there, so it runs from a copy in a temp dir). Runs the Kamailio
# baseline and sips-edge one right after the other on this machine and prints both summaries.
#   RUNS=1 RATES="500 1000 2000 3000 4000 5000 6000 7000" STEP_SECONDS=20 bash bench/cps.sh
#   WHICH="sips-edge" (or "kamailio", or "kamailio sips-edge", the default)
#   EDGE_NODE_FLAGS="--max-semi-space-size=64" (node flags for sips-edge), EXTRA_YAML="timers: { T1: 50 }"
#   (appended to sips-edge's config, for experiments only)
#   EDGE_WORKERS=auto (or 2, ...): edge.workers for sips-edge (default 1, one process; docs/workers.md)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED_BENCH:-$ROOT/../shared/bench}"
WORK="$(mktemp -d /tmp/sips-edge-cps-XXXXXX)"
cp -r "$SHARED/." "$WORK/"
chmod -R u+w "$WORK"
export BENCH="$WORK"
export RUNS="${RUNS:-1}" STEP_SECONDS="${STEP_SECONDS:-20}"
# The pinned Node 24 of `npm ci`, never whatever `node` is first on PATH.
NODE="${NODE:-$ROOT/node_modules/.bin/node}"
export PATH="$ROOT/node_modules/.bin:$PATH"
"$WORK/pki/mkpki.sh" >/dev/null
(cd "$ROOT" && npx tsc -p tsconfig.json)

cat >"$WORK/sips-edge.yaml" <<YAML
edge:
  name: edge.lab.invalid
  workers: ${EDGE_WORKERS:-1}
listen:
  - { side: inside, transport: udp, address: 127.0.0.1, port: 5060 }
  - { side: inside, transport: tcp, address: 127.0.0.1, port: 5060 }
tls:
  revocation: off
trunks:
  - name: bench
    hosts: [{ host: lb01.voice.euc1.pure.cloud, port: 15061 }]
    trust: { files: [$WORK/pki/out/root.crt] }
    mode: dnis
    failover: 0
    health: { enabled: false }
peers:
  - { name: sipp, host: 127.0.0.1, port: 5070, sources: [127.0.0.1/32], trunk: bench }
routing: { defaultTrunk: bench }
dns:
  overrides: { lb01.voice.euc1.pure.cloud: [127.0.0.1] }
admin: { enabled: false }
# One SIPp peer sends every call: the per-source admission bucket (limits.knownSourceRequestRate,
# 2,000/s by default) is raised so the sweep measures the proxy, not the limit.
limits: { knownSourceRequestRate: 1000000, knownSourceRequestBurst: 1000000 }
${EXTRA_YAML:-}
logging: { level: warn }
YAML

for which in ${WHICH:-kamailio sips-edge}; do
  if [ "$which" = sips-edge ]; then
    export EDGE_CMD="$NODE ${EDGE_NODE_FLAGS:---max-semi-space-size=64} $ROOT/dist/cli/main.js start --config $WORK/sips-edge.yaml"
  else
    unset EDGE_CMD
  fi
  TAG="$which" "$WORK/run_cps.sh" || true
  echo "=== $which"; sed -n '/Max sustainable/,/## Per step/p' "$WORK/results/cps-$which/summary.md"
done
echo "results: $WORK/results"
