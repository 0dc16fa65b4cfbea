/**
 * Soak (issue 11): 100,000 calls through the edge, SIPp PBX (UDP) -> edge -> TLS 1.2 -> Kamailio
 * upstream (../shared/bench, copied to a temp dir with its own free port), at a moderate bounded
 * rate. After a warm-up (40 s of calls at the same rate) and again after the soak, once RFC 6026 lingering (32 s)
 * has expired: transactions, timers and connections from /metrics must be back to idle and RSS
 * (after a full GC, asked for through the edge's inspector on loopback) within 10 % of the
 * warm-up figure. Prints one JSON document; exit 1 when a check fails.
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

/**
 * A full GC in the edge through its inspector (HeapProfiler.collectGarbage), so RSS and heap are
 * compared without the garbage an idle process has no reason to collect.
 */
async function collectGarbage(inspectPort: number): Promise<void> {
  const list = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json() as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(list[0]!.webSocketDebuggerUrl);
  await new Promise<void>((res, rej) => {
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    ws.onmessage = (e) => { if ((JSON.parse(String(e.data)) as { id?: number }).id === 1) { ws.close(); res(); } };
    ws.onerror = () => rej(new Error('inspector connection failed'));
  });
}

async function idle(adminPort: number, pid: number): Promise<Record<string, number>> {
  await collectGarbage(inspectPort);
  const m = await scrape(adminPort);
  return {
    serverTransactions: metricSum(m, 'sips_edge_transactions_active'),
    transactionsHeld: metricSum(m, 'sips_edge_transactions_held'),
    timers: metricSum(m, 'sips_edge_timers_scheduled'),
    connections: metricSum(m, 'sips_edge_connections_active'),
    rssMb: rssMb(pid),
    heapUsedMb: Math.round(metricSum(m, 'sips_edge_nodejs_heap_size_used_bytes') / 1048576),
    heapTotalMb: Math.round(metricSum(m, 'sips_edge_nodejs_heap_size_total_bytes') / 1048576),
    externalMb: Math.round(metricSum(m, 'sips_edge_nodejs_external_memory_bytes') / 1048576),
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
  await new Promise((r) => setTimeout(r, LINGER_MS));
  const afterWarmup = await idle(adminPort, edge.pid!);
  const soak = await sipp(work, edgePort, sippPort, CALLS);
  const m = await scrape(adminPort);
  const atEnd = { transactionsHeld: metricSum(m, 'sips_edge_transactions_held'), timers: metricSum(m, 'sips_edge_timers_scheduled'), rssMb: rssMb(edge.pid!) };
  await new Promise((r) => setTimeout(r, LINGER_MS));
  const afterSoak = await idle(adminPort, edge.pid!);
  const rssGrowth = (afterSoak['rssMb']! - afterWarmup['rssMb']!) / afterWarmup['rssMb']!;
  const checks = {
    allCallsSucceeded: soak.successful === CALLS && soak.failed === 0,
    transactionsIdle: afterSoak['transactionsHeld'] === 0 && afterSoak['serverTransactions'] === 0,
    timersIdle: afterSoak['timers'] === 0,
    // Idle = the one TLS flow to the upstream kept open (keep-alive), nothing else.
    connectionsIdle: afterSoak['connections']! <= 1,
    rssWithin10Percent: Math.abs(rssGrowth) <= 0.10,
  };
  ok = Object.values(checks).every(Boolean);
  report = { warmup: { calls: WARMUP, ...warm }, soak: { calls: CALLS, rate: RATE, ...soak }, afterWarmup, atEnd, afterSoak, rssGrowthPercent: Number((rssGrowth * 100).toFixed(1)), checks, ok };
} catch (e) {
  report = { error: e instanceof Error ? e.message : String(e) };
} finally {
  await stop(edge);
  await stop(upstream);
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify({ bench: 'soak', conditions: conditions(), ...report }, null, 2) + '\n');
process.exitCode = ok ? 0 : 1;
