/**
 * Issue 14 end to end: the edge as its own process with a real rtpengine (test/helpers/rtpengine.ts),
 * scripted TLS lb stand-ins lb01 > lb02 on the vendor side (test/helpers/failover-lb.ts), the lab's
 * simulated lb03 to call in over TLS, and real SIPp carriers on the inside.
 *
 * Peers: `carrier` (127.0.0.1, UDP, media: anchor, srtp: none, the default peer for calls from the
 * vendor) and `pbx` (127.0.0.3, media: passthrough). Trunk `main` is passthrough: only the carrier's
 * calls are anchored. rtpengine is pinged every second, so a killed daemon is noticed quickly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BDict } from '../../src/media/bencode.js';
import { NgClient } from '../../src/media/ng-client.js';
import dgram from 'node:dgram';
import { makeOffer } from '../../src/lab/lab-sdp.js';
import { LabUa, type CallResult, type Hop } from '../../src/lab/lab-ua.js';
import { SimulatedRegion } from '../../src/lab/vendor-region.js';
import { parseMessage } from '../../src/message/parse-message.js';
import { generateLabPki, type LabPki } from '../../src/tls/lab-pki.js';
import { resolveTlsPolicy } from '../../src/tls/policy.js';
import { EdgeProcess } from './edge-process.js';
import { ANSWER, StandInLb } from './failover-lb.js';
import { IT_REGION, LB_HOSTS, labFiles } from './lab-region.js';
import { Rtpengine } from './rtpengine.js';
import { freeUdpPort, runSipp, udpBound, type SippResult } from './sipp.js';

export const [LB01, LB02, LB03] = LB_HOSTS as [string, string, string, string];
export const PASSTHROUGH_ADDRESS = '127.0.0.3';

export class MediaRig {
  private constructor(
    readonly dir: string,
    readonly pki: LabPki,
    readonly rtp: Rtpengine,
    readonly lb01: StandInLb,
    readonly lb02: StandInLb,
    readonly region: SimulatedRegion,
    readonly carrierPort: number,
    readonly edge: EdgeProcess,
    readonly ng: NgClient,
  ) {}

  static async start(): Promise<MediaRig> {
    const dir = mkdtempSync(join(tmpdir(), 'sips-edge-media-it-'));
    const pki = generateLabPki({ outDir: join(dir, 'pki'), regions: [IT_REGION.code] });
    const rtp = await Rtpengine.start();
    const lb01 = await StandInLb.start(LB01, pki);
    const lb02 = await StandInLb.start(LB02, pki);
    const f = labFiles(pki);
    const region = await SimulatedRegion.start({
      spec: { ...IT_REGION, hosts: [LB03] },
      files: (h) => ({ chain: pki.vendor[h]!.chain, key: pki.vendor[h]!.key }),
      policy: resolveTlsPolicy({ handshakeTimeoutMs: 2000 }),
      address: '127.0.0.1',
      ports: [0],
      t1Ms: 500,
      edgeTrust: { roots: f.roots, crlFiles: f.crls },
    });
    const carrierPort = await freeUdpPort();
    const edge = await EdgeProcess.start(edgeYaml(pki, rtp.ngPort, lb01.port, lb02.port, region.hosts[0]!.port, carrierPort));
    const ng = new NgClient({ address: '127.0.0.1', port: rtp.ngPort, timeoutMs: 2000, retries: 2 });
    return new MediaRig(dir, pki, rtp, lb01, lb02, region, carrierPort, edge, ng);
  }

  /** The edge's inside UDP listener as SIPp's remote. */
  get inside(): string {
    return `127.0.0.1:${this.edge.port('inside', 'udp')}`;
  }

  /** A SIPp UAC run against the inside listener; `from` binds another loopback address. */
  async uac(scenario: string, o: { service?: string; from?: string } = {}): Promise<SippResult> {
    return runSipp({
      scenario,
      port: await freeUdpPort(),
      remote: this.inside,
      ...(o.service !== undefined ? { service: o.service } : {}),
      timeoutSeconds: 20,
      extra: o.from !== undefined ? ['-i', o.from] : [],
    }).done;
  }

  /** A SIPp UAS as the carrier on its configured port; resolves once it is bound. */
  async carrierUas(scenario: string): Promise<{ done: Promise<SippResult>; kill(): void }> {
    const r = runSipp({ scenario, port: this.carrierPort, timeoutSeconds: 20 });
    await udpBound(this.carrierPort);
    return r;
  }

  /** rtpengine's `query` of a call: null when it does not know the Call-ID. */
  async query(callId: string): Promise<BDict | null> {
    try {
      return (await this.ng.command({ command: 'query', 'call-id': callId })).dict;
    } catch (e) {
      // rtpengine answers `result: error` with this reason for a call it does not hold.
      if (e instanceof Error && /Unknown call-id/i.test(e.message)) return null;
      throw e;
    }
  }

  /** The Call-IDs rtpengine holds (`list`). */
  async calls(): Promise<string[]> {
    const r = await this.ng.command({ command: 'list', limit: 1000 });
    const calls = r.dict['calls'];
    return Array.isArray(calls) ? calls.map((c) => (Buffer.isBuffer(c) ? c.toString() : String(c))) : [];
  }

  /**
   * Resolves once rtpengine no longer knows `callId` (the edge deletes without waiting for the
   * reply, after the final response left); rejects after `ms`.
   */
  async gone(callId: string, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while ((await this.query(callId)) !== null) {
      if (Date.now() > end) throw new Error(`rtpengine still holds ${callId} after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async admin(path: string): Promise<{ status: number; text: string }> {
    const a = this.edge.logs.find((l) => l.event === 'listening')?.['admin'] as { address: string; port: number };
    const res = await fetch(`http://${a.address}:${a.port}${path}`);
    return { status: res.status, text: await res.text() };
  }

  /** Sum of a metric's samples whose label text contains every one of `labels`. */
  async metric(name: string, ...labels: string[]): Promise<number> {
    const { text } = await this.admin('/metrics');
    return text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .filter((l) => labels.every((x) => l.includes(x)))
      .reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
  }

  /** Both lbs answer 180 + 200 again. */
  reset(): void {
    this.lb01.script = ANSWER;
    this.lb02.script = ANSWER;
  }

  async stop(): Promise<void> {
    const bound = setTimeout(() => this.edge.proc.kill('SIGKILL'), 10_000);
    await this.edge.stop();
    clearTimeout(bound);
    await this.ng.close();
    await this.region.stop();
    await this.lb01.stop();
    await this.lb02.stop();
    await this.rtp.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function edgeYaml(pki: LabPki, ngPort: number, lb01: number, lb02: number, lb03: number, carrierPort: number): string {
  const f = labFiles(pki);
  const q = (s: string): string => JSON.stringify(s);
  return `edge:
  name: ${f.edgeName}
  drainTimeoutSeconds: 0
listen:
  - { name: outside-tls, side: outside, transport: tls, address: 127.0.0.1, port: 0 }
  - { name: inside-udp, side: inside, transport: udp, address: 127.0.0.1, port: 0 }
tls:
  handshakeTimeoutMs: 2000
  revocation: soft
  crlFiles: [${f.crls.map(q).join(', ')}]
  identities:
    - { cert: ${q(f.edgeChain)}, key: ${q(f.edgeKey)} }
timers: { timerC: 20000, inviteFailover: 3000 }
dns:
  overrides:
${[LB01, LB02, LB03].map((h) => `    ${h}: [127.0.0.1]`).join('\n')}
trunks:
  - name: main
    region: ${IT_REGION.code}
    mode: dnis
    strategy: priority
    hosts:
      - { host: ${LB01}, port: ${lb01}, priority: 0 }
      - { host: ${LB02}, port: ${lb02}, priority: 1 }
      - { host: ${LB03}, port: ${lb03}, priority: 2 }
    trust: { files: [${f.roots.map(q).join(', ')}] }
    failover: 3
    health: { enabled: false }
peers:
  - { name: carrier, host: 127.0.0.1, port: ${carrierPort}, transport: udp, sources: [127.0.0.1/32], media: anchor, srtp: none }
  - { name: pbx, host: ${PASSTHROUGH_ADDRESS}, port: 5999, transport: udp, sources: [${PASSTHROUGH_ADDRESS}/32] }
routing:
  defaultTrunk: main
  defaultPeer: carrier
  vendorSources: [127.0.0.1/32]
srtp: { policy: strict }
media:
  rtpengine:
    instances: [{ name: rtp1, address: 127.0.0.1, port: ${ngPort} }]
    timeoutMs: 1000
    retries: 2
    pingIntervalSeconds: 1
admin: { enabled: true, address: 127.0.0.1, port: 0 }
logging: { level: info }
`;
}

/**
 * A carrier UA over UDP (the lab's LabUa) for calls that must stay up while the test does something
 * (SIPp cannot wait for the test): RTP/AVP offers, BYE once `whileUp` is done.
 */
export class UdpCarrier {
  private readonly ua: LabUa;

  private constructor(private readonly socket: dgram.Socket, private readonly port: number) {
    this.ua = new LabUa({ sentBy: `127.0.0.1:${port}`, viaTransport: 'UDP', agent: 'carrier', t1Ms: 500 });
    socket.on('message', (data, rinfo) => {
      const r = parseMessage(data, { framing: 'udp' });
      if (r.ok) this.ua.receive(r.value, this.hop(rinfo.port));
    });
  }

  static async start(): Promise<UdpCarrier> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    socket.on('error', () => undefined);
    return new UdpCarrier(socket, socket.address().port);
  }

  private hop(port: number): Hop {
    return { reliable: false, label: `carrier -> 127.0.0.1:${port}`, send: (data) => this.socket.send(data, port, '127.0.0.1') };
  }

  /** A call with `sdp` (by default a lab RTP/AVP offer); BYE once `whileUp` is done. */
  call(edgePort: number, number: string, whileUp?: (answer: string) => Promise<void>, sdp?: string): Promise<CallResult> {
    return this.ua.call({
      hop: this.hop(edgePort),
      requestUri: `sip:${number}@127.0.0.1:${edgePort}`,
      from: `sip:301@127.0.0.1:${this.port}`,
      to: `sip:${number}@127.0.0.1`,
      sdp: sdp ?? makeOffer({ user: 'carrier', address: '127.0.0.1', srtp: false }),
      ...(whileUp !== undefined ? { whileUp } : {}),
    });
  }

  async stop(): Promise<void> {
    this.ua.close();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
