#!/usr/bin/env bash
# Issue 4 macro benchmark: max calls/s with 0 failed calls, SIPp UAC (UDP) -> edge -> TLS upstream,
# through ../shared/bench (read-only there, so it runs from a copy in a temp dir). Runs the Kamailio
# baseline and sips-edge one right after the other on this machine and prints both summaries.
#   RUNS=1 RATES="500 1000 2000 3000 4000 5000 6000 7000" STEP_SECONDS=20 bash bench/cps.sh
#   WHICH="sips-edge" (or "kamailio", or "kamailio sips-edge", the default)
#   EDGE_NODE_FLAGS="--max-semi-space-size=64" (node flags for sips-edge), EXTRA_YAML="timers: { T1: 50 }"
#   (appended to sips-edge's config, for experiments only), ADMIN_PORT=19090 (the edge's /metrics)
# For sips-edge it also prints per step the edge's event-loop delay (sips_edge_event_loop_delay_seconds,
# scraped at the start and end of each step) beside INVITE->200 p99 and the CPU of SIPp, upstream and
# edge, and adds edge_eld_p50_ms / edge_eld_p99_ms / edge_eld_max_ms and host_steal_pct (the hypervisor's
# steal over the step, from /proc/stat) to each line of steps.jsonl.
#   (appended to sips-edge's config, for experiments only)
#   KEEP_RTT=1 keeps SIPp's per-call rtt CSV beside each step's data (the harness deletes it)
#   EDGE_WORKERS=auto (or 2, ...): edge.workers for sips-edge (default 1, one process; docs/workers.md)
#   EDGE_WARMUP_CALLS=0 (edge.warmupCalls, default 1000): the synthetic calls each worker runs before it listens
#   EDGE_WARMUP_LOOPBACK_CALLS=0 (edge.warmupLoopbackCalls, default 300): then its calls over loopback sockets
#   EXTRA_LIMITS="maxEventLoopUtilizationPercent: 0" (more keys for the edge's limits map, experiments only)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED_BENCH:-$ROOT/../shared/bench}"
# CPS_WORK: an empty directory to run in (bench/cpu-split.sh finds the edge it profiles by that path).
WORK="${CPS_WORK:-$(mktemp -d /tmp/sips-edge-cps-XXXXXX)}"
cp -r "$SHARED/." "$WORK/"
chmod -R u+w "$WORK"
# A rate repeated in RATES ("1000 2250 2250") gets its own step directory (rate2250, rate2250.2, ...):
# the harness names it by rate alone, so a repeated step would read the first one's rtt CSV
# (`ls *_rtt.csv | head -1`) and the ELD watcher would not scrape it again.
sed -i 's|^\(\s*\)local run=\$1 rate=\$2 calls=\$(( \$2 \* STEP_SECONDS )) d="\$OUT/run\$1/rate\$2"$|&; local k=2 base="$d"; while [ -e "$d" ]; do d="$base.$k"; k=$((k + 1)); done|' "$WORK/run_cps.sh"
grep -q 'base="\$d"' "$WORK/run_cps.sh" || { echo "bench/cps.sh: the harness's run_step changed; cannot give repeated rates their own directory" >&2; exit 1; }
# KEEP_RTT=1: keep SIPp's per-call rtt CSV of each step (the harness deletes it) for tail analysis.
[ "${KEEP_RTT:-0}" = 1 ] && sed -i 's/^\(\s*\)rm -f "\$rtt".*/\1: # rtt kept (KEEP_RTT)/' "$WORK/run_cps.sh"
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
  # The harness sends SIGTERM after its last step; nothing is left to drain (and --cpu-prof is written at exit).
  drainTimeoutSeconds: 2
  workers: ${EDGE_WORKERS:-1}
  warmupCalls: ${EDGE_WARMUP_CALLS:-1000}
  warmupLoopbackCalls: ${EDGE_WARMUP_LOOPBACK_CALLS:-300}
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
# /metrics is scraped per step for the edge's event-loop delay (see below).
admin: { enabled: true, address: 127.0.0.1, port: ${ADMIN_PORT:-19090} }
# One SIPp peer sends every call: the per-source admission bucket (limits.knownSourceRequestRate,
# 2,000/s by default) is raised so the sweep measures the proxy, not the limit.
limits: { knownSourceRequestRate: 1000000, knownSourceRequestBurst: 1000000${EXTRA_LIMITS:+, $EXTRA_LIMITS} }
${EXTRA_YAML:-}
logging: { level: warn }
YAML

for which in ${WHICH:-kamailio sips-edge}; do
  if [ "$which" = sips-edge ]; then
    export EDGE_CMD="$NODE ${EDGE_NODE_FLAGS:---max-semi-space-size=64} $ROOT/dist/cli/main.js start --config $WORK/sips-edge.yaml"
  else
    unset EDGE_CMD
  fi
  watcher=""
  if [ "$which" = sips-edge ]; then
    # Per step: /metrics scraped when the step's directory appears (resets the edge's event-loop delay
    # window) and when SIPp's time file is written (the step's window) -> eld.txt beside the step's data.
    # Non-empty, not merely present: GNU time creates its -o file when SIPp starts and writes it at exit
    # (until 2026-12-03 the test was -f, so the ELD columns covered the first 0.2 s of each step only).
    ( declare -A seen=()
      while sleep 0.2; do
        for d in "$WORK/results/cps-$which"/run*/rate*; do
          [ -d "$d" ] || continue
          if [ -z "${seen[$d]:-}" ]; then seen[$d]=1; head -1 /proc/stat >"$d/procstat.0"; curl -s "http://127.0.0.1:${ADMIN_PORT:-19090}/metrics" >/dev/null || true; fi
          if [ -s "$d/sipp.time" ] && [ "${seen[$d]}" = 1 ]; then seen[$d]=2; head -1 /proc/stat >"$d/procstat.1"
            curl -s "http://127.0.0.1:${ADMIN_PORT:-19090}/metrics" | grep '^sips_edge_event_loop_delay_seconds' >"$d/eld.txt" || true; fi
        done
      done ) &
    watcher=$!
  fi
  TAG="$which" "$WORK/run_cps.sh" || true
  [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
  echo "=== $which"; sed -n '/Max sustainable/,/## Per step/p' "$WORK/results/cps-$which/summary.md"
  if [ "$which" = sips-edge ]; then
    # steps.jsonl gains edge_eld_{p50,p99,max}_ms (new fields; the harness's own fields unchanged).
    python3 - "$WORK/results/cps-$which" <<'PY'
import json, os, re, sys
d = sys.argv[1]; out = []
print("| run | cps | INV p99 ms | edge ELD p50 / p99 / max ms | CPU sipp / upstream / edge % | host steal % |\n|---|---|---|---|---|---|")
seen = {}
for l in open(os.path.join(d, "steps.jsonl")):
    s = json.loads(l); rd = os.path.join(d, f"run{s['run']}", f"rate{int(s['target_cps'])}")
    k = seen[rd] = seen.get(rd, 0) + 1
    sd = rd if k == 1 else f"{rd}.{k}"
    f = os.path.join(sd, "eld.txt")
    eld = dict(re.findall(r'stat="(\w+)"\} ([-0-9.e+]+)', open(f).read())) if os.path.exists(f) else {}
    for k in ("p50", "p99", "max"): s[f"edge_eld_{k}_ms"] = round(float(eld[k]) * 1000, 2) if k in eld else None
    # The hypervisor's steal over the step (/proc/stat at its start and end): CPU the host's other
    # tenants took from this box, which no process here shows.
    st = [os.path.join(sd, f"procstat.{i}") for i in (0, 1)]
    if all(os.path.exists(x) for x in st):
        a, b = ([int(v) for v in open(x).read().split()[1:9]] for x in st)
        s["host_steal_pct"] = round(100 * (b[7] - a[7]) / max(1, sum(b) - sum(a)), 1)
    else:
        s["host_steal_pct"] = None
    out.append(s)
    print(f"| {s['run']} | {int(s['target_cps'])} | {s.get('inv_p99_ms')} | {s['edge_eld_p50_ms']} / {s['edge_eld_p99_ms']} / {s['edge_eld_max_ms']} | {s.get('cpu_sipp_pct')} / {s.get('cpu_upstream_pct')} / {s.get('cpu_edge_pct')} | {s['host_steal_pct']} |")
open(os.path.join(d, "steps.jsonl"), "w").write("".join(json.dumps(s) + "\n" for s in out))
PY
  fi
done
# Box speed: SIPp does the same work per call whichever edge it calls, so its CPU at a rate both sweeps ran
# tells whether the host was as fast for both (these 2 shared vCPUs drift by 1.4x within minutes). A
# same-run ratio is fair only when the two agree (docs/scale.md, "Reading a sweep").
python3 - "$WORK/results" <<'PY'
import json, os, sys
d = sys.argv[1]; by = {}
for w in ("kamailio", "sips-edge"):
    f = os.path.join(d, f"cps-{w}", "steps.jsonl")
    if os.path.exists(f):
        by[w] = {int(s["target_cps"]): s.get("cpu_sipp_pct") for s in map(json.loads, open(f))}
if len(by) == 2:
    common = sorted(set(by["kamailio"]) & set(by["sips-edge"]))
    for r in common[:2]:
        k, e = by["kamailio"][r], by["sips-edge"][r]
        print(f"box speed: SIPp CPU at {r} cps: {k} % in the Kamailio sweep, {e} % in the sips-edge sweep"
              + (f" (x{k / e:.2f}: the host was not equally fast for both)" if k and e and abs(k / e - 1) > 0.1 else ""))
PY
echo "results: $WORK/results"
