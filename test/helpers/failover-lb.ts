/**
 * Small stand-ins for failover tests: a scripted lb host (TLS with the lab leaf of its name, or a
 * plain TCP listener that never speaks TLS) and a UDP caller playing the PBX. The lab's simulated
 * region always answers at once; these answer as each test says (100 only, late 2xx, silence,
 * 180 and then a dropped connection).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { buildResponse, newTag } from '../../src/message/build-response.js';
import type { SipMessage } from '../../src/message/message.js';
import { parseMessage } from '../../src/message/parse-message.js';
import { StreamFramer } from '../../src/message/stream-framer.js';
import { makeAnswer, makeOffer } from '../../src/lab/lab-sdp.js';
import type { LabPki } from '../../src/tls/lab-pki.js';
import { resolveTlsPolicy } from '../../src/tls/policy.js';
import { buildServerOptions, IdentitySet } from '../../src/tls/secure-context.js';

/** What a stand-in lb does with one INVITE (OPTIONS always get 200; CANCEL gets 200 + 487 unless `onCancel`). */
export interface LbScript {
  /** Right after the INVITE arrives. */
  onInvite(call: LbCall): void;
  /** When the CANCEL for it arrives; default: 200 to the CANCEL, 487 to the INVITE. */
  onCancel?(call: LbCall): void;
}

export interface LbCall {
  readonly invite: SipMessage;
  /** Sends a response to the INVITE (2xx with `sdp`, by default an SDES answer to the offer). */
  respond(status: number, sdp?: string): void;
  /** 200 to the CANCEL. */
  okCancel(): void;
  /** Destroys the connection the INVITE came on and closes the listener. */
  die(): void;
}

export class StandInLb {
  readonly invites: SipMessage[] = [];
  readonly acks: SipMessage[] = [];
  readonly byes: SipMessage[] = [];
  readonly cancels: SipMessage[] = [];
  private readonly sockets = new Set<net.Socket>();
  private waiters: { pred: () => boolean; resolve: () => void }[] = [];
  script: LbScript = ANSWER;
  private recordRoute = false;

  private constructor(readonly name: string, private readonly server: net.Server) {}

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * `plain`: a TCP listener that never answers TLS (a TCP-only host on the TLS port).
   * `recordRoute`: copy the INVITE's Record-Route into 18x/2xx (RFC 3261 §12.1.1), so the caller
   * learns the edge's route set (in-dialog tests).
   */
  static async start(name: string, pki: LabPki, o: { plain?: boolean; recordRoute?: boolean } = {}): Promise<StandInLb> {
    let lb: StandInLb | null = null;
    const onSocket = (s: net.Socket): void => lb?.attach(s);
    let server: net.Server;
    if (o.plain === true) {
      server = net.createServer(onSocket);
    } else {
      const leaf = pki.vendor[name];
      if (leaf === undefined) throw new Error(`no lab leaf for ${name}`);
      const policy = resolveTlsPolicy({ handshakeTimeoutMs: 2000 });
      const ids = IdentitySet.load([{ names: [name], certFile: leaf.chain, keyFile: leaf.key, default: true }], policy);
      server = tls.createServer(buildServerOptions(ids, policy), onSocket);
      server.on('tlsClientError', (_e, s) => s.destroy());
    }
    lb = new StandInLb(name, server);
    lb.recordRoute = o.recordRoute === true;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return lb;
  }

  private attach(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const framer = new StreamFramer({
      onMessage: (data) => {
        const r = parseMessage(Buffer.from(data), { framing: 'stream' });
        if (r.ok) this.onMessage(r.value, socket);
      },
      onKeepAlive: (kind) => { if (kind === 'ping') socket.write('\r\n'); },
      onError: () => socket.destroy(),
    });
    socket.on('data', (d: Buffer) => framer.push(d));
  }

  private onMessage(m: SipMessage, socket: net.Socket): void {
    if (!m.isRequest) return;
    const send = (res: SipMessage): void => { if (!socket.destroyed) socket.write(res.serialize()); };
    const toTag = newTag();
    switch (m.method) {
      case 'OPTIONS':
        send(buildResponse(m, 200));
        break;
      case 'INVITE': {
        this.invites.push(m);
        const call = this.call(m, send, socket, toTag);
        this.calls.set(m.callId(), call);
        this.script.onInvite(call);
        break;
      }
      case 'CANCEL': {
        this.cancels.push(m);
        const call = this.calls.get(m.callId());
        const cancelOk = (): void => send(buildResponse(m, 200));
        if (call === undefined) return cancelOk();
        (call as { okCancel: () => void }).okCancel = cancelOk;
        if (this.script.onCancel !== undefined) this.script.onCancel(call);
        else {
          cancelOk();
          call.respond(487);
        }
        break;
      }
      case 'ACK':
        this.acks.push(m);
        break;
      case 'BYE':
        this.byes.push(m);
        send(buildResponse(m, 200));
        break;
      default:
        send(buildResponse(m, 200));
    }
    this.notify();
  }

  private readonly calls = new Map<string, LbCall>();

  private call(invite: SipMessage, send: (r: SipMessage) => void, socket: net.Socket, toTag: string): LbCall {
    return {
      invite,
      respond: (status, answer) => {
        // RFC 3261 §12.1.1: a dialog-creating response copies the Record-Route set.
        const rr: [string, string][] = status > 100 && status < 300 ? invite.values('record-route').map((v) => ['Record-Route', v]) : [];
        if (status >= 200 && status < 300) {
          const sdp = answer ?? makeAnswer(invite.body.toString('latin1'), { user: 'lb', address: '127.0.0.1' }).sdp;
          send(buildResponse(invite, status, { toTag, headers: [...rr, ['Contact', `<sip:lb@${this.name}:${this.port};transport=tls>`]], body: Buffer.from(sdp), contentType: 'application/sdp' }));
        } else {
          send(buildResponse(invite, status, { toTag, headers: rr }));
        }
        this.notify();
      },
      okCancel: () => undefined,
      die: () => {
        socket.destroy();
        this.server.close();
      },
    };
  }

  private notify(): void {
    this.waiters = this.waiters.filter((w) => (w.pred() ? (w.resolve(), false) : true));
  }

  /** Resolves once `pred` holds (checked after each message), or rejects after `ms`. */
  until(what: string, pred: () => boolean, ms = 8000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no ${what} within ${ms} ms`)), ms);
      this.waiters.push({ pred, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  /** Messages of one kind for a Call-ID. */
  count(list: readonly SipMessage[], callId: string): number {
    return list.filter((m) => m.callId() === callId).length;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A healthy host: 180, then 200 with an SRTP answer. */
export const ANSWER: LbScript = { onInvite: (c) => { c.respond(180); c.respond(200); } };

/** The PBX: INVITEs over UDP to the edge's inside listener, responses collected per Call-ID. */
export class UdpCaller {
  private readonly responses = new Map<string, SipMessage[]>();
  private waiters: { pred: () => boolean; resolve: () => void }[] = [];
  private seq = 0;

  private constructor(private readonly sock: UdpSocket, private readonly edgePort: number) {
    sock.on('message', (data) => {
      const r = parseMessage(data, { framing: 'udp' });
      if (!r.ok || r.value.isRequest) return;
      const id = r.value.callId();
      const list = this.responses.get(id) ?? [];
      list.push(r.value);
      this.responses.set(id, list);
      this.waiters = this.waiters.filter((w) => (w.pred() ? (w.resolve(), false) : true));
    });
  }

  static async start(edgePort: number): Promise<UdpCaller> {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    return new UdpCaller(sock, edgePort);
  }

  get port(): number {
    return this.sock.address().port;
  }

  private readonly sent = new Map<string, { ruri: string; via: string; from: string; to: string }>();

  /** Sends one INVITE with an SRTP offer for `number`; returns its Call-ID. */
  invite(number: string): string {
    const n = ++this.seq;
    const callId = `fo-${n}-${newTag()}@127.0.0.1`;
    const sdp = makeOffer({ user: 'pbx', address: '127.0.0.1', srtp: true });
    const ruri = `sip:${number}@127.0.0.1:${this.edgePort}`;
    const via = `SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK-fo-${n}-${newTag()};rport`;
    const from = `<sip:pbx@127.0.0.1>;tag=${newTag()}`;
    const to = `<sip:${number}@127.0.0.1>`;
    this.sent.set(callId, { ruri, via, from, to });
    const msg = [
      `INVITE ${ruri} SIP/2.0`,
      `Via: ${via}`,
      'Max-Forwards: 70',
      `From: ${from}`,
      `To: ${to}`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:pbx@127.0.0.1:${this.port}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(sdp)}`,
      '',
      sdp,
    ].join('\r\n');
    this.sock.send(msg, this.edgePort, '127.0.0.1');
    return callId;
  }

  /** RFC 3261 §9.1: CANCEL of an INVITE sent by `invite` (same Request-URI, Via, From, To, CSeq number). */
  cancel(callId: string): void {
    const i = this.sent.get(callId);
    if (i === undefined) throw new Error(`no INVITE ${callId}`);
    const msg = [`CANCEL ${i.ruri} SIP/2.0`, `Via: ${i.via}`, 'Max-Forwards: 70', `From: ${i.from}`, `To: ${i.to}`, `Call-ID: ${callId}`, 'CSeq: 1 CANCEL', 'Content-Length: 0', '', ''].join('\r\n');
    this.sock.send(msg, this.edgePort, '127.0.0.1');
  }

  /** Resolves once a response with `status` arrived for the Call-ID (bounded wait). */
  async saw(callId: string, status: number, ms = 8000): Promise<void> {
    const has = (): boolean => (this.responses.get(callId) ?? []).some((r) => r.status === status);
    if (has()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${status} for ${callId} within ${ms} ms`)), ms);
      this.waiters.push({ pred: has, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  /** The first final response to the INVITE of the Call-ID (bounded wait). */
  async final(callId: string, ms = 15_000): Promise<SipMessage> {
    const find = (): SipMessage | undefined => (this.responses.get(callId) ?? []).find((r) => r.status >= 200 && r.cseq().method === 'INVITE');
    if (find() === undefined) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no final response for ${callId} within ${ms} ms`)), ms);
        this.waiters.push({ pred: () => find() !== undefined, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    }
    return find()!;
  }

  all(callId: string): readonly SipMessage[] {
    return this.responses.get(callId) ?? [];
  }

  close(): void {
    this.sock.close();
  }
}
