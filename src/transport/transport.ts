/**
 * The transport layer (RFC 3261 §18): owns the UDP sockets, the TCP/TLS listeners, the flow table
 * and the outbound pool. Above it, the transaction layer sees whole messages and flow ids.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { DEFAULT_MESSAGE_LIMITS } from '../message/constants.js';
import { ConnectionPool, type StreamTarget } from './connection-pool.js';
import { CRLFCRLF, Flow } from './flow.js';
import type { FlowSettings } from './flow.js';
import { ConnectionCaps, FlowTable, ListenerSlots } from './flow-table.js';
import type { RejectReason, Side } from './flow-table.js';
import type { FlowCounts } from './flow-table.js';
import { StreamListener } from './stream-listener.js';
import type { AdoptInit } from './stream-listener.js';
import { TRANSPORT_ERROR_CODES, TransportError } from './transport-error.js';
import { TransportEvents } from './transport-events.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_TRANSPORT_LIMITS } from './transport-options.js';
import type { TransportLimits, TransportOptions } from './transport-options.js';
import type { Endpoint, FlowInfo, ListenAddress, PeerAddress, ReceivedMessage, SendTarget, StreamTransport } from './types.js';
import { UdpTransport } from './udp-transport.js';

export interface BoundAddresses {
  readonly udp: readonly Endpoint[];
  readonly tcp: readonly Endpoint[];
  readonly tls: readonly Endpoint[];
}

export interface TransportStats {
  readonly flows: FlowCounts;
  /** Accepted TLS sockets still in their handshake. */
  readonly handshaking: number;
  /** Outbound connects (TCP or TLS) in progress. */
  readonly connecting: number;
  /** Open pooled outbound flows. */
  readonly pooled: number;
  /** Raw stream sockets counted against the caps. */
  readonly connections: number;
  readonly udpSockets: number;
  readonly rejected: { readonly maxConnections: number; readonly maxPerAddress: number; readonly byReason: Readonly<Record<RejectReason, number>> };
  /** Accepted connections per listener name. */
  readonly listeners: Readonly<Record<string, number>>;
  readonly tlsFailures: { readonly server: number; readonly client: number };
  readonly framingErrors: number;
  readonly datagramsDropped: number;
}

export type MessageHandler = (message: ReceivedMessage) => void;

/** Grace for flows to flush and close on stop(). */
const END_GRACE_MS = 2_000;

export class Transport {
  readonly events = new TransportEvents();
  private readonly clock: Clock;
  private readonly limits: TransportLimits;
  private readonly table: FlowTable;
  private readonly caps: ConnectionCaps;
  private readonly pool: ConnectionPool;
  private readonly udp: UdpTransport;
  private readonly listeners: Array<{ readonly at: ListenAddress; readonly l: StreamListener }> = [];
  private readonly closeWaiters = new Set<() => void>();
  private handler: MessageHandler = () => {};
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private readonly counters = { tlsServer: 0, tlsClient: 0, framing: 0 };
  private readonly inboundSettings: FlowSettings;
  private readonly outboundSettings: FlowSettings;

  constructor(private readonly options: TransportOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.limits = { ...DEFAULT_TRANSPORT_LIMITS, ...options.limits };
    const l = this.limits;
    const messageLimits = { ...DEFAULT_MESSAGE_LIMITS, ...options.messageLimits };
    const common = { writeHighWaterBytes: l.writeHighWaterBytes, writeCloseBytes: l.writeCloseBytes, writeStallMs: l.writeStallMs, endGraceMs: END_GRACE_MS, messageLimits };
    // RFC 5626 §4.4.1: the side that opened the flow sends the keep-alives.
    this.inboundSettings = {
      ...common, idleTimeoutMs: l.idleTimeoutMs, keepAliveIntervalMs: 0, keepAlivePongTimeoutMs: 0,
      firstMessageTimeoutMs: l.firstMessageTimeoutMs, halfOpenLingerMs: l.halfOpenLingerMs,
    };
    this.outboundSettings = { ...common, idleTimeoutMs: l.outboundIdleTimeoutMs, keepAliveIntervalMs: l.keepAliveIntervalMs, keepAlivePongTimeoutMs: l.keepAlivePongTimeoutMs };
    this.table = new FlowTable(options.flowIdPrefix ?? '');
    this.caps = new ConnectionCaps(l.maxConnections, l.maxConnectionsPerAddress, {
      maxPerListener: l.maxConnectionsPerListener,
      maxPerSide: { outside: l.maxOutsideConnections, inside: l.maxInsideConnections },
      reserved: l.reservedConnections,
      unknownPerListener: l.unknownSourceConnectionsPerListener,
    });
    const classify = options.classifyTlsError ?? (() => 'handshake-failed');
    // Node's own codes, the same for both roles, before the policy's classifier: a handshake timer
    // (the listener's backstop), and ECONNRESET, the peer's reset or FIN before the handshake
    // completed ('socket hang up' / 'disconnected before secure TLS connection').
    const classifyTlsError = (err: unknown): string => {
      const code = (err as { code?: unknown } | null)?.code;
      return code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake-timeout' : code === 'ECONNRESET' ? 'handshake-aborted' : classify(err);
    };
    const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.pool = new ConnectionPool({
      clock: this.clock,
      caps: this.caps,
      events: this.events,
      handshakeTimeoutMs,
      connectTimeoutMs: l.connectTimeoutMs,
      maxQueuedSends: l.maxQueuedSends,
      connectOptions: options.connectOptions ?? (() => ({})),
      verifyPeer: options.verifyPeer ?? (() => ({ ok: true })),
      classifyTlsError,
      adopt: (socket, init) => this.adopt(socket, init, 'outbound'),
      ...(options.onTlsClientSocket ? { onTlsClientSocket: options.onTlsClientSocket } : {}),
    });
    this.udp = new UdpTransport({
      clock: this.clock,
      events: this.events,
      maxDatagramSize: l.maxDatagramSize,
      receiveBufferBytes: l.udpReceiveBufferBytes,
      maxMessageSize: messageLimits.maxMessageSize,
      reusePort: options.reusePort === true,
      deliver: (m) => this.handler(m),
    });
    const listenerCtx = {
      clock: this.clock,
      caps: this.caps,
      events: this.events,
      handshakeTimeoutMs,
      classifyTlsError,
      adopt: (socket: net.Socket, init: AdoptInit) => this.adopt(socket, init, 'inbound'),
      ...(options.onTlsServer ? { onTlsServer: options.onTlsServer } : {}),
      ...(options.checkResumedSession ? { checkResumedSession: options.checkResumedSession } : {}),
      ...(options.isKnownSource ? { isKnownSource: knownSource(options.isKnownSource) } : {}),
      ...(options.reusePort === true ? { reusePort: true } : {}),
    };
    for (const at of options.tcp ?? []) this.listeners.push({ at, l: new StreamListener('tcp', listenerCtx, undefined, slotsFor(at, 'tcp')) });
    for (const at of options.tls ?? []) this.listeners.push({ at, l: new StreamListener('tls', listenerCtx, options.tlsServerOptions, slotsFor(at, 'tls')) });
    this.events.on('tlsFailure', (e) => (e.role === 'server' ? this.counters.tlsServer++ : this.counters.tlsClient++));
  }

  /** Certificate hot reload: existing TLS connections stay; new handshakes use `options`. */
  setTlsServerOptions(options: tls.TlsOptions): void {
    for (const { l } of this.listeners) l.setTlsOptions(options);
  }

  /** The one consumer of received messages (the transaction layer). */
  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  /** Binds every configured address; on any failure closes what was bound and rejects (SIPS_ERR_TRANSPORT_LISTEN). */
  async start(): Promise<BoundAddresses> {
    if (this.state !== 'new') throw new Error(`Transport.start() called in state ${this.state}`);
    this.state = 'starting';
    try {
      for (const at of this.options.udp ?? []) await this.udp.listen(at);
      await Promise.all(this.listeners.map(({ l, at }) => l.listen(at)));
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.state = 'running';
    return this.addresses;
  }

  get addresses(): BoundAddresses {
    const of = (t: 'tcp' | 'tls'): Endpoint[] => this.listeners.flatMap(({ l }) => (l.transport === t && l.address ? [l.address] : []));
    return { udp: this.udp.addresses, tcp: of('tcp'), tls: of('tls') };
  }

  /**
   * Sends one SIP message. A flow id reuses that connection (responses and in-dialog requests go
   * back on the connection the peer opened); a target uses the pool (TCP/TLS) or a UDP socket.
   * Resolves with the flow used (null for UDP); rejects with a TransportError.
   */
  send(target: SendTarget, data: Uint8Array): Promise<FlowInfo | null> {
    if (this.state === 'stopped') return Promise.reject(new TransportError(TRANSPORT_ERROR_CODES.CLOSED, 'shutdown', 'the transport is stopped'));
    if (typeof target === 'string') {
      const flow = this.table.get(target);
      if (!flow || !flow.send(data)) return Promise.reject(new TransportError(TRANSPORT_ERROR_CODES.NO_FLOW, 'no-flow', `flow ${target} is not open`));
      return Promise.resolve(flow.info);
    }
    if (target.transport === 'udp') return this.udp.send(target.address, target.port, data, target.localPort);
    return this.pool.send(target as StreamTarget, data);
  }

  /**
   * `send` without a promise for the common cases (an open flow, a UDP address, an open pooled
   * connection): `onFailure` gets what `send` would reject with, never synchronously. Anything
   * else (a connect, a name to resolve, an error) takes `send`'s path.
   */
  sendNoWait(target: SendTarget, data: Uint8Array, onFailure: (err: unknown) => void): void {
    if (this.state !== 'stopped') {
      if (typeof target === 'string') {
        if (this.table.get(target)?.send(data) === true) return;
      } else if (target.transport === 'udp') {
        if (this.udp.sendNoWait(target.address, target.port, data, target.localPort, onFailure)) return;
      } else if (this.pool.sendOpen(target as StreamTarget, data)) {
        return;
      }
    }
    // A flow or pooled connection that refused the write did nothing: send() finds it closed again.
    this.send(target, data).then(undefined, onFailure);
  }

  /**
   * Opens (or finds) the pooled connection to a TCP/TLS target ahead of traffic by sending it the
   * RFC 5626 §3.5.1 keep-alive ping, which a SIP stream peer answers with CRLF or skips (RFC 3261
   * §7.5): the same pool entry, peer check and handshake deadline as the first message would get.
   */
  preconnect(target: PeerAddress): Promise<FlowInfo | null> {
    return this.send(target, CRLFCRLF);
  }

  getFlow(id: string): FlowInfo | undefined {
    return this.table.get(id)?.info;
  }

  flows(): FlowInfo[] {
    return this.table.list();
  }

  closeFlow(id: string): boolean {
    const flow = this.table.get(id);
    flow?.close('local-close');
    return flow !== undefined;
  }

  stats(): TransportStats {
    const handshaking = this.listeners.reduce((n, { l }) => n + l.handshaking, 0);
    return {
      flows: this.table.counts(),
      handshaking,
      connecting: this.pool.connecting,
      pooled: this.pool.open,
      connections: this.caps.connections,
      udpSockets: this.udp.addresses.length,
      rejected: { maxConnections: this.caps.rejected['max-connections'], maxPerAddress: this.caps.rejected['max-per-address'], byReason: { ...this.caps.rejected } },
      listeners: Object.fromEntries(this.listeners.map(({ l }) => [l.name, l.slots.connections])),
      tlsFailures: { server: this.counters.tlsServer, client: this.counters.tlsClient },
      framingErrors: this.counters.framing,
      datagramsDropped: this.udp.dropped,
    };
  }

  /** Closes listeners, fails connects in progress, ends every flow; resolves when all sockets are closed. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    const listenersClosed = Promise.all(this.listeners.map(({ l }) => l.close()));
    const connectsClosed = this.pool.close();
    const flowsClosed = new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.table.size > 0) return;
        this.closeWaiters.delete(check);
        resolve();
      };
      this.closeWaiters.add(check);
      for (const flow of [...this.table.values()]) flow.end('shutdown');
      check();
    });
    await Promise.all([listenersClosed, connectsClosed, flowsClosed, this.udp.close()]);
  }

  private adopt(socket: net.Socket, init: AdoptInit, direction: 'inbound' | 'outbound'): Flow {
    const settings = direction === 'inbound' ? this.inboundSettings : this.outboundSettings;
    const flow = new Flow(socket, { ...init, id: this.table.nextId(init.transport), direction }, {
      onMessage: (f, data) => this.handler({ data, flow: f.info, transport: f.info.transport, remote: f.info.remote, local: f.info.local, receivedAt: this.clock.now() }),
      onFramingError: (f, error) => {
        this.counters.framing++;
        this.events.emit('framingError', { flow: f.info, error });
      },
      onClose: (f, reason, error) => {
        this.table.delete(f);
        this.pool.forget(f);
        this.events.emit('flowClosed', { flow: f.info, reason, error });
        for (const w of [...this.closeWaiters]) w();
      },
    }, settings, this.clock);
    this.table.add(flow);
    this.events.emit('flowOpened', flow.info);
    // A socket accepted while stopping is not kept.
    if (this.state === 'stopped') flow.end('shutdown');
    return flow;
  }
}

function slotsFor(at: ListenAddress, transport: StreamTransport): ListenerSlots {
  return new ListenerSlots(at.name ?? (at.side ? `${at.side}-${transport}` : `${transport}-${at.port}`), at.side ?? null);
}

/** Listeners without a side screen nobody. */
function knownSource(fn: NonNullable<TransportOptions['isKnownSource']>) {
  return (side: Side | null, remote: Endpoint, local: Endpoint, transport: StreamTransport): boolean => side === null || fn(side, remote, local, transport);
}
