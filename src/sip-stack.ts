/**
 * The SIP stack, built in one pass: config -> TLS -> transport -> transactions -> proxy <- routing.
 * `startSipStack` reads the config and the values handed in (secrets, observability seams), binds
 * the listeners, and returns the stack fully wired: no late-bound field, nothing nullable that a
 * message could find missing. With edge-runtime.ts (the process around it) and worker-routing.ts
 * (which worker a message belongs to) the only modules that import every layer.
 */
import type tls from 'node:tls';
import { systemClock, type Clock } from './clock.js';
import type { EdgeConfig } from './config/schema.js';
import type { EdgeSecrets } from './config/secrets.js';
import { EdgeTls, type LoadedCertificate } from './edge-tls.js';
import type { SipMessage } from './message/message.js';
import { hostPort } from './message/host-port.js';
import { LogRateLimiter } from './observability/log-rate.js';
import { Admission } from './proxy/admission.js';
import { setBranchWorker } from './proxy/branch.js';
import type { ProxyObserver } from './proxy/deps.js';
import { ProxyIdentity, type Leg } from './proxy/identity.js';
import { ProxyCore } from './proxy/proxy-core.js';
import { loadRouteSigner } from './proxy/route-keys.js';
import { SrtpGate } from './proxy/srtp-gate.js';
import { createOptionsProbe } from './proxy/options-probe.js';
import { createHealthMonitor, type HealthChange, type HealthMonitor, type HostRef, type ProbeHost, type ProbeResult } from './routing/health.js';
import { createResolver, type Resolver } from './routing/resolver.js';
import { preconnectTrunks } from './routing/preconnect.js';
import { createRouter, type EdgeRouter } from './routing/router.js';
import { createSrtpPolicy } from './sdp/srtp-policy.js';
import type { RevocationEvent } from './tls/revocation.js';
import { classifyTlsError } from './tls/verify.js';
import { TransactionLayer } from './transaction/transaction-layer.js';
import { createSipReceiver } from './transport/sip-receiver.js';
import { Transport } from './transport/transport.js';
import type { MediaAnchor } from './media/types.js';
import type { Endpoint, PeerAddress } from './transport/types.js';
import { flowIdPrefix, type WorkerHandoff } from './transport/worker-handoff.js';
import { WorkerRouting } from './worker-routing.js';

export const AGENT = 'sips-edge';

type LogFn = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** What the stack is handed: the values read at the edge of the program and the observability seams. */
export interface SipStackDeps {
  /** Secret values the config names by environment variable (read by the CLI). */
  readonly secrets: EdgeSecrets;
  readonly clock?: Clock;
  readonly observer?: ProxyObserver;
  readonly log?: LogFn;
  /** Every SIP message in and out (HEP capture, debug traces). */
  readonly capture?: (direction: 'in' | 'out', transport: string, local: { address: string; port: number }, remote: { address: string; port: number }, data: Buffer) => void;
  /** Every revocation event (CRL fetched, fetch failed, ...), for metrics; warnings are logged here too. */
  readonly onRevocationEvent?: (e: RevocationEvent) => void;
  /** CRL distribution point URL -> URL actually fetched (lab). */
  readonly crlUrlOverrides?: Readonly<Record<string, string>>;
  readonly onHealthChange?: (c: HealthChange) => void;
  readonly onProbe?: (host: ProbeHost, r: ProbeResult) => void;
  /** TLS key logging seams (lab debugging). */
  readonly onTlsServer?: (server: tls.Server) => void;
  readonly onTlsClientSocket?: (socket: tls.TLSSocket) => void;
  /** The media anchor (rtpengine) for `media: anchor` calls; the stack closes it at stop. */
  readonly media?: MediaAnchor;
  /**
   * The session ticket secret (at least 32 bytes) when `tls.sessionTickets.keyFile` is not set: the
   * primary hands one to all its workers so a ticket from any worker resumes on every other. Absent:
   * a random secret for this process. A configured keyFile wins.
   */
  readonly ticketSecret?: Buffer;
  /** One of several worker processes (edge.workers > 1); absent: the single process of today. */
  readonly worker?: WorkerRole;
}

/** What a worker process of a multi-worker edge is (docs/workers.md). */
export interface WorkerRole {
  /** 1..N: in branches (`z9hG4bKse<slot>.`) and flow ids (`w<slot>-tls-3`). */
  readonly slot: number;
  /** Runs the OPTIONS probes for the edge (worker 1); the others apply its health changes. */
  readonly prober: boolean;
  /** A follower's passive health verdicts go to the prober instead of its own monitor. */
  readonly onPassiveHealth?: (ref: HostRef, ok: boolean, reason: string | undefined) => void;
}

export interface BoundListener {
  readonly side: 'inside' | 'outside';
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly address: string;
  readonly port: number;
}

/** A started SIP stack: every part built, every listener bound. */
export interface SipStack {
  readonly config: EdgeConfig;
  readonly clock: Clock;
  readonly listeners: readonly BoundListener[];
  readonly transport: Transport;
  readonly transactions: TransactionLayer;
  readonly proxy: ProxyCore;
  readonly router: EdgeRouter;
  readonly health: HealthMonitor;
  readonly resolver: Resolver;
  /** rtpengine for `media: anchor` calls (issue 14); null when `media.rtpengine` is not configured. */
  readonly media: MediaAnchor | null;
  /** The trunks and peers whose calls are anchored (for /readyz). */
  readonly anchored: readonly string[];
  /** Several workers: the private socket that passes messages to the worker that owns them. */
  readonly handoff: WorkerHandoff | null;
  /** The files a reload reads: identities' certificates and keys, CRL files. */
  readonly watchedFiles: readonly string[];
  /** Every certificate the edge presents (leaf and chain), for the expiry metric and doctor. */
  loadedCertificates(): LoadedCertificate[];
  /** Certificate hot reload: new handshakes use the new files; a broken file keeps the old one. */
  reloadCertificates(): { reloaded: number; errors: readonly Error[] };
  /** SIGTERM: stop taking new calls, let transactions finish, then stop (within timeoutMs). */
  drain(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Builds and starts the stack. Order: what the accept screen and outbound TLS need before the
 * first socket is accepted (routing with its access rules, then the TLS material with the trust per
 * peer name, edge-tls.ts),
 * then bind, then what needs the bound addresses (identity: the Record-Route legs), then the
 * transaction layer and proxy, then the receive path; last, the router's name refresh and probes.
 */
export async function startSipStack(config: EdgeConfig, deps: SipStackDeps): Promise<SipStack> {
  const clock = deps.clock ?? systemClock;
  const log: LogFn = deps.log ?? (() => undefined);
  const limits = config.limits;
  const worker = deps.worker;
  if (worker !== undefined) setBranchWorker(worker.slot);

  const routeSigner = loadRouteSigner(config, deps.secrets);
  const tlsListeners = config.listen.filter((l) => l.transport === 'tls');

  // Routing: resolver, health (probes start last), router (with the access rules the accept screen uses).
  const resolver = createResolver({ clock, overrides: config.dns.overrides });
  const health = createHealthMonitor({
    clock,
    resolver,
    // Several workers: one probe schedule for the edge (worker 1); followers apply its changes.
    ...(worker === undefined || worker.prober ? {
      probe: async (host: ProbeHost) => {
        const r = await probeOptions(host);
        deps.onProbe?.(host, r);
        return r;
      },
    } : {}),
    ...(deps.onHealthChange ? { onChange: deps.onHealthChange } : {}),
  });
  const router = createRouter(config, { resolver, health, clock });
  // TLS material, both roles: policy, our identities and tickets, the trust each peer name gets.
  const edgeTls = new EdgeTls(config, router, {
    secrets: deps.secrets,
    log,
    ...(deps.onRevocationEvent ? { onRevocationEvent: deps.onRevocationEvent } : {}),
    ...(deps.crlUrlOverrides ? { crlUrlOverrides: deps.crlUrlOverrides } : {}),
    ...(deps.ticketSecret !== undefined ? { ticketSecret: deps.ticketSecret } : {}),
  });
  const tlsServerOptions = edgeTls.serverOptions();

  const messageLimits = {
    maxMessageSize: limits.maxMessageSize,
    maxHeaderSection: limits.maxHeaderSection,
    maxHeaders: limits.maxHeaders,
    maxVia: limits.maxVia,
    maxLineLength: limits.maxLineLength,
  };
  const transport = new Transport({
    udp: config.listen.filter((l) => l.transport === 'udp').map((l) => ({ host: l.address, port: l.port })),
    tcp: config.listen.filter((l) => l.transport === 'tcp').map(streamListen),
    tls: tlsListeners.map(streamListen),
    // Issue 11 #6: the source is screened at accept, before TLS, with the SIP-level access rules.
    isKnownSource: (side, remote, local, t) => router.admit({ transport: t, address: remote.address, port: remote.port, localAddress: local.address, localPort: local.port }, side) === null,
    ...(tlsServerOptions !== null ? { tlsServerOptions } : {}),
    checkResumedSession: (s) => edgeTls.checkResumedSession(s),
    handshakeTimeoutMs: config.tls.handshakeTimeoutMs,
    connectOptions: (t) => edgeTls.connectOptions(t),
    verifyPeer: (socket, t) => edgeTls.verify(socket, t),
    classifyTlsError: (e) => classifyTlsError(e) ?? 'handshake-failed',
    clock,
    onTlsServer: (server) => {
      edgeTls.attachServer(server);
      deps.onTlsServer?.(server);
    },
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
    ...(worker !== undefined ? { flowIdPrefix: flowIdPrefix(worker.slot), reusePort: true } : {}),
  });

  /** Six sends per call: no async layers here, one promise from the transport. */
  const send = (data: Buffer, dest: PeerAddress): Promise<unknown> => {
    // A flow of another worker (the answer to a request it handed over): that worker writes it.
    if (routing !== null && routing.divertSend(data, dest)) return Promise.resolve(null);
    return sendHere(data, dest);
  };
  const sendHere = (data: Buffer, dest: PeerAddress): Promise<unknown> => {
    const flow = dest.flowId !== undefined ? transport.getFlow(dest.flowId) : undefined;
    const sent = flow !== undefined ? transport.send(flow.id, data) : transport.send(dest, data);
    const capture = deps.capture;
    if (capture === undefined) return sent;
    return sent.then((used) => {
      const f = used ?? flow;
      capture('out', dest.transport, f?.local ?? { address: '0.0.0.0', port: dest.localPort ?? 0 }, f?.remote ?? dest, data);
    });
  };
  /** What the transactions send (TransactionTransport.sendNoWait): the same, with no promise unless capturing. */
  const sendNoWait = (data: Buffer, dest: PeerAddress, onFailure: (err: unknown) => void): void => {
    if (routing !== null && routing.divertSend(data, dest)) return;
    if (deps.capture !== undefined) {
      sendHere(data, dest).then(undefined, onFailure);
      return;
    }
    const flowId = dest.flowId;
    transport.sendNoWait(flowId !== undefined && transport.getFlow(flowId) !== undefined ? flowId : dest, data, onFailure);
  };

  // Bind: every listener, before anything that names the edge's own addresses.
  const { listeners, legs } = bindings(config, await transport.start());
  const identity = new ProxyIdentity(config.edge.name, legs, [], routeSigner);
  if (routeSigner.generated) {
    log('warn', 'no edge.routeKeys configured: Record-Route entries are signed with a random key, so in-dialog requests will not survive a restart or reach another instance', { event: 'route-keys' });
  }
  const observer = passiveHealth(deps.observer ?? {}, worker?.onPassiveHealth !== undefined ? forwardedHealth(health, worker.onPassiveHealth) : health);
  /** The side a source arrived on and whether access control admits it (undefined: no listener of ours). */
  const classifySource = (source: PeerAddress): { side: 'inside' | 'outside'; known: boolean } | undefined => {
    const leg = identity.legOf(source);
    return leg === undefined ? undefined : { side: leg.side, known: router.admit(source, leg.side) === null };
  };
  // Issue 11 item 8: per-source token buckets before any transaction state (proxy/admission.ts).
  const admission = new Admission({
    limits,
    now: () => clock.now(),
    classify: classifySource,
    send,
    observer,
    agent: AGENT,
  });
  const transactions: TransactionLayer = new TransactionLayer({
    transport: { send, sendNoWait },
    clock,
    timers: config.timers,
    onRequest: (req, tx) => proxy.onRequest(req, tx),
    onAck: (ack, source) => proxy.onAck(ack, source),
    onStrayResponse: (res, source) => proxy.onStrayResponse(res, source),
    onServerTxTerminated: (tx) => proxy.onServerTxTerminated(tx),
    admitNew: (req, source) => admission.admit(req, source),
    // RFC 6026's 32 s of lingering state as one record per transaction (docs/latency.md).
    compactLingering: true,
  });
  const srtp = config.srtp;
  const media: MediaAnchor | null = deps.media ?? null;
  const proxy: ProxyCore = new ProxyCore({
    identity,
    router,
    transactions,
    sendStateless: send,
    clock,
    timers: config.timers,
    sdpGate: new SrtpGate(createSrtpPolicy({ ...(srtp.allowedSuites ? { allowedSuites: srtp.allowedSuites } : {}), allowDtlsSrtp: srtp.allowDtlsSrtp }), srtp.policy),
    observer,
    maxTransactions: limits.maxTransactions,
    maxPendingRequests: limits.maxPendingRequests,
    maxPendingPerTrunk: limits.maxPendingPerTrunk,
    retryAfterSeconds: limits.retryAfterSeconds,
    agent: AGENT,
    warningDetail: config.logging.warningDetail,
    findFlow: (t, host, port) => transport.flows().find((f) => f.transport === t && f.remote.port === port && f.remote.address === host)?.id,
    flowOpen: (id) => transport.getFlow(id) !== undefined,
    foreignRoutes: config.routing.foreignRoutes,
    media,
  });

  // Receive: §18.2 in the transport layer, whole stamped messages up to the transaction layer.
  // Outsiders set the pace of the malformed-message lines: at most 10 a minute per code.
  const malformedLog = new LogRateLimiter();
  const receiverOptions = {
    messageLimits,
    agent: AGENT,
    deliver: (msg, source) => transactions.receive(msg, source),
    reply: (data, to) => {
      // Back on its flow; UDP: to the source address and port (any socket, as a stateless answer).
      send(data, to.flowId !== undefined ? to : { transport: 'udp', address: to.address, port: to.port }).catch(() => undefined);
    },
    mayAnswerMalformed: (source) => admission.mayAnswerMalformed(source),
    onMalformed: (error, m) => {
      const skipped = malformedLog.take(error.code);
      if (skipped >= 0) log('warn', 'malformed SIP message', { code: error.code, reason: error.message, peer: hostPort(m.remote), transport: m.transport, ...(skipped > 0 ? { skipped } : {}) });
    },
    // A bug reached by some message: logged, the message dropped, the process kept (never a crash).
    onDeliverError: (e: unknown, msg: SipMessage) => log('error', 'internal error handling a message', { error: e instanceof Error ? e.stack ?? e.message : String(e), callId: msg.callId() }),
  } satisfies Parameters<typeof createSipReceiver>[0];
  // Several workers: what another worker owns is handed to it before any stamping (docs/workers.md).
  const routing: WorkerRouting | null = worker === undefined ? null : new WorkerRouting({
    slot: worker.slot,
    clock,
    receiveBufferBytes: limits.udpReceiveBufferBytes,
    insideListeners: listeners.filter((l) => l.side === 'inside'),
    receiver: receiverOptions,
    holds: (request) => transactions.holdsServer(request) || (request.method === 'CANCEL' && transactions.findInvite(request) !== undefined),
    knownSource: (source) => classifySource(source)?.known === true,
    writeOnFlow: (id, data) => transport.send(id, data),
  });
  const receive = routing?.receive ?? createSipReceiver(receiverOptions);
  const capture = deps.capture;
  transport.onMessage(capture === undefined ? receive : (m) => {
    capture('in', m.transport, m.local, m.remote, m.data);
    receive(m);
  });
  // A lost connection to an upstream host ends the branches waiting on it (no Timer C hang).
  transport.events.on('flowClosed', (e) => proxy.onFlowClosed(e.flow.transport, e.flow.remote.address, e.flow.remote.port, e.flow.id));

  const probeOptions = createOptionsProbe({ clock, identity, transactions, edgeName: config.edge.name, agent: AGENT });

  const stopStack = async (): Promise<void> => {
    edgeTls.stop();
    transactions.close();
    await transport.stop();
    await media?.close();
    await routing?.close();
  };
  try {
    await routing?.start();
    await router.start();
  } catch (e) {
    await stopStack();
    throw e;
  }
  for (const n of router.notes()) log('warn', n.message, { trunk: n.trunk });
  edgeTls.start();
  health.start();
  // Not awaited: a dead host must not hold the start; calls meanwhile queue on the connecting entry.
  void preconnectTrunks(router.trunkPlans(), resolver, config.dns.srv, (target) => transport.preconnect(target)).then((results) => {
    for (const r of results) log(r.ok ? 'info' : 'warn', r.ok ? 'connection to trunk host open' : 'connection to trunk host failed', { event: 'preconnect', ...r });
  });

  return {
    config,
    clock,
    listeners,
    transport,
    transactions,
    proxy,
    router,
    health,
    resolver,
    media,
    anchored: [...config.trunks.filter((t) => t.media === 'anchor').map((t) => `trunk:${t.name}`), ...config.peers.filter((p) => p.media === 'anchor').map((p) => `peer:${p.name}`)],
    handoff: routing?.handoff ?? null,
    watchedFiles: edgeTls.watchedFiles,
    loadedCertificates: () => edgeTls.loadedCertificates(),
    reloadCertificates() {
      const r = edgeTls.reload();
      // The SNI callback already picks the new identities; the server's own default context (served
      // to clients that send no SNI) must be replaced too.
      const options = r.reloaded > 0 ? edgeTls.serverOptions() : null;
      if (options !== null) transport.setTlsServerOptions(options);
      return r;
    },
    async drain(timeoutMs) {
      health.stop();
      router.stop();
      proxy.startDrain();
      const end = clock.now() + timeoutMs;
      while (transactions.size > 0 && clock.now() < end) {
        await new Promise<void>((r) => clock.setTimer(100, r));
      }
      await stopStack();
    },
    async stop() {
      health.stop();
      router.stop();
      await stopStack();
    },
  };
}

/**
 * Passive health: a transport failure or the host's own 503 counts against it; a slow answer
 * (failover timer, Timer C) does not (the probes judge that), any answer counts for it.
 */
function passiveHealth(observer: ProxyObserver, health: HealthMonitor): ProxyObserver {
  return {
    ...observer,
    targetOutcome: (e) => {
      observer.targetOutcome?.(e);
      if (e.trunk === null) return;
      const verdict = e.health ?? (e.reason !== null ? 'failure' : e.status < 500 ? 'success' : 'neutral');
      if (verdict === 'failure') health.reportFailure({ trunk: e.trunk, host: e.target }, e.reason ?? `${e.status} from ${e.target}`);
      else if (verdict === 'success') health.reportSuccess({ trunk: e.trunk, host: e.target });
    },
  };
}

/** A follower worker's passive verdicts: sent to the prober, which alone decides (docs/workers.md). */
function forwardedHealth(health: HealthMonitor, forward: (ref: HostRef, ok: boolean, reason: string | undefined) => void): HealthMonitor {
  return { ...health, reportFailure: (ref, reason) => forward(ref, false, reason), reportSuccess: (ref) => forward(ref, true, undefined) };
}

/**
 * The config's listeners with the addresses and ports the transport actually bound (port 0), and
 * the proxy's legs on them. TLS legs are named by a certificate name, so a phone that checks names
 * can reach the Record-Route after a restart: outside the edge name, inside the inside identity's.
 */
function bindings(config: EdgeConfig, addrs: { readonly udp: readonly Endpoint[]; readonly tcp: readonly Endpoint[]; readonly tls: readonly Endpoint[] }): { listeners: BoundListener[]; legs: Leg[] } {
  const byTransport: Record<'udp' | 'tcp' | 'tls', Endpoint[]> = { udp: [...addrs.udp], tcp: [...addrs.tcp], tls: [...addrs.tls] };
  const listeners: BoundListener[] = [];
  const legs: Leg[] = [];
  for (const l of config.listen) {
    const ep = byTransport[l.transport].shift();
    const address = ep?.address ?? l.address;
    const port = ep?.port ?? l.port;
    const host = l.advertise ?? (l.transport === 'tls' ? (l.side === 'outside' ? config.edge.name : insideTlsName(config)) : hostForAddress(l.address));
    listeners.push({ side: l.side, transport: l.transport, address, port });
    legs.push({ side: l.side, transport: l.transport, host, port, boundAddress: address });
  }
  return { listeners, legs };
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
