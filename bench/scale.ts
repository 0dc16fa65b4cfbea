/**
 * Issue 13: what each `edge.workers` count costs and gives. For workers = 1 and workers = auto the edge
 * runs as its own process (dist/cli/main.js start) and this measures, same run:
 *  1. new TLS 1.2 handshakes/s on the outside TLS listener (ECDHE-RSA-AES256-GCM-SHA384, secp384r1, no
 *     session offered) and resumed handshakes/s (the ticket of an earlier connection offered), from this
 *     process at a fixed concurrency, with this process's CPU and the edge's (primary + workers, /proc);
 *  2. RSS (primary + workers) per 1,000 idle TLS connections held open;
 *  3. RSS per 1,000 calls in progress: SIPp UAC (UDP, `-t un`) -> inside UDP -> insecure UDP trunk -> SIPp UAS;
 *  4. new handshakes/s again with the light client (bench/tls12-light-client.ts: the same full handshake for the
 *     server, about a quarter of node:tls's CPU for the client), so the client leaves the second core to a second
 *     worker; each counted once the server's Finished arrived (sent only after it verified the client's);
 *     then the same from its C port (bench/tls12-light-client.c, built here with `cc -lcrypto`; skipped, and said
 *     why in `ratios`, where no compiler or libcrypto headers are found), a process of its own that costs a
 *     third of the TypeScript client's CPU, so the ratio of the worker counts is the edge's, not the client's;
 *  5. `openssl s_time -new` and `-reuse` against the edge's TLS listener (one connection at a time).
 * Every handshake phase reports the edge's own count of the handshakes it accepted (sips_edge_tls_handshakes_total).
 * The machine's cores are shared by the client, SIPp and the edge: read the CPU figures with the rates.
 *   node .test-build/bench/scale.js [--seconds 8] [--concurrency 24] [--connections 1000] [--calls 1000] [--rate 250] [--hold 15] [--tls-only]
 * --tls-only: the handshake phases (1, 4 and 5) only. Every phase reports the edge's CPU per process (primary first).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import { conditions } from './lib.js';
import { lightHandshake } from './tls12-light-client.js';
import { CLIENT_OPTIONS, environment, labForBench, sTime } from './tls-common.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const SECONDS = arg('seconds', 8);
const CONCURRENCY = arg('concurrency', 24);
const CONNECTIONS = arg('connections', 1000);
const CALLS = arg('calls', 1000);
const RATE = arg('rate', 250);
const HOLD = arg('hold', 15);
const TLS_ONLY = process.argv.includes('--tls-only');
const MiB = 1048576;
const TICK = 100; // USER_HZ of /proc/<pid>/stat on Linux
const round = (x: number, d = 2): number => Number(x.toFixed(d));

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Edge {
  readonly proc: ChildProcess;
  readonly pids: number[];
  readonly tlsPort: number;
  readonly udpPort: number;
  readonly admin: string;
  readonly exited: Promise<unknown>;
}

function config(workers: string, far: number, chain: string, key: string): string {
  return `edge:
  name: edge.test.sips-edge.test
  workers: ${workers}
  drainTimeoutSeconds: 0
listen:
  - { name: outside-tls, side: outside, transport: tls, address: 127.0.0.1, port: 0 }
  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }
tls:
  handshakeTimeoutMs: 10000
  identities:
    - { cert: '${chain}', key: '${key}' }
timers: { T1: 500, T2: 4000, T4: 5000, timerC: 181000 }
trunks:
  - name: far
    hosts:
      - { host: far1.lab.test, port: ${far}, priority: 0 }
    transport: udp
    insecure: true
    mode: dnis
    strategy: priority
    health: { enabled: false }
peers:
  - name: pbx
    host: 127.0.0.1
    port: 5090
    sources: [127.0.0.1/32]
    trunk: far
routing:
  defaultTrunk: far
  vendorSources: [127.0.0.0/8]
dns:
  overrides:
    far1.lab.test: [127.0.0.1]
srtp:
  policy: strict
limits:
  maxConnections: 20000
  maxConnectionsPerAddress: 20000
  maxConnectionsPerListener: 20000
  maxOutsideConnections: 20000
  firstMessageTimeoutSeconds: 3600
admin:
  enabled: true
  address: 127.0.0.1
  port: 0
`;
}

async function startEdge(dir: string, workers: string, far: number, chain: string, key: string): Promise<Edge> {
  const file = join(dir, `edge-${workers}.yaml`);
  writeFileSync(file, config(workers, far, chain, key));
  // EDGE_NODE_FLAGS: node flags for the edge (e.g. --cpu-prof), as in bench/cps.sh.
  const flags = (process.env['EDGE_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
  const proc = spawn(process.execPath, [...flags, 'dist/cli/main.js', 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => proc.once('exit', r));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('edge not listening within 20 s')), 20_000);
    void exited.then(() => reject(new Error(`edge exited before listening: ${stderr}`)));
    // Every log line is read (the stream must drain); only the listening line is kept.
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      if (!l.includes('"listening"')) return;
      const j = JSON.parse(l) as Record<string, unknown>;
      if (j['event'] === 'listening') { clearTimeout(timer); resolve(j); }
    });
  });
  const listeners = line['listeners'] as { side: string; transport: string; port: number }[];
  const port = (side: string, t: string): number => listeners.find((x) => x.side === side && x.transport === t)!.port;
  const admin = line['admin'] as { address: string; port: number };
  const workerPids = Object.values((line['pids'] ?? {}) as Record<string, number | null>).filter((p): p is number => typeof p === 'number');
  return {
    proc, exited, pids: [proc.pid!, ...workerPids.filter((p) => p !== proc.pid)],
    tlsPort: port('outside', 'tls'), udpPort: port('inside', 'udp'), admin: `http://${admin.address}:${admin.port}`,
  };
}

/** utime + stime of each edge process (primary first), seconds. */
function edgeCpuEach(e: Edge): number[] {
  return e.pids.map((pid) => {
    // Fields after the ")" of comm: state is field 3, utime 14, stime 15.
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICK;
  });
}

function edgeRss(e: Edge): number {
  let kb = 0;
  for (const pid of e.pids) kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return kb * 1024;
}

/** Sum over the series of `name` whose labels contain every one of `labels` (the primary merges the workers'). */
async function metric(e: Edge, name: string, ...labels: string[]): Promise<number> {
  const text = await (await fetch(`${e.admin}/metrics`)).text();
  return text.split('\n')
    .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && labels.every((x) => l.includes(x)))
    .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The edge's own count of handshakes it accepted (the primary's /metrics merges the workers'). */
function acceptedHandshakes(e: Edge, resumed: boolean): Promise<number> {
  return metric(e, 'sips_edge_tls_handshakes_total', 'role="server"', 'result="ok"', `resumed="${resumed}"`);
}

interface Timed {
  handshakesPerSec: number; done: number; failed: number; firstError: string;
  /** Accepted by the edge meanwhile, by its own counter: equal to `done` when every handshake counted was complete. */
  edgeAccepted: number;
  clientCpuSec: number; clientCpuPerHandshakeMs: number; edgeCpuSec: number; edgeCpuPerHandshakeMs: number;
  /** The same per edge process, primary first (with one worker, the one process). */
  edgeCpuSecByProcess: number[];
}

/** What a client counted, beside the edge's CPU since `e0` and its accepted handshakes since `a0`. */
async function timed(e: Edge, resumed: boolean, a0: number, e0: number[], c: { done: number; failed: number; firstError: string; seconds: number; cpuSec: number }): Promise<Timed> {
  const byProcess = edgeCpuEach(e).map((x, i) => round(x - e0[i]!));
  const edgeCpuSec = byProcess.reduce((a, x) => a + x, 0);
  await sleep(300); // the workers' counters reach the primary's /metrics
  const perHandshakeMs = (cpuSec: number): number => round((cpuSec * 1000) / Math.max(1, c.done), 3);
  return {
    handshakesPerSec: Math.round(c.done / c.seconds), done: c.done, failed: c.failed, firstError: c.firstError,
    edgeAccepted: (await acceptedHandshakes(e, resumed)) - a0,
    clientCpuSec: round(c.cpuSec), clientCpuPerHandshakeMs: perHandshakeMs(c.cpuSec),
    edgeCpuSec: round(edgeCpuSec), edgeCpuPerHandshakeMs: perHandshakeMs(edgeCpuSec), edgeCpuSecByProcess: byProcess,
  };
}

/** CONCURRENCY lanes calling `one` for `seconds`, with this process's and the edge's CPU; `one` rejects on a failure. */
async function timedLanes(e: Edge, resumed: boolean, seconds: number, one: () => Promise<void>): Promise<Timed> {
  let done = 0;
  let failed = 0;
  let firstError = '';
  const a0 = await acceptedHandshakes(e, resumed);
  const end = Date.now() + seconds * 1000;
  const lane = async (): Promise<void> => {
    while (Date.now() < end) {
      try { await one(); done++; }
      catch (err) { failed++; firstError ||= `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`.trim(); }
    }
  };
  const c0 = process.cpuUsage();
  const e0 = edgeCpuEach(e);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return timed(e, resumed, a0, e0, { done, failed, firstError, seconds: wall, cpuSec: (c.user + c.system) / 1e6 });
}

interface Rate extends Timed { resumed: number; cipher: string; group: string }

/** node:tls handshakes; `resume`: offer the ticket of the first connection on every later one. */
async function handshakes(e: Edge, resume: boolean, seconds: number): Promise<Rate> {
  let session: Buffer | undefined;
  if (resume) {
    session = await new Promise<Buffer>((resolve, reject) => {
      const s = tls.connect({ ...CLIENT_OPTIONS, port: e.tlsPort });
      s.once('session', (b: Buffer) => { resolve(b); s.destroy(); });
      s.on('error', reject);
    });
  }
  let resumed = 0;
  let cipher = '';
  let group = '';
  const one = (): Promise<void> => new Promise((resolve, reject) => {
    const s = tls.connect({ ...CLIENT_OPTIONS, port: e.tlsPort, ...(session ? { session } : {}) }, () => {
      if (s.isSessionReused()) resumed++;
      cipher = s.getCipher().name;
      const k = s.getEphemeralKeyInfo();
      group = k && 'name' in k ? String(k.name) : group;
      // end(), not destroy(): after a resumed handshake the client's Finished is the last message, and
      // destroy() could drop it unsent (the server then never completes: edgeAccepted shows it).
      s.end();
      resolve();
    });
    s.on('error', (err) => { s.destroy(); reject(err); });
  });
  return { ...(await timedLanes(e, resume, seconds, one)), resumed, cipher, group };
}

/** Full handshakes from the light client (the server's Finished awaited, the edge's count checks them). */
function lightHandshakes(e: Edge, seconds: number): Promise<Timed> {
  return timedLanes(e, false, seconds, () => lightHandshake('127.0.0.1', e.tlsPort, CLIENT_OPTIONS.servername!, { verifyServerFinished: false }));
}

/** bench/tls12-light-client.c, built into `dir` with the system's cc and libcrypto; null (and why) when that fails. */
function buildCLightClient(dir: string): { bin: string | null; why: string } {
  const src = fileURLToPath(new URL('../../bench/tls12-light-client.c', import.meta.url));
  const bin = join(dir, 'tls12-light-client');
  const r = spawnSync('cc', ['-O2', '-o', bin, src, '-lcrypto'], { encoding: 'utf8' });
  if (r.status === 0) return { bin, why: '' };
  return { bin: null, why: (r.error?.message ?? r.stderr).trim().split('\n').slice(0, 3).join(' | ') };
}

/** Full handshakes from the C light client in its own process (the same handshake; its CPU from its getrusage). */
async function cLightHandshakes(e: Edge, bin: string, seconds: number): Promise<Timed> {
  const a0 = await acceptedHandshakes(e, false);
  const e0 = edgeCpuEach(e);
  const child = spawn(bin, ['127.0.0.1', String(e.tlsPort), CLIENT_OPTIONS.servername!, String(seconds), String(CONCURRENCY)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  if (code !== 0) throw new Error(`the C light client exited ${code}: ${err.trim()}`);
  // Its own count, wall time and getrusage CPU: {"done","failed","firstError","seconds","cpuSec"}.
  return timed(e, false, a0, e0, JSON.parse(out) as Parameters<typeof timed>[4]);
}

async function idleConnections(e: Edge): Promise<{ beforeMiB: number; afterMiB: number; held: number; mibPer1000: number; connectionsActive: number }> {
  const open = async (n: number): Promise<tls.TLSSocket[]> => {
    const held: tls.TLSSocket[] = [];
    for (let i = 0; i < n; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => new Promise<void>((resolve) => {
        const s = tls.connect({ ...CLIENT_OPTIONS, port: e.tlsPort }, () => resolve());
        s.on('error', () => resolve());
        held.push(s);
      })));
    }
    return held;
  };
  // Warm-up: 100 connections opened and released, so OpenSSL tables and the allocator are primed.
  for (const s of await open(100)) s.destroy();
  await sleep(1500);
  const before = edgeRss(e);
  const held = await open(CONNECTIONS);
  await sleep(1500);
  const after = edgeRss(e);
  const connectionsActive = await metric(e, 'sips_edge_connections_active');
  const alive = held.filter((s) => !s.destroyed).length;
  for (const s of held) s.destroy();
  return { beforeMiB: round(before / MiB), afterMiB: round(after / MiB), held: alive, mibPer1000: round(((after - before) / MiB) * (1000 / Math.max(1, alive))), connectionsActive };
}

function sipp(args: string[], cwd: string): { proc: ChildProcess; done: Promise<{ code: number | null; stdout: string }> } {
  const proc = spawn('sipp', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  proc.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); if (stdout.length > 200_000) stdout = stdout.slice(-100_000); });
  proc.stderr!.on('data', () => {});
  return { proc, done: new Promise((r) => proc.once('close', (code) => r({ code, stdout }))) };
}

/** SIPp's last cumulative count for `label` ("Successful call", "Failed call"). */
function sippCount(stdout: string, label: string): number | null {
  const cells = (stdout.split('\n').filter((l) => l.includes(label)).at(-1) ?? '').split('|').map((c) => c.trim());
  const n = Number(cells[2]);
  return Number.isFinite(n) ? n : null;
}

async function callsInProgress(e: Edge, far: number, dir: string): Promise<Record<string, unknown>> {
  // The project's held-call scenario, its hold stretched so every call is up at once.
  const scenario = join(dir, 'uac-hold.xml');
  writeFileSync(scenario, readFileSync('test/fixtures/sipp/uac-call-hold-bye.xml', 'utf8').replace('<pause milliseconds="5000"/>', `<pause milliseconds="${HOLD * 1000}"/>`));
  const timeout = Math.ceil(CALLS / RATE + HOLD + 30);
  const common = ['-i', '127.0.0.1', '-m', String(CALLS), '-s', '4969123456789', '-timeout', `${timeout}s`, '-timeout_error', '-nostdin'];
  const uas = sipp(['-sf', join(process.cwd(), 'test/fixtures/sipp/uas-answer-expect-bye.xml'), '-p', String(far), ...common], dir);
  await sleep(500);
  const before = edgeRss(e);
  const uacPort = await freeUdpPort();
  const t0 = Date.now();
  const uac = sipp([`127.0.0.1:${e.udpPort}`, '-sf', scenario, '-p', String(uacPort), '-r', String(RATE), '-l', String(CALLS + 10),
    '-t', 'un', '-max_socket', String(CALLS + 50), ...common], dir);
  // Plateau: every INVITE answered (200 passed outbound on the edge) and no BYE yet; bounded by the ramp + hold.
  let answered = 0;
  let byes = 0;
  let peakRss = before;
  let plateauAt: number | null = null;
  const deadline = t0 + (CALLS / RATE + HOLD - 1) * 1000;
  while (Date.now() < deadline) {
    await sleep(500);
    answered = await metric(e, 'sips_edge_call_setup_seconds_count', 'stage="answered"');
    byes = await metric(e, 'sips_edge_requests_total', 'method="BYE"');
    peakRss = Math.max(peakRss, edgeRss(e));
    if (answered >= CALLS && byes === 0 && plateauAt === null) plateauAt = Date.now();
    if (plateauAt !== null && Date.now() - plateauAt > 1500) break;
  }
  const rssAtPlateau = edgeRss(e);
  const transactionsActive = await metric(e, 'sips_edge_transactions_active');
  const u = await uac.done;
  const s = await uas.done;
  return {
    beforeMiB: round(before / MiB), plateauMiB: round(rssAtPlateau / MiB), peakMiB: round(peakRss / MiB),
    mibPer1000: round(((rssAtPlateau - before) / MiB) * (1000 / CALLS)),
    callSetupCountAtPlateau: answered, byesAtPlateau: byes, transactionsActiveAtPlateau: transactionsActive,
    plateauReachedAfterSec: plateauAt === null ? null : round((plateauAt - t0) / 1000, 1),
    uac: { exit: u.code, successful: sippCount(u.stdout, 'Successful call'), failed: sippCount(u.stdout, 'Failed call') },
    uas: { exit: s.code, successful: sippCount(s.stdout, 'Successful call'), failed: sippCount(s.stdout, 'Failed call') },
  };
}

/** SIGTERM (drainTimeoutSeconds 0: it exits at once, and a --cpu-prof is written), SIGKILL after 5 s. */
async function stopEdge(e: Edge): Promise<void> {
  e.proc.kill('SIGTERM');
  const exited = await Promise.race([e.exited.then(() => true), sleep(5000).then(() => false)]);
  for (const pid of e.pids.slice(1)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  if (!exited) e.proc.kill('SIGKILL');
  await e.exited;
}

async function run(workers: string, lab: ReturnType<typeof labForBench>, dir: string, cClient: string | null): Promise<Record<string, unknown>> {
  const far = await freeUdpPort();
  const e = await startEdge(dir, workers, far, lab.pki.edge.chain, lab.pki.edge.key);
  try {
    await handshakes(e, false, 1); // warm-up
    const full = await handshakes(e, false, SECONDS);
    const resumed = await handshakes(e, true, SECONDS);
    const idle = TLS_ONLY ? null : await idleConnections(e);
    if (!TLS_ONLY) await sleep(1000);
    const calls = TLS_ONLY ? null : await callsInProgress(e, far, dir);
    await lightHandshakes(e, 1); // warm-up
    const fullLightClient = await lightHandshakes(e, SECONDS);
    if (cClient !== null) await cLightHandshakes(e, cClient, 1); // warm-up
    const fullCLightClient = cClient === null ? null : await cLightHandshakes(e, cClient, SECONDS);
    // The issue's own measure, on the edge's listener: openssl s_time, one connection at a time.
    const a0 = await acceptedHandshakes(e, true);
    const sTimeNew = await sTime(e.tlsPort, '-new', SECONDS);
    const sTimeReuse = await sTime(e.tlsPort, '-reuse', SECONDS);
    await sleep(300);
    const sTimeResumedAccepted = (await acceptedHandshakes(e, true)) - a0;
    return {
      workers, processes: e.pids.length, loadavgAtStart: loadavg().map((x) => round(x)),
      full, resumed, resumedOverFull: round(resumed.handshakesPerSec / full.handshakesPerSec), fullLightClient,
      ...(fullCLightClient !== null ? { fullCLightClient } : {}),
      opensslSTime: {
        full: sTimeNew.connectionsPerSec, resumed: sTimeReuse.connectionsPerSec, resumedAcceptedByEdge: sTimeResumedAccepted,
        resumedOverFull: sTimeNew.connectionsPerSec && sTimeReuse.connectionsPerSec ? round(sTimeReuse.connectionsPerSec / sTimeNew.connectionsPerSec) : null,
      },
      ...(idle !== null ? { idleTlsConnections: idle } : {}), ...(calls !== null ? { callsInProgress: calls } : {}),
      loadavgAtEnd: loadavg().map((x) => round(x)),
    };
  } finally {
    await stopEdge(e);
  }
}

async function main(): Promise<void> {
  const lab = labForBench();
  const dir = mkdtempSync(join(tmpdir(), 'sips-edge-scale-'));
  const out: Record<string, unknown>[] = [];
  const cClient = buildCLightClient(dir);
  try {
    out.push(await run('1', lab, dir, cClient.bin));
    out.push(await run('auto', lab, dir, cClient.bin));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    lab.cleanup();
  }
  type Run = { full: Rate; resumed: Rate; resumedOverFull: number; fullLightClient: Timed; fullCLightClient?: Timed };
  const [one, auto] = out as unknown as [Run, Run];
  console.log(JSON.stringify({
    bench: 'scale',
    scenario: `edge as its own process, workers 1 vs auto (${availableParallelism()}); TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384/secp384r1 handshakes from this process, ${CONCURRENCY} in flight, ${SECONDS} s each (full: no session offered; resumed: the first connection's ticket offered); ${CONNECTIONS} idle TLS connections; ${CALLS} SIPp UDP calls at ${RATE}/s held ${HOLD} s through an insecure UDP trunk; RSS = sum of VmRSS of primary + workers; client, SIPp and edge share the cores`,
    ...conditions(), ...environment(), loadavg: loadavg().map((x) => round(x)),
    runs: out,
    ratios: {
      fullAutoOverOne: round(auto.full.handshakesPerSec / one.full.handshakesPerSec),
      fullLightClientAutoOverOne: round(auto.fullLightClient.handshakesPerSec / one.fullLightClient.handshakesPerSec),
      fullCLightClientAutoOverOne: auto.fullCLightClient && one.fullCLightClient
        ? round(auto.fullCLightClient.handshakesPerSec / one.fullCLightClient.handshakesPerSec)
        : `not measured: ${cClient.why}`,
      resumedAutoOverOne: round(auto.resumed.handshakesPerSec / one.resumed.handshakesPerSec),
      resumedOverFull: { one: one.resumedOverFull, auto: auto.resumedOverFull },
    },
  }, null, 2));
}

await main();
