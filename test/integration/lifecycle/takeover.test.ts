/**
 * Issue 13: a second instance takes over any dialog. The edge keeps no dialog state: its
 * Record-Route entries carry it, HMAC-signed with `edge.routeKeys` (README "No per-dialog state").
 *
 * Two edge processes, A bound on 127.0.0.1 and B on 127.0.0.3, same ports, same certificate, same
 * route keys, same trunk and peer. What stands in for the pair's shared addresses:
 * - inside (VRRP): 127.0.0.2 on the edges' inside port is a small UDP relay in this file. Both
 *   edges advertise it in Via and Record-Route (`listen[].advertise: 127.0.0.2`), as they would a
 *   VRRP address. The relay forwards to A until A dies, holds what arrives meanwhile, then forwards
 *   to B (the address has moved). The PBX (SIPp, test/fixtures/sipp/uac-reinvite.xml) only ever
 *   talks to 127.0.0.2.
 * - outside (DNS): the Record-Route entry facing the vendor names `edge.name` (the certificate's
 *   name, shared) and the shared port; the lb stand-in connects to B's address with SNI = edge name,
 *   as it would after DNS for the edge name pointed at B.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateLabPki, type LabPki } from '../../../src/tls/lab-pki.js';
import type { SipMessage } from '../../../src/message/message.js';
import { parseMessage } from '../../../src/message/parse-message.js';
import { StreamFramer } from '../../../src/message/stream-framer.js';
import { EdgeProcess } from '../../helpers/edge-process.js';
import { StandInLb, type LbScript } from '../../helpers/failover-lb.js';
import { IT_REGION, LB_HOSTS, labFiles } from '../../helpers/lab-region.js';
import { freeUdpPort, runSipp } from '../../helpers/sipp.js';
import { crlf, request, responseTo, token, UdpPeer } from '../../hardening/relay-sip.js';

const A_ADDR = '127.0.0.1';
const B_ADDR = '127.0.0.3';
/** Stands in for the VRRP address on the inside. */
const VIP = '127.0.0.2';
const KEYS = ['takeover-test-route-key-0123456789'];
const LB = LB_HOSTS[0]!;
const NUMBER = '4969123456789';

let dir: string;
let pki: LabPki;
let lb: StandInLb;
const edges: EdgeProcess[] = [];
const closers: (() => unknown)[] = [];

/** 18x/200 to an initial INVITE, 200 alone to a re-INVITE (To already tagged). */
const ANSWER_AND_REINVITE: LbScript = {
  onInvite: (c) => {
    if (!/;\s*tag=/i.test(c.invite.get('to') ?? '')) c.respond(180);
    c.respond(200);
  },
};

/** A port free for `kind` on both addresses (bound on both and released; the edges bind it next). */
async function portFreeOnBoth(kind: 'udp' | 'tcp'): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = kind === 'udp' ? await freeUdpPort() : await freeTcp(A_ADDR, 0);
    const ok = kind === 'udp' ? await udpFree(B_ADDR, port) && await udpFree(VIP, port) : (await freeTcp(B_ADDR, port)) === port;
    if (ok) return port;
  }
  throw new Error(`no ${kind} port free on ${A_ADDR}, ${B_ADDR} and ${VIP}`);
}

function udpFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); resolve(false); });
    s.bind(port, address, () => s.close(() => resolve(true)));
  });
}

function freeTcp(address: string, port: number): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(-1));
    srv.listen(port, address, () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

/**
 * The VRRP address: UDP on VIP:port relayed to the current owner's inside listener. The upstream
 * socket is on 127.0.0.1 (the PBX's address, so the edge's `sources` accept it); answers go back
 * to whoever last sent to the VIP. `owner = null`: the address is between instances, held.
 */
class VipRelay {
  private client: { address: string; port: number } | null = null;
  private held: Buffer[] = [];
  owner: string | null;
  /** Called with each datagram from the PBX after it was relayed (or held). */
  onRequest: (m: SipMessage) => void = () => undefined;

  private constructor(private readonly front: UdpSocket, private readonly back: UdpSocket, private readonly port: number, owner: string) {
    this.owner = owner;
    front.on('message', (data, rinfo) => {
      this.client = { address: rinfo.address, port: rinfo.port };
      if (this.owner === null) this.held.push(data);
      else back.send(data, this.port, this.owner);
      const r = parseMessage(data, { framing: 'udp' });
      if (r.ok && r.value.isRequest) this.onRequest(r.value);
    });
    back.on('message', (data) => { if (this.client !== null) front.send(data, this.client.port, this.client.address); });
  }

  static async open(port: number, owner: string): Promise<VipRelay> {
    const bind = (s: UdpSocket, p: number, a: string): Promise<void> => new Promise((resolve, reject) => { s.once('error', reject); s.bind(p, a, () => resolve()); });
    const front = createSocket('udp4');
    const back = createSocket('udp4');
    await bind(front, port, VIP);
    await bind(back, 0, '127.0.0.1');
    return new VipRelay(front, back, port, owner);
  }

  /** The address moves to `owner`: what was held goes there, in order. */
  moveTo(owner: string): void {
    this.owner = owner;
    for (const d of this.held.splice(0)) this.back.send(d, this.port, owner);
  }

  close(): void {
    this.front.close();
    this.back.close();
  }
}

function edgeYaml(bind: string, insidePort: number, outsidePort: number, pbxPort: number): string {
  const f = labFiles(pki);
  const q = (s: string): string => JSON.stringify(s);
  return `edge:
  name: ${f.edgeName}
  drainTimeoutSeconds: 0
  routeKeys: { keys: [${KEYS.map(q).join(', ')}] }
listen:
  - { side: outside, transport: tls, address: ${bind}, port: ${outsidePort} }
  - { side: inside, transport: udp, address: ${bind}, port: ${insidePort}, advertise: ${VIP} }
tls:
  handshakeTimeoutMs: 2000
  revocation: soft
  crlFiles: [${f.crls.map(q).join(', ')}]
  identities:
    - { cert: ${q(f.edgeChain)}, key: ${q(f.edgeKey)} }
timers: { T1: 100, T2: 1000, T4: 1000, timerC: 181000 }
dns:
  overrides:
    ${LB}: [127.0.0.1]
trunks:
  - name: main
    region: ${IT_REGION.code}
    mode: dnis
    hosts:
      - { host: ${LB}, port: ${lb.port} }
    trust: { files: [${f.roots.map(q).join(', ')}] }
    health: { enabled: false }
peers:
  - { name: pbx, host: 127.0.0.1, port: ${pbxPort}, transport: udp, sources: [127.0.0.1/32] }
routing:
  defaultTrunk: main
  defaultPeer: pbx
  vendorSources: [127.0.0.1/32]
srtp: { policy: strict }
admin: { enabled: false }
logging: { level: debug }
`;
}

async function start(yaml: string): Promise<EdgeProcess> {
  const e = await EdgeProcess.start(yaml);
  edges.push(e);
  return e;
}

/** Any line of `e` naming the Call-ID: at debug every SIP message in and out is traced (keys redacted). */
function mentions(e: EdgeProcess, callId: string): boolean {
  return e.logs.some((l) => JSON.stringify(l).includes(callId));
}

/** SIP messages `e` received (debug trace) of the Call-ID whose CSeq is `cseq`. */
function received(e: EdgeProcess, callId: string, cseq: RegExp): number {
  return e.logs.filter((l) => l.event === 'sip' && l['dir'] === 'in' && typeof l['sip'] === 'string' && l['sip'].includes(callId) && cseq.test(l['sip'])).length;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sips-edge-takeover-'));
  pki = generateLabPki({ outDir: join(dir, 'pki'), regions: [IT_REGION.code] });
  lb = await StandInLb.start(LB, pki, { recordRoute: true });
  lb.script = ANSWER_AND_REINVITE;
});

after(async () => {
  for (const e of edges) await e.stop();
  for (const c of closers) await c();
  await lb?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a call set up through A is re-INVITEd and hung up through B after A exits; a tampered Route through B is refused', async () => {
  const insidePort = await portFreeOnBoth('udp');
  const outsidePort = await portFreeOnBoth('tcp');
  const pbxPort = await freeUdpPort();
  const a = await start(edgeYaml(A_ADDR, insidePort, outsidePort, pbxPort));
  // B runs as the standby from the start: a fresh process the call never reaches until takeover.
  const b = await start(edgeYaml(B_ADDR, insidePort, outsidePort, pbxPort));
  const vip = await VipRelay.open(insidePort, A_ADDR);
  closers.push(() => vip.close());

  // The PBX's first ACK (CSeq 1) went to A: the call is up. A then fails; the address is held.
  let established!: () => void;
  const up = new Promise<void>((resolve) => { established = resolve; });
  vip.onRequest = (m) => {
    if (m.method === 'ACK' && m.cseq().seq === 1 && vip.owner === A_ADDR) {
      vip.owner = null;
      established();
    }
  };
  const sipp = runSipp({ scenario: 'uac-reinvite.xml', remote: `${VIP}:${insidePort}`, port: pbxPort, service: NUMBER, timeoutSeconds: 40 });
  closers.push(() => sipp.kill());
  await up;
  await lb.until('the ACK of the call through A', () => lb.acks.length >= 1);
  const callId = lb.invites[0]!.callId();
  await a.line('the INVITE transaction through A', (l) => l.event === 'transaction' && l['callId'] === callId && l['method'] === 'INVITE' && l['status'] === 200);
  assert.equal(await a.stop('SIGTERM'), 0, 'A exits cleanly on SIGTERM');

  // B has never seen the dialog: no line of it mentions the Call-ID.
  assert.equal(mentions(b, callId), false, 'B is fresh');
  const rr = lb.invites[0]!.values('record-route');
  assert.equal(rr.length, 2, 'double Record-Route (RFC 5658)');
  assert.match(rr[0]!, new RegExp(`^<sip:${pki.edge.host.replace(/\./g, '\\.')}:${outsidePort};transport=tls;.*se=o.*;sg=`), 'outside entry: edge name, shared port');
  assert.match(rr[1]!, new RegExp(`^<sip:${VIP.replace(/\./g, '\\.')}:${insidePort};transport=udp;.*se=i.*;sg=`), 'inside entry: the VRRP address');

  vip.moveTo(B_ADDR);
  const res = await sipp.done;
  assert.equal(res.code, 0, `SIPp (re-INVITE 200, BYE 200 through B):\n${res.stdout}\n${res.stderr}\n${res.traces}`);
  assert.equal(lb.count(lb.invites, callId), 2, 'the far end got the INVITE and the re-INVITE');
  assert.equal(lb.count(lb.byes, callId), 1, 'the far end got the BYE');
  assert.ok(lb.invites[1]!.get('to')!.includes(';tag='), 'the second INVITE is in-dialog');
  // B routed both by the signed route set alone.
  for (const method of ['INVITE', 'BYE']) {
    const line = await b.line(`${method} transaction through B`, (l) => l.event === 'transaction' && l['callId'] === callId && l['method'] === method);
    assert.equal(line['status'], 200, method);
    assert.equal(line['route'], 'dialog', `${method} routed by the dialog's Route set`);
  }
  assert.ok(received(b, callId, /CSeq: 2 INVITE/) >= 1 && received(b, callId, /CSeq: 3 BYE/) >= 1, 'B received the re-INVITE and the BYE from the PBX');
  assert.equal(received(a, callId, /CSeq: (2 INVITE|3 BYE)/), 0, 'A never saw them');

  // The takeover is no open relay: the same route set with one signature character changed.
  const pbx = await UdpPeer.open();
  closers.push(() => pbx.close());
  const routes = [...rr].reverse().map((r, i) => (i === 1 ? r.replace(/sg=(.)/, (_m, c: string) => `sg=${c === 'A' ? 'B' : 'A'}`) : r));
  const forged = request({
    method: 'BYE', ruri: `sip:lb@${LB}:${lb.port};transport=tls`, routes,
    via: `SIP/2.0/UDP 127.0.0.1:${pbx.port};branch=z9hG4bK${token()};rport`, from: lb.invites[0]!.get('from')!,
    to: `${lb.invites[0]!.get('to')!};tag=${token()}`, callId: `${token()}@takeover.test`, cseq: 7,
  });
  pbx.send(forged, insidePort, B_ADDR);
  const refused = (await pbx.next('final response to the forged BYE', (r) => !r.msg.isRequest && r.msg.status >= 200)).msg;
  assert.equal(refused.status, 403);
  assert.match(refused.get('warning') ?? '', /SIPS_ERR_PROXY_ROUTE_FORGED/);
  assert.equal(lb.byes.length, 1, 'nothing more reached the far end');
});

test('the far end hangs up through B: BYE to the edge name at B\'s address reaches the PBX', async () => {
  const insidePort = await portFreeOnBoth('udp');
  const outsidePort = await portFreeOnBoth('tcp');
  const pbx = await UdpPeer.open();
  closers.push(() => pbx.close());
  const a = await start(edgeYaml(A_ADDR, insidePort, outsidePort, pbx.port));
  const b = await start(edgeYaml(B_ADDR, insidePort, outsidePort, pbx.port));

  // A call through A, made by hand (the PBX at 127.0.0.1:pbx.port).
  const callId = `${token()}@takeover.test`;
  const from = `<sip:201@127.0.0.1:${pbx.port}>;tag=${token()}`;
  pbx.send(crlf([
    `INVITE sip:${NUMBER}@${VIP}:${insidePort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${pbx.port};branch=z9hG4bK${token()};rport`, 'Max-Forwards: 70',
    `From: ${from}`, `To: <sip:${NUMBER}@${VIP}>`, `Call-ID: ${callId}`, 'CSeq: 1 INVITE', `Contact: <sip:201@127.0.0.1:${pbx.port}>`, 'Content-Type: application/sdp',
  ], SDP_OFFER), insidePort, A_ADDR);
  const ok = (await pbx.next('200 to the INVITE', (r) => !r.msg.isRequest && r.msg.status === 200 && r.msg.callId() === callId)).msg;
  await a.stop('SIGTERM');
  assert.equal(mentions(b, callId), false, 'B is fresh');

  // The far end's route set: the Record-Route of the INVITE as it got it, in order (§12.1.2).
  const inv = lb.invites.find((m) => m.callId() === callId)!;
  const conn = tls.connect({ host: B_ADDR, port: outsidePort, servername: pki.edge.host, ca: labFiles(pki).roots.map((f) => readFileSync(f, 'utf8')) });
  closers.push(() => conn.destroy());
  await new Promise<void>((resolve, reject) => { conn.once('secureConnect', () => resolve()); conn.once('error', reject); });
  assert.equal(conn.authorized, true, `B presents the edge name's certificate: ${String(conn.authorizationError)}`);
  const got: SipMessage[] = [];
  const framer = new StreamFramer({
    onMessage: (d) => { const r = parseMessage(Buffer.from(d), { framing: 'stream' }); if (r.ok) got.push(r.value); },
    onKeepAlive: () => undefined,
    onError: () => conn.destroy(),
  });
  conn.on('data', (d: Buffer) => framer.push(d));
  const toTag = /;tag=([^;>\s]+)/.exec(ok.get('to')!)![1]!;
  conn.write(request({
    method: 'BYE', ruri: `sip:201@127.0.0.1:${pbx.port}`, routes: inv.values('record-route'),
    via: `SIP/2.0/TLS ${LB}:${lb.port};branch=z9hG4bK${token()}`, from: `${inv.get('to')!};tag=${toTag}`, to: from, callId, cseq: 9,
  }));
  const bye = await pbx.next('BYE from the far end', (r) => r.msg.isRequest && r.msg.method === 'BYE' && r.msg.callId() === callId);
  assert.equal(bye.from.address, B_ADDR, 'relayed by B');
  pbx.send(responseTo(bye.msg, 200, 'OK', null), bye.from.port, bye.from.address);
  await waitFor('200 to the BYE at the far end', () => got.some((m) => !m.isRequest && m.status === 200 && m.callId() === callId && m.cseq().method === 'BYE'));
  const line = await b.line('BYE transaction through B', (l) => l.event === 'transaction' && l['callId'] === callId && l['method'] === 'BYE');
  assert.equal(line['route'], 'dialog');
});

const SDP_OFFER = [
  'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/SAVP 0',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz', 'a=rtpmap:0 PCMU/8000', '',
].join('\r\n');

/** Bounded wait for a condition on messages collected by a socket handler. */
async function waitFor(what: string, pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
