/**
 * Raw SIP over real sockets for the relay hardening tests: a UDP endpoint that collects what it
 * receives, message builders, and a call through the edge made by hand (PBX -> edge -> far end).
 */
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseMessage } from '../../src/message/parse-message.js';
import type { SipMessage } from '../../src/message/message.js';

/** A self-signed leaf (CA:FALSE, the edge refuses a CA as its leaf) for `name`, written into `dir`. */
export function leafCert(dir: string, name: string): { cert: string; key: string } {
  const cert = `${dir}/${name}.cert.pem`;
  const key = `${dir}/${name}.key.pem`;
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
    '-addext', 'basicConstraints=critical,CA:FALSE', '-days', '2', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

export function parse(data: Buffer | string): SipMessage {
  const r = parseMessage(Buffer.isBuffer(data) ? data : Buffer.from(data), { framing: 'udp' });
  if (!r.ok) throw new Error(`unparseable: ${r.error.message}`);
  return r.value;
}

export function token(): string {
  return randomBytes(6).toString('hex');
}

export interface Received {
  readonly msg: SipMessage;
  readonly from: { readonly address: string; readonly port: number };
}

/** A UDP socket on `address`:0 that keeps every SIP message it receives. */
export class UdpPeer {
  readonly received: Received[] = [];
  private waiters: { pred: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];

  private constructor(readonly socket: dgram.Socket, readonly address: string, readonly port: number) {
    socket.on('message', (data, rinfo) => {
      let msg: SipMessage;
      try {
        msg = parse(data);
      } catch {
        return;
      }
      const r = { msg, from: { address: rinfo.address, port: rinfo.port } };
      this.received.push(r);
      this.waiters = this.waiters.filter((w) => (w.pred(r) ? (w.resolve(r), false) : true));
    });
  }

  static async open(address = '127.0.0.1', port = 0): Promise<UdpPeer> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, address, () => resolve());
    });
    return new UdpPeer(s, address, (s.address() as AddressInfo).port);
  }

  send(text: string | Buffer, port: number, address = '127.0.0.1'): void {
    this.socket.send(typeof text === 'string' ? Buffer.from(text) : text, port, address);
  }

  /** The first message matching `pred`, waited for (bounded: a missing message fails the test). */
  next(what: string, pred: (r: Received) => boolean, timeoutMs = 5000): Promise<Received> {
    const hit = this.received.find(pred);
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.address}:${this.port} received no ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ pred, resolve: (r) => { clearTimeout(timer); resolve(r); } });
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** A TCP listener that only counts the connections it gets (the address nobody configured). */
export async function countingTcpServer(address = '127.0.0.1'): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => { count++; sockets.push(s); s.on('error', () => undefined); });
  await new Promise<void>((resolve) => server.listen(0, address, () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

export function crlf(lines: readonly string[], body = ''): string {
  return [...lines, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
}

/** A response to `req` echoing Via, From, To (+tag), Call-ID, CSeq and Record-Route (§8.2.6, §12.1.1). */
export function responseTo(req: SipMessage, status: number, reason: string, toTag: string | null, extra: readonly string[] = []): string {
  const to = req.get('to')!;
  return crlf([
    `SIP/2.0 ${status} ${reason}`,
    ...req.values('via').map((v) => `Via: ${v}`),
    `From: ${req.get('from')!}`,
    `To: ${toTag !== null && !/;tag=/.test(to) ? `${to};tag=${toTag}` : to}`,
    `Call-ID: ${req.callId()}`,
    `CSeq: ${req.get('cseq')!}`,
    ...req.values('record-route').map((v) => `Record-Route: ${v}`),
    ...extra,
  ]);
}

export interface DialogRequestParts {
  readonly method: string;
  readonly ruri: string;
  readonly routes: readonly string[];
  readonly via: string;
  readonly from: string;
  readonly to: string;
  readonly callId: string;
  readonly cseq: number;
}

export function request(p: DialogRequestParts, extra: readonly string[] = []): string {
  return crlf([
    `${p.method} ${p.ruri} SIP/2.0`,
    `Via: ${p.via}`,
    'Max-Forwards: 70',
    ...p.routes.map((r) => `Route: ${r}`),
    `From: ${p.from}`,
    `To: ${p.to}`,
    `Call-ID: ${p.callId}`,
    `CSeq: ${p.cseq} ${p.method}`,
    ...extra,
  ]);
}

/** What a call set up through the edge leaves the caller with: the dialog and its route set. */
export interface Dialog {
  readonly callId: string;
  readonly from: string;
  readonly to: string;
  /** The caller's route set: the 200's Record-Route reversed (§12.1.2). */
  readonly routes: readonly string[];
  /** The far end's Contact (remote target). */
  readonly target: string;
  /** The 200 as the caller got it and as the far end sent it. */
  readonly okAtCaller: SipMessage;
  readonly okSent: string;
  readonly inviteAtFar: SipMessage;
}

/**
 * INVITE from `pbx` to the edge's inside UDP port, answered 200 by `far`, ACKed along the route
 * set. `far` answers to the address the request came from.
 */
export async function callThrough(pbx: UdpPeer, far: UdpPeer, edgeInsidePort: number, number = '+4969123456'): Promise<Dialog> {
  const callId = `${token()}@relay.test`;
  const from = `<sip:201@127.0.0.1:${pbx.port}>;tag=${token()}`;
  const toBare = `<sip:${number}@127.0.0.1:${edgeInsidePort}>`;
  pbx.send(request({
    method: 'INVITE', ruri: `sip:${number}@127.0.0.1:${edgeInsidePort}`, routes: [],
    via: `SIP/2.0/UDP 127.0.0.1:${pbx.port};branch=z9hG4bK${token()};rport`, from, to: toBare, callId, cseq: 1,
  }, [`Contact: <sip:201@127.0.0.1:${pbx.port}>`]), edgeInsidePort);
  const inv = await far.next('INVITE', (r) => r.msg.isRequest && r.msg.method === 'INVITE' && r.msg.callId() === callId);
  const toTag = token();
  const okSent = responseTo(inv.msg, 200, 'OK', toTag, [`Contact: <sip:far@127.0.0.1:${far.port};transport=udp>`]);
  far.send(okSent, inv.from.port, inv.from.address);
  const ok = await pbx.next('200 for the INVITE', (r) => !r.msg.isRequest && r.msg.status === 200 && r.msg.callId() === callId);
  const routes = [...ok.msg.values('record-route')].reverse();
  const dialog: Dialog = {
    callId, from, to: ok.msg.get('to')!, routes, target: `sip:far@127.0.0.1:${far.port};transport=udp`, okAtCaller: ok.msg, okSent, inviteAtFar: inv.msg,
  };
  pbx.send(inDialog(pbx, dialog, 'ACK', 1), edgeInsidePort);
  await far.next('ACK', (r) => r.msg.isRequest && r.msg.method === 'ACK' && r.msg.callId() === callId);
  return dialog;
}

/** An in-dialog request of the caller (`pbx`) along its route set. */
export function inDialog(pbx: UdpPeer, d: Dialog, method: string, cseq: number, routes: readonly string[] = d.routes, ruri = d.target): string {
  return request({
    method, ruri, routes, via: `SIP/2.0/UDP 127.0.0.1:${pbx.port};branch=z9hG4bK${token()};rport`, from: d.from, to: d.to, callId: d.callId, cseq,
  });
}

/** Sends BYE from the caller, has `far` answer it, and resolves with the 200 the caller got. */
export async function byeThrough(pbx: UdpPeer, far: UdpPeer, d: Dialog, edgeInsidePort: number, cseq = 2): Promise<SipMessage> {
  pbx.send(inDialog(pbx, d, 'BYE', cseq), edgeInsidePort);
  const bye = await far.next('BYE', (r) => r.msg.isRequest && r.msg.method === 'BYE' && r.msg.callId() === d.callId && r.msg.cseq().seq === cseq);
  far.send(responseTo(bye.msg, 200, 'OK', null), bye.from.port, bye.from.address);
  const ok = await pbx.next('200 for the BYE', (r) => !r.msg.isRequest && r.msg.status === 200 && r.msg.callId() === d.callId && r.msg.cseq().method === 'BYE' && r.msg.cseq().seq === cseq);
  return ok.msg;
}

export interface RelayConfigOptions {
  readonly farPort: number;
  readonly insidePort?: number;
  readonly outsidePort?: number;
  readonly keys?: readonly string[];
  /** cert/key files: adds an outside TLS listener (and, with insideTls, an inside one). */
  readonly tls?: { readonly cert: string; readonly key: string; readonly insideName?: string; readonly insideCert?: string; readonly insideKey?: string };
  readonly extra?: string;
  readonly routing?: string;
  /** Port of the `pbx` peer on 127.0.0.1 (calls from the vendor side go there). */
  readonly pbxPort?: number;
}

/** The edge between a PBX on 127.0.0.1 (inside, UDP) and one far end over UDP standing in for the trunk. */
export function relayConfig(o: RelayConfigOptions): string {
  const tlsListeners = o.tls === undefined ? '' : [
    '  - { side: outside, transport: tls, address: 127.0.0.1, port: 0 }',
    ...(o.tls.insideName !== undefined ? ['  - { side: inside, transport: tls, address: 127.0.0.1, port: 0 }'] : []),
  ].join('\n') + '\n';
  const tlsSection = o.tls === undefined ? '' : `tls:
  identities:
    - { cert: ${o.tls.cert}, key: ${o.tls.key} }
${o.tls.insideName !== undefined ? `    - { cert: ${o.tls.insideCert}, key: ${o.tls.insideKey}, names: [${o.tls.insideName}] }\n` : ''}`;
  return `edge:
  name: edge.test.sips-edge.test
${o.keys !== undefined ? `  routeKeys: { keys: [${o.keys.map((k) => JSON.stringify(k)).join(', ')}] }\n` : ''}listen:
  - { side: inside, transport: udp, address: 127.0.0.1, port: ${o.insidePort ?? 0} }
  - { side: outside, transport: udp, address: 127.0.0.1, port: ${o.outsidePort ?? 0} }
${tlsListeners}${tlsSection}timers: { T1: 100, T2: 1000, T4: 1000, timerC: 181000 }
trunks:
  - name: far
    hosts:
      - { host: far1.lab.test, port: ${o.farPort} }
    transport: udp
    insecure: true
    mode: dnis
    failover: 0
    health: { enabled: false }
peers:
  - name: pbx
    host: 127.0.0.1
    port: ${o.pbxPort ?? 5090}
    sources: [127.0.0.1/32]
    trunk: far
routing:
  defaultTrunk: far
  defaultPeer: pbx
  vendorSources: [127.0.0.1/32]
${o.routing ?? ''}dns:
  overrides:
    far1.lab.test: [127.0.0.1]
srtp:
  policy: audit
admin:
  enabled: false
${o.extra ?? ''}`;
}
