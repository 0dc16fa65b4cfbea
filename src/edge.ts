/**
 * The composition root: config -> TLS -> transport -> transactions -> proxy <- routing, with
 * observability fed through the seams. The only module that imports every layer.
 */
import type tls from 'node:tls';
import { systemClock, type Clock } from './clock.js';
import type { EdgeConfig } from './config/schema.js';
import { rawErrorResponse } from './message/raw-error-response.js';
import { formatVia, receivedVia } from './message/headers.js';
import { parseMessage, type ParseOptions } from './message/parse-message.js';
import { LogRateLimiter } from './observability/log-rate.js';
import { Admission } from './proxy/admission.js';
import { ProxyIdentity, type Leg } from './proxy/identity.js';
import type { ProxyObserver } from './proxy/deps.js';
import { ProxyCore } from './proxy/proxy-core.js';
import { loadRouteSigner } from './proxy/route-keys.js';
import type { RouteSigner } from './proxy/route-signature.js';
import { SrtpGate } from './proxy/srtp-gate.js';
import type { Router } from './proxy/types.js';
import { createSrtpPolicy } from './sdp/srtp-policy.js';
import { buildClientOptions, buildServerOptions, IdentitySet } from './tls/secure-context.js';
import { resolveTlsPolicy, type TlsPolicy } from './tls/policy.js';
import { RevocationChecker, type RevocationEvent } from './tls/revocation.js';
import { loadTrustAnchors, type TrustAnchors } from './tls/trust-store.js';
import { classifyTlsError, verifyPeer, type VerifyResult } from './tls/verify.js';
import { TransactionLayer } from './transaction/transaction-layer.js';
import type { Destination, Source } from './transaction/types.js';
import { Transport } from './transport/transport.js';
import type { Endpoint, OutboundTarget, ReceivedMessage } from './transport/types.js';

export const AGENT = 'sips-edge';

/** Per TLS name the edge connects to: the anchors and extra accepted names of the trunk it belongs to. */
export interface TlsPeerPolicy {
  readonly anchors: TrustAnchors;
  readonly extraNames: readonly string[];
}

export interface EdgeDeps {
  readonly clock?: Clock;
  readonly observer?: ProxyObserver;
  /** Builds the router once the edge knows its bound listeners. */
  readonly router: (edge: { readonly config: EdgeConfig; readonly identity: ProxyIdentity }) => Router;
  /** Which trust applies to a TLS server name (trunk hosts, inside TLS peers). */
  readonly tlsPeers: (servername: string) => TlsPeerPolicy | undefined;
  /** Every SIP message in and out (HEP capture, debug traces). */
  readonly capture?: (direction: 'in' | 'out', transport: string, local: { address: string; port: number }, remote: { address: string; port: number }, data: Buffer) => void;
  readonly log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Every revocation event (CRL fetched, fetch failed, ...), for metrics; warnings are logged here too. */
  readonly onRevocationEvent?: (e: RevocationEvent) => void;
  /** CRL distribution point URL -> URL actually fetched (lab). */
  readonly crlUrlOverrides?: Readonly<Record<string, string>>;
  /** TLS key logging seams (lab debugging). */
  readonly onTlsServer?: (server: tls.Server) => void;
  readonly onTlsClientSocket?: (socket: tls.TLSSocket) => void;
}

export interface LoadedCertificate {
  readonly name: string;
  readonly file: string;
  readonly notAfter: Date;
}

export interface BoundListener {
  readonly side: 'inside' | 'outside';
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly address: string;
  readonly port: number;
}

export class Edge {
  readonly transport: Transport;
  readonly transactions: TransactionLayer;
  private proxy: ProxyCore | null = null;
  private admission: Admission | null = null;
  private readonly malformedLog = new LogRateLimiter();
  private identities: IdentitySet | null = null;
  private readonly policy: TlsPolicy;
  private revocation: RevocationChecker;
  private readonly parseOptions: { readonly udp: ParseOptions; readonly stream: ParseOptions };
  private bound: BoundListener[] = [];
  /** Set at start(); until then no stream source counts as known. */
  private router: Router | null = null;
  private readonly routeSigner: RouteSigner;
  readonly clock: Clock;

  constructor(readonly config: EdgeConfig, private readonly deps: EdgeDeps) {
    this.clock = deps.clock ?? systemClock;
    this.policy = resolveTlsPolicy({
      deprecatedCiphers: config.tls.deprecatedCiphers,
      handshakeTimeoutMs: config.tls.handshakeTimeoutMs,
      revocation: config.tls.revocation,
      cnFallback: config.tls.cnFallback,
    });
    this.revocation = this.newRevocationChecker();
    this.routeSigner = loadRouteSigner(config);
    const tlsListeners = config.listen.filter((l) => l.transport === 'tls');
    let tlsServerOptions: tls.TlsOptions | undefined;
    if (tlsListeners.length > 0) {
      this.identities = IdentitySet.load(config.tls.identities.map((id, i) => ({
        names: id.names ?? [config.edge.name],
        certFile: id.cert,
        keyFile: id.key,
        ...(id.passphraseEnv !== undefined && process.env[id.passphraseEnv] !== undefined ? { passphrase: process.env[id.passphraseEnv]! } : {}),
        default: i === 0,
      })), this.policy);
      tlsServerOptions = buildServerOptions(this.identities, this.policy);
    }
    const limits = config.limits;
    const messageLimits = {
      maxMessageSize: limits.maxMessageSize,
      maxHeaderSection: limits.maxHeaderSection,
      maxHeaders: limits.maxHeaders,
      maxVia: limits.maxVia,
      maxLineLength: limits.maxLineLength,
    };
    // One options object per framing, the same each time (the parser merges its limits once).
    this.parseOptions = { udp: { framing: 'udp', limits: messageLimits }, stream: { framing: 'stream', limits: messageLimits } };
    this.transport = new Transport({
      udp: config.listen.filter((l) => l.transport === 'udp').map((l) => ({ host: l.address, port: l.port })),
      tcp: config.listen.filter((l) => l.transport === 'tcp').map(streamListen),
      tls: tlsListeners.map(streamListen),
      // Issue 11 #6: the source is screened at accept, before TLS, with the SIP-level access rules.
      isKnownSource: (side, remote, local, transport) => this.router?.admit({ transport, address: remote.address, port: remote.port, localAddress: local.address, localPort: local.port }, side) === null,
      ...(tlsServerOptions ? { tlsServerOptions } : {}),
      handshakeTimeoutMs: config.tls.handshakeTimeoutMs,
      connectOptions: (t) => this.connectOptions(t),
      verifyPeer: (socket, t) => this.verify(socket, t),
      classifyTlsError: (e) => classifyTlsError(e) ?? 'handshake-failed',
      clock: this.clock,
      ...(deps.onTlsServer ? { onTlsServer: deps.onTlsServer } : {}),
      ...(deps.onTlsClientSocket ? { onTlsClientSocket: deps.onTlsClientSocket } : {}),
      limits: {
        maxConnections: limits.maxConnections,
        maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
        idleTimeoutMs: limits.idleTimeoutSeconds * 1000,
        keepAliveIntervalMs: limits.keepAliveIntervalSeconds * 1000,
        keepAlivePongTimeoutMs: limits.keepAlivePongTimeoutSeconds * 1000,
        writeHighWaterBytes: limits.maxWriteBuffer,
        udpReceiveBufferBytes: limits.udpReceiveBufferBytes,
        ...streamLimits(limits),
      },
      messageLimits,
    });
    this.transactions = new TransactionLayer({
      transport: { send: (data, dest) => this.send(data, dest) },
      clock: this.clock,
      timers: config.timers,
      onRequest: (req, tx) => this.proxy?.onRequest(req, tx),
      onAck: (ack, source) => this.proxy?.onAck(ack, source),
      onStrayResponse: (res, source) => this.proxy?.onStrayResponse(res, source),
      onServerTxTerminated: (tx) => this.proxy?.onServerTxTerminated(tx),
      admitNew: (req, source) => this.admission === null || this.admission.admit(req, source),
    });
    this.transport.onMessage((m) => this.receive(m));
    // A lost connection to an upstream host ends the branches waiting on it (no Timer C hang).
    this.transport.events.on('flowClosed', (e) => this.proxy?.onFlowClosed(e.flow.transport, e.flow.remote.address, e.flow.remote.port, e.flow.id));
  }

  get listeners(): readonly BoundListener[] {
    return this.bound;
  }

  get core(): ProxyCore | null {
    return this.proxy;
  }

  async start(): Promise<void> {
    const addrs = await this.transport.start();
    const byTransport: Record<'udp' | 'tcp' | 'tls', Endpoint[]> = { udp: [...addrs.udp], tcp: [...addrs.tcp], tls: [...addrs.tls] };
    const legs: Leg[] = [];
    this.bound = this.config.listen.map((l) => {
      const ep = byTransport[l.transport].shift();
      const port = ep?.port ?? l.port;
      const address = ep?.address ?? l.address;
      // TLS legs are named by a certificate name, so a phone that checks names can reach the
      // Record-Route after a restart: outside the edge name, inside the inside identity's.
      const host = l.advertise ?? (l.transport === 'tls' ? (l.side === 'outside' ? this.config.edge.name : insideTlsName(this.config)) : hostForAddress(l.address));
      legs.push({ side: l.side, transport: l.transport, host, port, boundAddress: address });
      return { side: l.side, transport: l.transport, address, port };
    });
    const identity = new ProxyIdentity(this.config.edge.name, legs, [], this.routeSigner);
    if (this.routeSigner.generated) {
      this.deps.log?.('warn', 'no edge.routeKeys configured: Record-Route entries are signed with a random key, so in-dialog requests will not survive a restart or reach another instance', { event: 'route-keys' });
    }
    this.router = this.deps.router({ config: this.config, identity });
    const srtp = this.config.srtp;
    const policy = createSrtpPolicy({ ...(srtp.allowedSuites ? { allowedSuites: srtp.allowedSuites } : {}), allowDtlsSrtp: srtp.allowDtlsSrtp });
    const router = this.router;
    // Issue 11 item 8: per-source token buckets before any transaction state (proxy/admission.ts).
    this.admission = new Admission({
      limits: this.config.limits,
      now: () => this.clock.now(),
      classify: (source) => {
        const leg = identity.legOf(source);
        return leg === undefined ? undefined : { side: leg.side, known: router.admit(source, leg.side) === null };
      },
      send: (data, dest) => this.send(data, dest),
      observer: this.deps.observer ?? {},
      agent: AGENT,
    });
    this.proxy = new ProxyCore({
      identity,
      router: this.router,
      transactions: this.transactions,
      sendStateless: (data, dest) => this.send(data, dest),
      clock: this.clock,
      timers: this.config.timers,
      sdpGate: new SrtpGate(policy, srtp.policy),
      observer: this.deps.observer ?? {},
      maxTransactions: this.config.limits.maxTransactions,
      maxPendingRequests: this.config.limits.maxPendingRequests,
      maxPendingPerTrunk: this.config.limits.maxPendingPerTrunk,
      retryAfterSeconds: this.config.limits.retryAfterSeconds,
      agent: AGENT,
      warningDetail: this.config.logging.warningDetail,
      findFlow: (transport, host, port) => this.transport.flows().find((f) => f.transport === transport && f.remote.port === port && f.remote.address === host)?.id,
      flowOpen: (id) => this.transport.getFlow(id) !== undefined,
      foreignRoutes: this.config.routing.foreignRoutes,
    });
  }

  /** SIGTERM: stop taking new calls, let transactions finish, then stop (within timeoutMs). */
  async drain(timeoutMs: number): Promise<void> {
    this.proxy?.startDrain();
    const end = this.clock.now() + timeoutMs;
    while (this.transactions.size > 0 && this.clock.now() < end) {
      await new Promise<void>((r) => this.clock.setTimer(100, r));
    }
    await this.stop();
  }

  async stop(): Promise<void> {
    this.transactions.close();
    await this.transport.stop();
  }

  /** Every certificate the edge presents (leaf and chain), for the expiry metric and doctor. */
  loadedCertificates(): LoadedCertificate[] {
    if (this.identities === null) return [];
    return this.identities.identities.flatMap((id) => [id.leaf, ...id.chain.filter((c) => c !== id.leaf)].map((c) => ({
      name: c.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? c.subject,
      file: id.spec.certFile,
      notAfter: new Date(c.validTo),
    })));
  }

  /** Certificate hot reload: new handshakes use the new files; a broken file keeps the old one. */
  reloadCertificates(): { reloaded: number; errors: readonly Error[] } {
    const errors: Error[] = [];
    // CRL files: a broken one keeps the checker that was loaded before.
    try {
      this.revocation = this.newRevocationChecker();
    } catch (e) {
      errors.push(e as Error);
    }
    if (this.identities === null) return { reloaded: 0, errors };
    const r = this.identities.reload(this.policy);
    // The SNI callback already picks the new identities; the server's own default context (served
    // to clients that send no SNI) must be replaced too.
    if (r.reloaded > 0) this.transport.setTlsServerOptions(buildServerOptions(this.identities, this.policy));
    return { reloaded: r.reloaded, errors: [...errors, ...r.errors] };
  }

  /** The files a reload reads: identities' certificates and keys, CRL files. */
  get watchedFiles(): string[] {
    return [...this.config.tls.identities.flatMap((i) => [i.cert, i.key]), ...this.config.tls.crlFiles];
  }

  private newRevocationChecker(): RevocationChecker {
    return new RevocationChecker({
      mode: this.config.tls.revocation,
      crlFiles: this.config.tls.crlFiles,
      fetchTimeoutMs: this.config.tls.crlFetchTimeoutMs,
      ...(this.deps.crlUrlOverrides ? { urlOverrides: this.deps.crlUrlOverrides } : {}),
      onEvent: (e) => {
        this.deps.onRevocationEvent?.(e);
        if (e.kind !== 'fetched') this.deps.log?.('warn', `revocation: ${e.kind}`, { event: e.kind.startsWith('crl-') ? e.kind : `crl-${e.kind}`, detail: e.detail, ...(e.url ? { url: e.url } : {}), ...(e.durationMs !== undefined ? { durationMs: e.durationMs } : {}) });
      },
    });
  }

  private receive(m: ReceivedMessage): void {
    this.deps.capture?.('in', m.transport, m.local, m.remote, m.data);
    const r = parseMessage(m.data, m.transport === 'udp' ? this.parseOptions.udp : this.parseOptions.stream);
    const source: Source = m.flow
      ? { transport: m.transport, address: m.remote.address, port: m.remote.port, localAddress: m.local.address, localPort: m.local.port, flowId: m.flow.id }
      : { transport: m.transport, address: m.remote.address, port: m.remote.port, localAddress: m.local.address, localPort: m.local.port };
    if (!r.ok) {
      // Malformed: a 400 (505/513) with the reason when it was a request we can answer; never forwarded.
      // Outsiders set the pace of these lines: at most 10 a minute per code (the skipped count on the next).
      const skipped = this.malformedLog.take(r.error.code);
      if (skipped >= 0) this.deps.log?.('warn', 'malformed SIP message', { code: r.error.code, reason: r.error.message, peer: `${m.remote.address}:${m.remote.port}`, transport: m.transport, ...(skipped > 0 ? { skipped } : {}) });
      const answer = rawErrorResponse(m.data, r.error, AGENT);
      if (answer !== null && (this.admission === null || this.admission.mayAnswerMalformed(source))) {
        const dest: Destination = m.flow ? { transport: m.transport, host: m.remote.address, port: m.remote.port, flowId: m.flow.id } : { transport: 'udp', host: m.remote.address, port: m.remote.port };
        this.send(answer, dest).catch(() => undefined);
      }
      return;
    }
    const msg = r.value;
    if (msg.isRequest) {
      // RFC 3261 §18.2.1 + RFC 3581 §4: stamp where the request really came from, so every
      // response (ours and forwarded ones) goes back to the address and port it was sent from.
      const via = msg.via();
      const bare = via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
      if (bare !== m.remote.address || via.rport !== undefined) {
        const stamped = receivedVia(via, m.remote.address, m.remote.port);
        msg.shift('via');
        msg.prepend('via', formatVia(stamped));
        msg.remember(stamped);
      }
    }
    try {
      this.transactions.receive(msg, source);
    } catch (e) {
      // A bug reached by some message: logged, the message dropped, the process kept (never a crash).
      this.deps.log?.('error', 'internal error handling a message', { error: e instanceof Error ? e.stack ?? e.message : String(e), callId: msg.callId() });
    }
  }

  /** Six sends per call: no async layers here, one promise from the transport. */
  private send(data: Buffer, dest: Destination): Promise<unknown> {
    const flow = dest.flowId !== undefined ? this.transport.getFlow(dest.flowId) : undefined;
    // A Destination is an OutboundTarget (its flowId is ignored there).
    const sent = flow !== undefined ? this.transport.send(flow.id, data) : this.transport.send(dest as OutboundTarget, data);
    const capture = this.deps.capture;
    if (capture === undefined) return sent;
    return sent.then((used) => {
      const f = used ?? flow;
      capture('out', dest.transport, f?.local ?? { address: '0.0.0.0', port: dest.localPort ?? 0 }, f?.remote ?? { address: dest.host, port: dest.port }, data);
    });
  }

  private connectOptions(t: OutboundTarget): tls.ConnectionOptions {
    const name = t.servername ?? t.host;
    const peer = this.deps.tlsPeers(name);
    if (peer === undefined) throw new Error(`no TLS trust configured for ${name}`);
    return { ...buildClientOptions({ host: name, port: t.port, trust: peer.anchors, policy: this.policy }), host: t.host };
  }

  private async verify(socket: tls.TLSSocket, t: OutboundTarget): Promise<VerifyResult | { ok: true }> {
    const name = t.servername ?? t.host;
    const peer = this.deps.tlsPeers(name);
    if (peer === undefined) return { ok: false, reason: 'untrusted-root', detail: `no trust configured for ${name}` } as VerifyResult;
    const r = await verifyPeer(socket, {
      host: name,
      anchors: peer.anchors,
      policy: this.policy,
      extraNames: peer.extraNames,
      revocation: this.revocation,
      onSoftRevocation: (d) => this.deps.log?.('warn', 'CRL unavailable, allowed (revocation: soft)', { event: 'crl-soft-allowed', host: name, detail: d }),
    });
    if (r.ok && r.deprecatedCipher && this.policy.deprecatedCiphers === 'warn') {
      this.deps.log?.('warn', 'deprecated cipher negotiated (S-TLS-4)', { host: name, cipher: r.cipher });
    }
    return r;
  }
}

function streamListen(l: EdgeConfig['listen'][number]): { host: string; port: number; side: 'outside' | 'inside'; name?: string } {
  return { host: l.address, port: l.port, side: l.side, ...(l.name !== undefined ? { name: l.name } : {}) };
}

/** Issue 11 #6, #7, #14: the stream connection limits, seconds to milliseconds. */
function streamLimits(limits: EdgeConfig['limits']) {
  return {
    maxConnectionsPerListener: limits.maxConnectionsPerListener,
    maxOutsideConnections: limits.maxOutsideConnections,
    maxInsideConnections: limits.maxInsideConnections,
    reservedConnections: limits.reservedConnections,
    unknownSourceConnectionsPerListener: limits.unknownSourceConnectionsPerListener,
    firstMessageTimeoutMs: limits.firstMessageTimeoutSeconds * 1000,
    writeStallMs: limits.writeStallSeconds * 1000,
    writeCloseBytes: limits.maxWriteQueue,
    halfOpenLingerMs: limits.halfClosedLingerSeconds * 1000,
  };
}

/** The name of the identity serving the inside: the first SNI name that is not the edge name. */
function insideTlsName(config: EdgeConfig): string {
  for (const id of config.tls.identities) for (const n of id.names ?? []) if (n.toLowerCase() !== config.edge.name.toLowerCase()) return n;
  return config.edge.name;
}

function hostForAddress(address: string): string {
  if (address === '0.0.0.0' || address === '::') return '127.0.0.1';
  return address.includes(':') ? `[${address}]` : address;
}

