/**
 * Overload tests (issue 11 items 8-9): an edge with two inside peers, a far-end trunk for the real
 * SIPp call and a "sink" trunk that never answers, plus bounded floods from chosen loopback
 * addresses (Linux routes all of 127.0.0.0/8 to lo: 127.0.0.2 is the second peer, 127.0.0.9 a
 * stranger).
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { createSocket, type Socket } from 'node:dgram';
import { request } from 'node:http';
import { EdgeProcess } from './edge-process.js';
import { freeUdpPort, runSipp, udpBound, type SippResult } from './sipp.js';

export const PBX = '127.0.0.1';
export const PBX2 = '127.0.0.2';
export const STRANGER = '127.0.0.9';
/** Called numbers (pbx routes to the far trunk = SIPp, pbx2 to the sink trunk that never answers). */
export const FAR_NUMBER = '4969123456789';
export const SINK_NUMBER = '999123456';

export interface OverloadEdgeOptions {
  readonly farPort: number;
  readonly sinkPort: number;
  /** YAML lines under `limits:` (indented by the caller's two spaces). */
  readonly limits?: readonly string[];
  readonly timers?: string;
}

export function overloadConfig(o: OverloadEdgeOptions): string {
  return `edge:
  name: edge.test.sips-edge.test
listen:
  - { side: inside, transport: udp, address: 127.0.0.1, port: 0 }
  - { side: inside, transport: tcp, address: 127.0.0.1, port: 0 }
  - { side: outside, transport: udp, address: 127.0.0.1, port: 0 }
timers: ${o.timers ?? '{ T1: 100, T2: 1000, T4: 1000, timerC: 181000 }'}
trunks:
  - name: far
    hosts:
      - { host: far1.lab.test, port: ${o.farPort}, priority: 0 }
    transport: udp
    insecure: true
    mode: dnis
    strategy: priority
    failover: 0
    health: { enabled: false }
  - name: sink
    hosts:
      - { host: sink.lab.test, port: ${o.sinkPort}, priority: 0 }
    transport: udp
    insecure: true
    mode: dnis
    strategy: priority
    failover: 0
    health: { enabled: false }
peers:
  - name: pbx
    host: 127.0.0.1
    port: 5090
    sources: [127.0.0.1/32]
    trunk: far
  - name: pbx2
    host: 127.0.0.2
    port: 5090
    sources: [127.0.0.2/32]
    trunk: sink
routing:
  defaultTrunk: far
  vendorSources: [127.0.0.1/32]
dns:
  overrides:
    far1.lab.test: [127.0.0.1]
    sink.lab.test: [127.0.0.1]
srtp:
  policy: strict
limits:
${(o.limits ?? []).map((l) => `  ${l}`).join('\n') || '  maxPendingRequests: 5000'}
admin: { enabled: true, address: 127.0.0.1, port: 0 }
`;
}

export function adminPort(edge: EdgeProcess): number {
  const l = edge.logs.find((x) => x.event === 'listening');
  const admin = l?.['admin'] as { port: number } | null | undefined;
  if (admin == null) throw new Error('the edge has no admin listener');
  return admin.port;
}

/** GET /metrics -> text. */
export function scrape(edge: EdgeProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: adminPort(edge), path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('metrics scrape timed out')));
    req.end();
  });
}

/** The sum of a metric's samples whose labels include every one of `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{([^}]*)\})? ([-0-9.e+]+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = new Map((m[3] ?? '').split(',').filter(Boolean).map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i), kv.slice(i + 2, -1)] as const;
    }));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}

/** A UDP socket bound to one loopback address that records every datagram it gets back. */
export class UdpSender {
  readonly received: string[] = [];
  private constructor(readonly socket: Socket) {
    socket.on('message', (d) => this.received.push(d.toString('latin1')));
  }

  static async bind(address: string): Promise<UdpSender> {
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, address, () => resolve());
    });
    return new UdpSender(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get address(): string {
    return this.socket.address().address;
  }

  send(data: string | Buffer, port: number): Promise<void> {
    return new Promise((resolve) => this.socket.send(data, port, '127.0.0.1', () => resolve()));
  }

  /** Status lines of the responses received so far, as numbers. */
  statuses(): number[] {
    return this.received.map((r) => /^SIP\/2\.0 (\d{3}) /.exec(r)?.[1]).filter((s): s is string => s !== undefined).map(Number);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

let seq = 0;

/** A new INVITE (its own Call-ID and branch) from `from` to the edge's inside UDP listener. */
export function invite(from: UdpSender, edgePort: number, number: string): string {
  const n = ++seq;
  return [
    `INVITE sip:${number}@127.0.0.1:${edgePort} SIP/2.0`,
    `Via: SIP/2.0/UDP ${from.address}:${from.port};branch=z9hG4bKflood${process.pid}x${n};rport`,
    `From: <sip:flood@${from.address}>;tag=f${n}`,
    `To: <sip:${number}@127.0.0.1>`,
    `Call-ID: flood-${process.pid}-${n}@${from.address}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:flood@${from.address}:${from.port}>`,
    'Max-Forwards: 70',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

/** A new OPTIONS addressed to the edge itself (answered by the edge, RFC 3261 §11). */
export function options(from: UdpSender, edgePort: number): string {
  const n = ++seq;
  return [
    `OPTIONS sip:127.0.0.1:${edgePort} SIP/2.0`,
    `Via: SIP/2.0/UDP ${from.address}:${from.port};branch=z9hG4bKopt${process.pid}x${n};rport`,
    `From: <sip:ping@${from.address}>;tag=o${n}`,
    'To: <sip:127.0.0.1>',
    `Call-ID: opt-${process.pid}-${n}@${from.address}`,
    'CSeq: 1 OPTIONS',
    'Max-Forwards: 70',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

/**
 * Sends `make()` datagrams (to `ports` in turn) in rounds of `perRound` until `max` were sent or
 * `until` settled; `onStarted` after the first round. Bounded in count; paced by a 10 ms pause
 * between rounds.
 */
export async function flood(sender: UdpSender, ports: readonly number[], make: (port: number, n: number) => string | Buffer, o: { max: number; perRound: number; until: Promise<unknown>; onStarted?: () => void }): Promise<number> {
  let stop = false;
  void o.until.then(() => { stop = true; }, () => { stop = true; });
  let sent = 0;
  while (!stop && sent < o.max) {
    const batch: Promise<void>[] = [];
    for (let i = 0; i < o.perRound && sent < o.max; i++, sent++) {
      const port = ports[sent % ports.length]!;
      batch.push(sender.send(make(port, sent), port));
    }
    if (sent === o.perRound) o.onStarted?.();
    await Promise.all(batch);
    await new Promise((r) => setTimeout(r, 10));
  }
  return sent;
}

/** Legitimate calls (PBX -> edge -> far SIPp UAS -> BYE), all of which must complete. */
export async function legitimateCalls(edge: EdgeProcess, farPort: number, calls: number): Promise<{ uac: SippResult; uas: SippResult }> {
  const uasRun = runSipp({ scenario: 'uas-answer-expect-bye.xml', port: farPort, calls, timeoutSeconds: 25 });
  await udpBound(farPort);
  const uacRun = runSipp({ scenario: 'uac-call-caller-bye.xml', port: await freeUdpPort(), remote: `127.0.0.1:${edge.port('inside', 'udp')}`, calls, rate: 10, service: FAR_NUMBER, timeoutSeconds: 25 });
  const [uac, uas] = await Promise.all([uacRun.done, uasRun.done]);
  return { uac, uas };
}

export function sippFailure(r: SippResult, who: string): string {
  return `${who} failed (exit ${r.code}):\n${r.stdout.slice(-1500)}\n${r.traces.slice(-4000)}`;
}

/** Errors the edge logged about itself (a bug reached by input): none may appear. */
export function internalErrors(edge: EdgeProcess): string[] {
  return edge.logs.filter((l) => l.level >= 50).map((l) => JSON.stringify(l));
}

/**
 * Runs `load` and, once it calls `started`, 3 real calls; `load` must stop when `until` settles.
 * Asserts the calls completed and the load went on while they ran; resolves with load's result.
 */
export async function callsDuring<T extends { readonly sent: number }>(edge: EdgeProcess, far: number, load: (started: () => void, until: Promise<unknown>) => Promise<T>): Promise<T> {
  let began = false;
  let go!: () => void;
  const started = new Promise<void>((r) => { go = () => { began = true; r(); }; });
  const calls = started.then(() => legitimateCalls(edge, far, 3));
  const result = await load(go, calls);
  assert.ok(began, 'the load never started the calls');
  const { uac, uas } = await calls;
  assert.equal(uac.code, 0, sippFailure(uac, 'UAC'));
  assert.equal(uas.code, 0, sippFailure(uas, 'UAS'));
  return result;
}

/** A bounded UDP flood from `sender` while 3 real calls run; resolves with the datagram count. */
export async function floodDuringCalls(edge: EdgeProcess, far: number, sender: UdpSender, ports: readonly number[], make: (port: number) => string): Promise<number> {
  let atStart = 0;
  let sent = 0;
  const r = await callsDuring(edge, far, async (started, until) => ({
    sent: await flood(sender, ports, (port, n) => { sent = n + 1; return make(port); }, {
      max: 20_000, perRound: 100, until, onStarted: () => { atStart = sent; started(); },
    }),
  }));
  assert.ok(r.sent > atStart + 100, `the flood went on while the calls ran (${atStart} before, ${r.sent} in all)`);
  return r.sent;
}

/** The token-bucket limits the flood tests run with: small, so a bounded flood spends them. */
export const FLOOD_LIMITS = [
  'knownSourceRequestRate: 50', 'knownSourceRequestBurst: 50',
  'strangerRequestRate: 5', 'strangerRequestBurst: 10',
  'strangersRequestRate: 20', 'strangersRequestBurst: 40',
  'overloadResponseRate: 20', 'overloadResponseBurst: 20',
] as const;

/** Edges and UDP sockets a flood test started, stopped together in its `after`. */
export class FloodRig {
  private readonly edges: EdgeProcess[] = [];
  private readonly sockets: UdpSender[] = [];

  /** An edge on `overloadConfig` with a far trunk (SIPp UAS port) and a sink trunk that never answers. */
  async start(limits: readonly string[] = FLOOD_LIMITS): Promise<{ edge: EdgeProcess; far: number }> {
    const far = await freeUdpPort();
    const sink = await this.bind('127.0.0.1');
    const edge = await EdgeProcess.start(overloadConfig({ farPort: far, sinkPort: sink.port, limits }));
    this.edges.push(edge);
    return { edge, far };
  }

  async bind(address: string): Promise<UdpSender> {
    const s = await UdpSender.bind(address);
    this.sockets.push(s);
    return s;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) await s.close();
    for (const e of this.edges) await e.stop();
  }
}

/** The edges and sockets of one test file, stopped after its tests (sockets first). */
export function overloadTeardown(): { readonly edges: EdgeProcess[]; readonly sockets: UdpSender[] } {
  const held = { edges: [] as EdgeProcess[], sockets: [] as UdpSender[] };
  after(async () => {
    for (const s of held.sockets) await s.close();
    for (const e of held.edges) await e.stop();
  });
  return held;
}

/** Polls `pred` every 20 ms for up to 10 s: a readiness wait, never a timing assertion. */
export async function until(what: string, pred: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
