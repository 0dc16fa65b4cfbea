#!/usr/bin/env bash
# Where an edge's CPU goes at a fixed call rate: `perf record` on the edge's processes during one step of
# bench/cps.sh (SIPp UAC over UDP -> edge -> TLS -> Kamailio upstream), then each sample's leaf sorted into
# JIT-compiled JS, V8 builtins, the V8 runtime, the GC, Node's C++, libuv, OpenSSL, libc and the kernel.
# Prints one JSON object per edge, with its CPU and syscalls per call (perf stat on the syscall tracepoints). For sips-edge the node binary runs with --perf-basic-prof, so JS frames
# have names (Node's own binary carries V8, libuv and OpenSSL, statically linked: they are told apart by symbol).
#   RATE=1200 RECORD_SECONDS=12 WHICH="sips-edge kamailio" EDGE_WORKERS=1 bash bench/cpu-split.sh
#   KEEP=1 keeps perf.data and the symbol tables (path printed) for `perf report -i`.
# Needs `perf` (Debian: linux-perf) and root or kernel.perf_event_paranoid <= 1. perf slows what it samples
# (about 5 % here): read the shares, not the step's pass/fail.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
command -v perf >/dev/null || { echo "bench/cpu-split.sh: perf not found (apt-get install -y linux-perf)" >&2; exit 2; }
RATE="${RATE:-1200}"
RECORD_SECONDS="${RECORD_SECONDS:-12}"
OUT="$(mktemp -d /tmp/sips-edge-cpu-split-XXXXXX)"
# The step runs for the recording plus time to reach a steady state (8 s) and to end the calls.
STEP_SECONDS=$(( RECORD_SECONDS + 16 ))
SYSCALLS="syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvmsg,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_read,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom"

# PIDs of the edge under test, started by bench/cps.sh's harness (never anything else on the machine).
edge_pids() {
  case "$1" in
    sips-edge) pgrep -f "dist/cli/main.js start --config $2/sips-edge.yaml" | paste -sd, ;;
    kamailio) pgrep -f "kamailio .*-f $2/cfg/edge.cfg" | paste -sd, ;;
  esac
}

for which in ${WHICH:-sips-edge kamailio}; do
  log="$OUT/$which.cps.log"
  work="$OUT/$which.cps"; mkdir -p "$work"
  CPS_WORK="$work" SIPP_TRANSPORT="${SIPP_TRANSPORT:-un}" RATES="$RATE" BISECT=0 STEP_SECONDS="$STEP_SECONDS" WHICH="$which" \
    EDGE_WORKERS="${EDGE_WORKERS:-1}" EDGE_NODE_FLAGS="--max-semi-space-size=64 --perf-basic-prof" \
    bash "$ROOT/bench/cps.sh" >"$log" 2>&1 &
  cps=$!
  # SIPp's step under way (its directory appears), then 8 s into it.
  for _ in $(seq 1 600); do
    [ -d "$work/results/cps-$which/run1/rate$RATE" ] && break
    kill -0 "$cps" 2>/dev/null || break
    sleep 0.2
  done
  [ -d "$work/results/cps-$which/run1/rate$RATE" ] || { echo "bench/cpu-split.sh: the $which step did not start (see $log)" >&2; kill "$cps" 2>/dev/null; exit 1; }
  sleep 8
  pids=$(edge_pids "$which" "$work")
  [ -n "$pids" ] || { echo "bench/cpu-split.sh: no $which edge process found" >&2; wait "$cps" || true; exit 1; }
  # The syscalls per call beside the profile (tracepoints, counted by the kernel: the steadiest figure here).
  perf stat -x, -e "$SYSCALLS" -p "$pids" -o "$OUT/$which.syscalls" -- sleep "$RECORD_SECONDS" 2>/dev/null &
  stat=$!
  perf record -q -F 999 -g -p "$pids" -o "$OUT/$which.perf.data" -- sleep "$RECORD_SECONDS" 2>/dev/null
  wait "$stat" || true
  perf script -i "$OUT/$which.perf.data" -F comm,ip,sym,dso 2>/dev/null >"$OUT/$which.stacks"
  wait "$cps" || true
  step=$(grep -E "rate $RATE:" "$log" | tail -1 | sed 's/^\[[^]]*\] //')
  python3 - "$which" "$OUT/$which.stacks" "$RATE" "$RECORD_SECONDS" "$step" "$OUT/$which.syscalls" <<'PY'
import collections, json, re, sys
which, path, rate, secs, step, syscalls_file = sys.argv[1:7]
calls = int(rate) * int(secs)
per_call = {}
try:
    for line in open(syscalls_file):
        f = line.strip().split(",")
        if len(f) > 2 and f[0].replace(".", "").isdigit() and f[2].startswith("syscalls:sys_enter_"):
            n = float(f[0])
            if n > 0: per_call[f[2][len("syscalls:sys_enter_"):]] = round(n / calls, 2)
except OSError:
    pass
m = re.search(r"cpu sipp/edge/up/host=[0-9.]+/([0-9.]+)/", step)
cpu_ms = round(float(m.group(1)) / 100 * 1000 / int(rate), 3) if m else None
# perf script: a header line per sample (comm), then one frame per line: ip sym (dso), leaf first.
samples, cur, comm = [], [], None
for line in open(path, errors="replace"):
    if not line.strip():
        if cur: samples.append((comm, cur))
        cur = []
        continue
    if not line[0].isspace():
        comm = line.split()[0]; cur = []
        continue
    m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
    if m: cur.append((re.sub(r"\+0x[0-9a-f]+$", "", m.group(1)), m.group(2)))
if cur: samples.append((comm, cur))
OPENSSL = re.compile(r"^(_?aesni|_?gcm|ghash|sha\d|SHA|ossl_|OSSL|EVP_|SSL_|ssl3?_|tls1?_|dtls|BN_|bn_|ec_|EC_|CRYPTO_|ERR_|BIO_|ASN1_|X509|OBJ_|RAND_|HMAC|WPACKET|PACKET_|OPENSSL_|ecp_nistz|x25519|ChaCha|Poly1305)")
def category(sym, dso):
    if "kernel" in dso: return "kernel"
    if dso.startswith("[JIT]") or dso.startswith("/tmp/perf-"):
        return "js" if sym.startswith("JS:") else "v8-jit-other"
    if "libssl" in dso or "libcrypto" in dso: return "openssl"
    if "libc.so" in dso or "libm.so" in dso or "ld-linux" in dso: return "libc"
    if dso.endswith("/node") or dso == "node":
        if sym.startswith("Builtins_"): return "v8-builtins"
        if re.search(r"Scaveng|MarkCompact|Sweeper|Marking|Evacuat|ConcurrentMark|GCTracer|Heap::Collect", sym): return "v8-gc"
        if sym.startswith("v8::") or sym.startswith("Builtins") or sym.startswith("RegExp"): return "v8-runtime"
        if sym.startswith("uv_") or sym.startswith("uv__"): return "libuv"
        if OPENSSL.match(sym): return "openssl"
        if sym.startswith("node::"): return "node-cpp"
        return "node-other"
    if "kamailio" in dso or dso.endswith(".so"): return "kamailio" if which == "kamailio" else "other"
    return "other"
n = len(samples)
cats, syms, threads = collections.Counter(), collections.Counter(), collections.Counter()
for comm, frames in samples:
    threads[comm] += 1
    sym, dso = frames[0]
    cats[category(sym, dso)] += 1
    syms[sym[:100]] += 1
pct = lambda v: round(100 * v / max(1, n), 2)
print(json.dumps({
    "bench": "cpu-split", "edge": which, "rate_cps": int(rate), "recorded_s": int(secs), "samples": n,
    "share_pct": {k: pct(v) for k, v in cats.most_common()},
    "edge_cpu_ms_per_call": cpu_ms, "syscalls_per_call": per_call,
    "threads_pct": {k: pct(v) for k, v in threads.most_common(4)},
    "top_symbols_pct": {k: pct(v) for k, v in syms.most_common(15)},
    "step": step,
}, indent=1))
PY
  # --perf-basic-prof leaves one symbol map per edge process in /tmp: those are this run's.
  for p in ${pids//,/ }; do [ "${KEEP:-0}" = 1 ] || rm -f "/tmp/perf-$p.map"; done
done
if [ "${KEEP:-0}" = 1 ]; then echo "kept: $OUT" >&2; else rm -rf "$OUT"; fi
