/**
 * The simulated vendor region: lb01..lb04.voice.<region>.pure.cloud as TLS SIP servers on loopback,
 * each enforcing what the spec says the vendor enforces, and able to call the edge's outside
 * listener (inbound from the vendor).
 *
 * Per lb host: the trunk TLS policy (S-TLS-1/3/5: TLS 1.2, the cipher list, secp384r1; S-CON-2: no
 * client certificate) with that host's lab leaf + intermediate (S-TRUST-5); the Request-URI form of
 * a mode (S-URI-3..5: TGRP = tgrp + trunk-context user params and this proxy's own name as host;
 * DNIS = number @ this proxy's name; FQDN = number @ <fqdn>.<byoc domain>), else 404; SRTP in the
 * offer (S-MEDIA-1), else 488 + Warning; OPTIONS 200. A good call: 180, 200 with an SRTP answer.
 *
 * Calls to the numbers in `mediaNumbers` (and inbound calls placed with `media: true`) carry real
 * SRTP media (openVendorMedia, src/lab/media/): the answer's key is the region's own, the key it
 * decrypts with is the one in the offer the edge (rtpengine) wrote. Other calls keep placeholder SDP.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { parseMessage } from '../message/parse-message.js';
import { StreamFramer } from '../message/stream-framer.js';
import { parseUri, SipUri } from '../message/uri.js';
import type { SipMessage } from '../message/message.js';
import { checkOffer } from '../sdp/srtp-policy.js';
import { buildServerOptions, IdentitySet } from '../tls/secure-context.js';
import type { TlsPolicy } from '../tls/policy.js';
import { RevocationChecker } from '../tls/revocation.js';
import { loadTrustAnchors } from '../tls/trust-store.js';
import { connectTls, guardTlsServer } from '../tls/verify.js';
import type { CallMedia } from './media/call-media.js';
import { answerWhenHeard, mediaExchange } from './media/exchange.js';
import { openVendorMedia } from './media/srtp-vendor.js';
import { makeAnswer, makeOffer } from './lab-sdp.js';
import { LabUa, type CallResult, type Hop, type InviteDecision } from './lab-ua.js';

/** What the simulated vendor knows about the customer's trunks (its side of the trunk configuration). */
export interface RegionSpec {
  readonly code: string;
  readonly hosts: readonly string[];
  /** TGRP: the trunk-context the region expects (its BYOC domain). */
  readonly trunkContext: string;
  /** TGRP: trunk group labels configured on the vendor side. */
  readonly trunkGroups: readonly string[];
  /** FQDN: full Request-URI hosts `<fqdn>.<byoc domain>` configured on the vendor side. */
  readonly fqdnHosts: readonly string[];
}

export interface LbInvite {
  readonly host: string;
  readonly callId: string;
  readonly requestUri: string;
  readonly mode: 'TGRP' | 'DNIS' | 'FQDN' | '?';
  /** SNI the client sent (the name it validates, RFC 5922). */
  readonly servername: string | null;
  readonly cipher: string;
  readonly protocol: string;
  readonly status: number;
  readonly warning: string | null;
  /** The accepted crypto line (`tag suite`) of the answer. */
  readonly answered: string | null;
}

export interface InboundCall {
  readonly host: string;
  readonly tls: { readonly ok: true; readonly cipher: string; readonly matchedName: string; readonly revocation: string } | { readonly ok: false; readonly reason: string; readonly detail: string };
  readonly result: CallResult | null;
  readonly callId: string | null;
  readonly offer: string;
  /** `media: true`: the call's SRTP media and why the 2xx answer was not usable (null: it was). */
  readonly media: CallMedia | null;
  readonly mediaError: string | null;
}

export interface RegionHostFiles {
  readonly chain: string;
  readonly key: string;
}

export interface RegionOptions {
  readonly spec: RegionSpec;
  /** Certificate files per lb host name. */
  readonly files: (host: string) => RegionHostFiles;
  readonly policy: TlsPolicy;
  readonly address: string;
  /** One port per host, in spec.hosts order (0 = any free port). */
  readonly ports: readonly number[];
  readonly t1Ms: number;
  /** Roots and CRLs the region validates the edge's certificate with. */
  readonly edgeTrust: { readonly roots: readonly string[]; readonly crlFiles: readonly string[] };
}

interface LbHost {
  readonly name: string;
  readonly server: Server;
  readonly port: number;
  readonly ua: LabUa;
  readonly sockets: Set<TLSSocket>;
  /**
   * Every accepted TCP connection, its TLS handshake done or not: stop() ends them all, because
   * `server.close()` waits for each, and one whose handshake completed after the TLS sockets were
   * destroyed kept a stopped host's close waiting for the edge's idle timeout.
   */
  readonly connections: Set<Socket>;
}

/** Reads SIP messages off one TLS socket into a UA. */
const socketOf = new WeakMap<Hop, TLSSocket>();

function attach(socket: TLSSocket, ua: LabUa, label: string): Hop {
  const hop: Hop = {
    reliable: true,
    label,
    send: (data) => {
      if (!socket.destroyed) socket.write(data); // one write per message (architecture: one TLS record)
    },
  };
  const framer = new StreamFramer({
    onMessage: (buf) => {
      const r = parseMessage(buf, { framing: 'stream' });
      if (r.ok) ua.receive(r.value, hop);
    },
    onKeepAlive: (kind) => {
      if (kind === 'ping') socket.write('\r\n'); // RFC 5626 §3.5.1 pong
    },
    onError: () => socket.destroy(),
  });
  socket.on('data', (d: Buffer) => framer.push(d));
  socket.on('error', () => undefined);
  socketOf.set(hop, socket);
  return hop;
}

/** S-URI-3..5 as the vendor applies them: which mode the Request-URI is in, or why it is refused (404). */
export function judgeRequestUri(text: string, self: string, spec: RegionSpec): { ok: true; mode: 'TGRP' | 'DNIS' | 'FQDN' } | { ok: false; warning: string } {
  let uri;
  try {
    uri = parseUri(text);
  } catch {
    return { ok: false, warning: 'unparsable Request-URI' };
  }
  if (!(uri instanceof SipUri)) return { ok: false, warning: `scheme ${uri.scheme} not served` };
  if (uri.scheme === 'sip' && uri.transport !== 'tls') return { ok: false, warning: 'secure trunk: the Request-URI needs transport=tls (S-URI-2)' };
  const host = uri.host.toLowerCase();
  const number = uri.userNumber ?? '';
  if (!/^\+?\d{3,15}$/.test(number)) return { ok: false, warning: `no number in the user part: ${JSON.stringify(number)}` };
  const tgrp = uri.userParam('tgrp');
  if (tgrp !== undefined) {
    if (host !== self) return { ok: false, warning: `TGRP: host ${host} is not this proxy (${self})` };
    const ctx = uri.userParam('trunk-context');
    if (ctx !== spec.trunkContext) return { ok: false, warning: `TGRP: trunk-context ${String(ctx)} is not ${spec.trunkContext}` };
    if (tgrp === null || !spec.trunkGroups.includes(tgrp)) return { ok: false, warning: `TGRP: unknown trunk group ${String(tgrp)}` };
    return { ok: true, mode: 'TGRP' };
  }
  if (host === self) return { ok: true, mode: 'DNIS' };
  if (spec.fqdnHosts.includes(host)) return { ok: true, mode: 'FQDN' };
  return { ok: false, warning: `host ${host} is neither this proxy nor a known BYOC FQDN` };
}

export class SimulatedRegion {
  readonly invites = new Map<string, LbInvite>();
  /** Called numbers the region answers with real SRTP media. */
  readonly mediaNumbers = new Set<string>();
  /** The media of the calls it answered with real SRTP, by Call-ID. */
  readonly media = new Map<string, CallMedia>();
  private readonly opened: CallMedia[] = [];
  private constructor(private readonly o: RegionOptions, private readonly lbs: readonly LbHost[]) {}

  get hosts(): readonly { readonly name: string; readonly port: number }[] {
    return this.lbs.map((l) => ({ name: l.name, port: l.port }));
  }

  static async start(o: RegionOptions): Promise<SimulatedRegion> {
    const lbs: LbHost[] = [];
    const region = new SimulatedRegion(o, lbs);
    try {
      for (const [i, name] of o.spec.hosts.entries()) {
        const files = o.files(name);
        const identities = IdentitySet.load([{ names: [name], certFile: files.chain, keyFile: files.key, default: true }], o.policy);
        const server = createServer(buildServerOptions(identities, o.policy));
        const sockets = new Set<TLSSocket>();
        const connections = new Set<Socket>();
        let ua: LabUa | null = null;
        server.on('connection', (raw: Socket) => {
          connections.add(raw);
          raw.once('close', () => connections.delete(raw));
        });
        server.on('secureConnection', (socket) => {
          if (ua === null) return void socket.destroy();
          sockets.add(socket);
          socket.once('close', () => sockets.delete(socket));
          attach(socket, ua, `${name} <- ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`);
        });
        guardTlsServer(server); // a refused handshake is the client's problem; close its socket
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(o.ports[i] ?? 0, o.address, () => {
            server.off('error', reject);
            resolve();
          });
        });
        const port = (server.address() as AddressInfo).port;
        const lbUa: LabUa = new LabUa({
          sentBy: `${name}:${port}`,
          viaTransport: 'TLS',
          agent: name,
          t1Ms: o.t1Ms,
          onInvite: (req, hop) => region.onInvite(lb, req, hop),
        });
        ua = lbUa;
        const lb: LbHost = { name, server, port, sockets, connections, ua: lbUa };
        lbs.push(lb);
      }
    } catch (e) {
      await region.stop();
      throw e;
    }
    return region;
  }

  private async openMedia(lb: LbHost): Promise<CallMedia> {
    const m = await openVendorMedia({ user: lb.name.split('.')[0] ?? 'lb', address: this.o.address });
    this.opened.push(m);
    return m;
  }

  private async onInvite(lb: LbHost, req: SipMessage, hop: Hop): Promise<InviteDecision> {
    const socket = socketOf.get(hop);
    const record = (status: number, mode: LbInvite['mode'], warning: string | null, answered: string | null): void => {
      this.invites.set(req.callId(), {
        host: lb.name,
        callId: req.callId(),
        requestUri: req.requestUriText,
        mode,
        servername: socket && typeof socket.servername === 'string' ? socket.servername : null,
        cipher: socket?.getCipher().name ?? '?',
        protocol: socket?.getProtocol() ?? '?',
        status,
        warning,
        answered,
      });
    };
    const uri = judgeRequestUri(req.requestUriText, lb.name, this.o.spec);
    if (!uri.ok) {
      record(404, '?', uri.warning, null);
      return { status: 404, warning: uri.warning };
    }
    const ct = (req.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    const verdict = ct === 'application/sdp' ? checkOffer(req.body) : null;
    if (verdict === null || !verdict.ok) {
      const warning = verdict === null ? 'no SDP offer (S-MEDIA-1: SRTP required)' : `${verdict.code}: ${verdict.message}`;
      record(488, uri.mode, warning, null);
      return { status: 488, warning };
    }
    const number = (() => {
      try {
        const u = parseUri(req.requestUriText);
        return u instanceof SipUri ? u.userNumber ?? '' : '';
      } catch {
        return '';
      }
    })();
    if (this.mediaNumbers.has(number)) {
      const media = await this.openMedia(lb);
      const sdp = media.answer(req.body.toString('latin1'));
      if (sdp === null) {
        const warning = `offer not usable for SRTP media: ${media.refusal ?? '?'}`;
        record(488, uri.mode, warning, null);
        return { status: 488, warning };
      }
      const chosen = /^a=crypto:(\d+ \S+)/m.exec(sdp)?.[1] ?? null;
      record(200, uri.mode, null, chosen);
      this.media.set(req.callId(), media);
      answerWhenHeard(media);
      return { status: 200, sdp };
    }
    const answer = makeAnswer(req.body.toString('latin1'), { user: lb.name.split('.')[0] ?? 'lb', address: this.o.address });
    record(200, uri.mode, null, answer.chosen.join(', '));
    return { status: 200, sdp: answer.sdp };
  }

  /**
   * lbNN calls the edge's outside listener: TLS with the trunk policy, the edge's certificate
   * validated against the lab roots and its name (RFC 5922, via the edge's own verifyPeer), then
   * INVITE -> ACK -> BYE.
   */
  async callEdge(opts: { readonly via: string; readonly edge: { readonly name: string; readonly address: string; readonly port: number }; readonly number: string; readonly caller: string; readonly srtp: boolean; readonly media?: boolean }): Promise<InboundCall> {
    const lb = this.lbs.find((l) => l.name === opts.via) ?? this.lbs[0];
    if (lb === undefined) throw new Error('the region has no hosts');
    const media = opts.media === true ? await this.openMedia(lb) : null;
    const offer = media !== null ? media.offer() : makeOffer({ user: lb.name.split('.')[0] ?? 'lb', address: this.o.address, srtp: opts.srtp });
    let mediaError: string | null = null;
    const policy = { ...this.o.policy, revocation: 'soft' as const };
    const conn = await connectTls({
      host: opts.edge.name,
      address: opts.edge.address,
      port: opts.edge.port,
      anchors: loadTrustAnchors({ files: this.o.edgeTrust.roots }),
      policy,
      revocation: new RevocationChecker({ mode: 'soft', crlFiles: this.o.edgeTrust.crlFiles }),
    });
    if (!conn.ok) return { host: lb.name, tls: { ok: false, reason: conn.reason, detail: conn.detail }, result: null, callId: null, offer, media, mediaError };
    const socket = conn.socket;
    lb.sockets.add(socket);
    socket.once('close', () => lb.sockets.delete(socket));
    const hop = attach(socket, lb.ua, `${lb.name} -> ${opts.edge.name}`);
    const result = await lb.ua.call({
      hop,
      requestUri: `sip:${opts.number}@${opts.edge.name}:${opts.edge.port};transport=tls`,
      from: `sip:${opts.caller}@${lb.name}`,
      to: `sip:${opts.number}@${opts.edge.name}`,
      sdp: offer,
      ...(media === null ? {} : { whileUp: async (answer: string) => void (mediaError = await mediaExchange(media, answer)) }),
    });
    socket.end();
    return { host: lb.name, tls: { ok: true, cipher: conn.peer.cipher, matchedName: conn.peer.matchedName, revocation: conn.peer.revocation }, result, callId: result.callId, offer, media, mediaError };
  }

  async stop(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((m) => m.close().catch(() => undefined)));
    for (const lb of this.lbs) {
      lb.ua.close();
      for (const s of lb.sockets) s.destroy();
      const closed = new Promise<void>((resolve) => lb.server.close(() => resolve()));
      for (const c of lb.connections) c.destroy();
      await closed;
    }
  }
}
