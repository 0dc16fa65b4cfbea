/**
 * Soak (issue 11): 100,000 calls through the edge, SIPp PBX (UDP) -> edge -> TLS 1.2 -> Kamailio
 * upstream (../shared/bench, copied to a temp dir with its own free port), at a moderate bounded
 * rate. After a warm-up (40 s of calls at the same rate: RFC 6026's 32 s of lingering state reach
 * the same steady size as in the soak) and again after the soak, once that lingering (32 s) has
 * expired: transactions, timers and connections from /metrics must be back to idle and RSS (VmRSS,
 * after a full GC asked for through the edge's inspector on loopback) within 10 % of the warm-up
 * figure. Both peaks (end of warm-up, end of soak) and both idle points are printed with their
 * parts (process.memoryUsage() in the edge, and the malloc heap / anonymous / file-backed RSS
 * from /proc/PID/smaps) so a difference says where it lives. Prints one JSON document; exit 1
 * when a check fails.
 *   node .test-build/bench/soak.js [--calls 100000] [--rate 1000] [--warmup rate*40]   (SHARED_BENCH=dir of the harness)
 * Loopback only; the edge and Kamailio are stopped by PID; each SIPp run is bounded by -m and -timeout.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'node:http';
import { freeUdpPort, udpBound } from '../test/helpers/sipp.js';
import { metricSum } from '../test/helpers/overload.js';
import { conditions } from './lib.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const CALLS = arg('calls', 100_000);
const RATE = arg('rate', 1000);
/** Warm-up long enough (40 s at the rate) for RFC 6026 lingering state to reach its steady size. */
const WARMUP = arg('warmup', RATE * 40);
/** RFC 6026 Timer L/M (64*T1 = 32 s) plus Timer K/J and a margin. */
const LINGER_MS = 32_000 + 6_000;
const ROOT = process.cwd();
/** The harness as bench/cps.sh finds it (a worktree elsewhere: SHARED_BENCH=/path/to/shared/bench). */
const SHARED = process.env['SHARED_BENCH'] ?? resolve(ROOT, '../shared/bench');
if (!existsSync(SHARED)) throw new Error(`no bench harness at ${SHARED}: set SHARED_BENCH`);

function freeTcpPort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

async function tcpBound(port: number, ms = 20_000): Promise<void> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (readFileSync('/proc/net/tcp', 'utf8').split('\n').some((l) => l.includes(hex) && l.trim().split(/\s+/)[3] === '0A')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on tcp ${port}`);
}

function scrape(port: number): Promise<string> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (r) => {
      let b = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => { b += d; });
      r.on('end', () => res(b));
    });
    req.on('error', rej);
    req.end();
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(m?.[1] ?? 0) / 1024);
}

/**
 * RSS by kind of mapping: the main malloc arena ([heap], brk: native allocations such as Buffer
 * bytes), other anonymous memory (V8's heap pages, thread arenas) and file-backed (code).
 */
function rssParts(pid: number): { mallocHeapMb: number; anonymousMb: number; fileMb: number } {
  let heap = 0;
  let anon = 0;
  let file = 0;
  let name = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const h = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (h !== null) { name = h[1]!; continue; }
    if (!line.startsWith('Rss:')) continue;
    const kb = Number(line.split(/\s+/)[1]);
    if (name === '[heap]') heap += kb;
    else if (name === '' || name.startsWith('[anon')) anon += kb;
    else file += kb;
  }
  const mb = (kb: number) => Math.round(kb / 1024);
  return { mallocHeapMb: mb(heap), anonymousMb: mb(anon), fileMb: mb(file) };
}

/** The edge's state right after a run of calls (the peak: RFC 6026 lingering at its steady size). */
async function peak(adminPort: number, pid: number): Promise<Record<string, number>> {
  const m = await scrape(adminPort);
  return {
    transactionsHeld: metricSum(m, 'sips_edge_transactions_held'),
    timers: metricSum(m, 'sips_edge_timers_scheduled'),
    rssMb: rssMb(pid),
    ...rssParts(pid),
    heapUsedMb: Math.round(metricSum(m, 'sips_edge_nodejs_heap_size_used_bytes') / 1048576),
    heapTotalMb: Math.round(metricSum(m, 'sips_edge_nodejs_heap_size_total_bytes') / 1048576),
  };
}

function stop(p: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (p.exitCode !== null || p.signalCode !== null) return res();
    p.once('exit', () => res());
    p.kill('SIGTERM');
    setTimeout(() => { if (p.exitCode === null) p.kill('SIGKILL'); }, 10_000).unref();
  });
}

/** One bounded SIPp run; returns its final counters from the -trace_stat CSV. */
function sipp(dir: string, edgePort: number, localPort: number, calls: number): Promise<{ exit: number | null; successful: number; failed: number; seconds: number }> {
  const t0 = Date.now();
  const timeout = Math.ceil(calls / RATE) + 60;
  const p = spawn('timeout', ['-k', '5', String(timeout + 10), 'sipp', '-sf', join(dir, 'scenarios/uac_srtp.xml'), '-t', 'u1', '-i', '127.0.0.1', '-p', String(localPort),
    '-s', '1000', '-r', String(RATE), '-rp', '1000', '-m', String(calls), '-l', String(RATE * 5), '-d', '500', '-timeout', `${timeout}s`,
    '-nostdin', '-max_socket', '4096', '-buff_size', '4194304', '-trace_stat', '-fd', '5', '-stf', join(dir, `stat-${calls}.csv`), `127.0.0.1:${edgePort}`], { cwd: dir, stdio: 'ignore' });
  return new Promise((res) => p.once('exit', (code) => {
    const lines = readFileSync(join(dir, `stat-${calls}.csv`), 'utf8').trim().split('\n');
    const head = lines[0]!.split(';');
    const last = lines[lines.length - 1]!.split(';');
    const col = (n: string) => Number(last[head.indexOf(n)] ?? NaN);
    res({ exit: code, successful: col('SuccessfulCall(C)'), failed: col('FailedCall(C)'), seconds: Math.round((Date.now() - t0) / 1000) });
  }));
}

type MemoryUsage = { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };

/**
 * A full GC in the edge through its inspector (HeapProfiler.collectGarbage), so RSS and heap are
 * compared without the garbage an idle process has no reason to collect; then the edge's own
 * process.memoryUsage() (Runtime.evaluate), after that GC.
 */
async function collectGarbage(inspectPort: number): Promise<MemoryUsage> {
  const list = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json() as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(list[0]!.webSocketDebuggerUrl);
  return new Promise<MemoryUsage>((res, rej) => {
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    ws.onmessage = (e) => {
      const msg = JSON.parse(String(e.data)) as { id?: number; result?: { result?: { value?: string } } };
      if (msg.id === 1) ws.send(JSON.stringify({ id: 2, method: 'Runtime.evaluate', params: { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true } }));
      if (msg.id === 2) {
        ws.close();
        res(JSON.parse(msg.result?.result?.value ?? '{}') as MemoryUsage);
      }
    };
    ws.onerror = () => rej(new Error('inspector connection failed'));
  });
}

async function idle(adminPort: number, pid: number): Promise<Record<string, number>> {
  const mu = await collectGarbage(inspectPort);
  const m = await scrape(adminPort);
  const mb = (b: number) => Math.round(b / 1048576);
  return {
    serverTransactions: metricSum(m, 'sips_edge_transactions_active'),
    transactionsHeld: metricSum(m, 'sips_edge_transactions_held'),
    timers: metricSum(m, 'sips_edge_timers_scheduled'),
    connections: metricSum(m, 'sips_edge_connections_active'),
    rssMb: rssMb(pid),
    ...rssParts(pid),
    heapUsedMb: mb(mu.heapUsed),
    heapTotalMb: mb(mu.heapTotal),
    externalMb: mb(mu.external),
    arrayBuffersMb: mb(mu.arrayBuffers),
  };
}

const work = mkdtempSync(join(tmpdir(), 'sips-edge-soak-'));
cpSync(SHARED, work, { recursive: true });
const chmodAll = (d: string): void => {
  chmodSync(d, 0o755);
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) chmodAll(p);
    else chmodSync(p, 0o755);
  }
};
chmodAll(work);
spawnSync(join(work, 'pki/mkpki.sh'), { stdio: 'ignore', env: { ...process.env, BENCH: work } });
const upPort = await freeTcpPort();
const cfgDir = join(work, 'cfg');
writeFileSync(join(cfgDir, 'upstream.cfg'), readFileSync(join(cfgDir, 'upstream.cfg'), 'utf8').replaceAll('15061', String(upPort)));
const edgePort = await freeUdpPort();
const adminPort = await freeTcpPort();
writeFileSync(join(work, 'edge.yaml'), `edge:
  name: edge.lab.invalid
listen:
  - { side: inside, transport: udp, address: 127.0.0.1, port: ${edgePort} }
tls:
  revocation: off
trunks:
  - name: bench
    hosts: [{ host: lb01.voice.euc1.pure.cloud, port: ${upPort} }]
    trust: { files: [${work}/pki/out/root.crt] }
    mode: dnis
    failover: 0
    health: { enabled: false }
peers:
  - { name: sipp, host: 127.0.0.1, port: 5070, sources: [127.0.0.1/32], trunk: bench }
routing: { defaultTrunk: bench }
dns:
  overrides: { lb01.voice.euc1.pure.cloud: [127.0.0.1] }
admin: { enabled: true, address: 127.0.0.1, port: ${adminPort} }
logging: { level: warn }
`);
const runDir = join(work, 'run/upstream');
spawnSync('mkdir', ['-p', runDir]);
const upstream = spawn('kamailio', ['-DD', '-E', '-f', join(cfgDir, 'upstream.cfg'), '-m', '1024', '-M', '32', '-Y', runDir, '-w', cfgDir],
  { env: { ...process.env, OPENSSL_CONF: join(cfgDir, 'openssl-upstream.cnf') }, stdio: 'ignore' });
const inspectPort = await freeTcpPort();
const edge = spawn(process.execPath, ['--max-semi-space-size=64', `--inspect=127.0.0.1:${inspectPort}`, join(ROOT, 'dist/cli/main.js'), 'start', '--config', join(work, 'edge.yaml')], { stdio: 'ignore' });
let ok = false;
let report: Record<string, unknown> = {};
try {
  await tcpBound(upPort);
  await udpBound(edgePort);
  await tcpBound(adminPort);
  const sippPort = await freeUdpPort();
  const warm = await sipp(work, edgePort, sippPort, WARMUP);
  const warmupPeak = await peak(adminPort, edge.pid!);
  await new Promise((r) => setTimeout(r, LINGER_MS));
  const afterWarmup = await idle(adminPort, edge.pid!);
  const soak = await sipp(work, edgePort, sippPort, CALLS);
  const soakPeak = await peak(adminPort, edge.pid!);
  await new Promise((r) => setTimeout(r, LINGER_MS));
  const afterSoak = await idle(adminPort, edge.pid!);
  const ratio = afterSoak['rssMb']! / afterWarmup['rssMb']!;
  const idleState = { transactionsHeld: afterSoak['transactionsHeld']!, serverTransactions: afterSoak['serverTransactions']!, timers: afterSoak['timers']!, connections: afterSoak['connections']! };
  const checks = {
    allCallsSucceeded: { pass: soak.successful === CALLS && soak.failed === 0, successful: soak.successful, failed: soak.failed, of: CALLS },
    transactionsIdle: { pass: idleState.transactionsHeld === 0 && idleState.serverTransactions === 0, held: idleState.transactionsHeld, server: idleState.serverTransactions },
    timersIdle: { pass: idleState.timers === 0, timers: idleState.timers },
    // Idle = the one TLS flow to the upstream kept open (keep-alive), nothing else.
    connectionsIdle: { pass: idleState.connections <= 1, connections: idleState.connections, max: 1 },
    rssWithin10Percent: { pass: Math.abs(ratio - 1) <= 0.10, warmupMb: afterWarmup['rssMb']!, finalMb: afterSoak['rssMb']!, ratio: Number(ratio.toFixed(3)) },
  };
  ok = Object.values(checks).every((c) => c.pass);
  report = {
    warmup: { calls: WARMUP, ...warm }, soak: { calls: CALLS, rate: RATE, ...soak },
    rss: {
      how: `VmRSS of the edge ${LINGER_MS / 1000} s after the last call (RFC 6026 lingering expired), right after a full GC through its inspector`,
      warmupMb: afterWarmup['rssMb'], finalMb: afterSoak['rssMb'], ratio: Number(ratio.toFixed(3)),
      growthPercent: Number(((ratio - 1) * 100).toFixed(1)), limitPercent: 10, pass: checks.rssWithin10Percent.pass,
    },
    idleAfterSoak: idleState,
    warmupPeak, afterWarmup, soakPeak, afterSoak, checks, ok,
  };
} catch (e) {
  report = { error: e instanceof Error ? e.message : String(e) };
} finally {
  await stop(edge);
  await stop(upstream);
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify({ bench: 'soak', conditions: conditions(), ...report }, null, 2) + '\n');
process.exitCode = ok ? 0 : 1;
