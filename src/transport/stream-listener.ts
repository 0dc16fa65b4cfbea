/**
 * TCP and TLS listeners. Each accepted socket is checked against the connection caps, then (TLS)
 * must finish its handshake within the S-TLS-6 limit, then becomes an inbound Flow.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Clock, TimerHandle } from '../clock.js';
import type { Flow } from './flow.js';
import type { ConnectionCaps, Side } from './flow-table.js';
import { ListenerSlots, tlsDetailsOf } from './flow-table.js';
import { TRANSPORT_ERROR_CODES, TransportError, errorDetail } from './transport-error.js';
import type { TransportEvents } from './transport-events.js';
import type { Endpoint, ListenAddress, StreamTransport, TlsDetails } from './types.js';
import { hostPort } from '../message/host-port.js';
import { endpoint } from './types.js';

export interface AdoptInit {
  readonly transport: StreamTransport;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly tls: TlsDetails | null;
}

export interface StreamListenerContext {
  readonly clock: Clock;
  readonly caps: ConnectionCaps;
  readonly events: TransportEvents;
  readonly handshakeTimeoutMs: number;
  classifyTlsError(err: unknown): string;
  /** Turns an accepted, established socket into a flow. */
  adopt(socket: net.Socket, init: AdoptInit): Flow;
  /** Called once per TLS server created (key logging for lab debugging). */
  onTlsServer?(server: tls.Server): void;
  /** A resumed session: null = keep it, else the reason it is refused (policy re-check). */
  checkResumedSession?(socket: tls.TLSSocket): string | null;
  /**
   * At accept, before any TLS: is the source a vendor address (outside) or a peer's source
   * (inside)? Absent = every source is known.
   */
  isKnownSource?(side: Side | null, remote: Endpoint, local: Endpoint, transport: StreamTransport): boolean;
  /** SO_REUSEPORT, each worker its own listening socket (TransportOptions.reusePort). */
  readonly reusePort?: boolean;
}

interface PendingHandshake {
  readonly raw: net.Socket;
  readonly remote: Endpoint;
  readonly local: Endpoint;
  readonly timer: TimerHandle;
  /** Gives the connection's cap slot back, once, whichever of raw or TLS socket closes first. */
  readonly release: () => void;
}

interface Admitted {
  readonly remote: Endpoint;
  readonly local: Endpoint;
  readonly known: boolean;
}

export class StreamListener {
  private readonly server: net.Server;

  /** Certificate reload: new handshakes use these options (SNI callback and the no-SNI default). */
  setTlsOptions(options: tls.TlsOptions): void {
    if (this.server instanceof tls.Server) this.server.setSecureContext(options);
  }
  /** TLS sockets between accept and 'secureConnection', by their raw socket. */
  private readonly pending = new Map<net.Socket, PendingHandshake>();
  private bound: Endpoint | null = null;

  constructor(
    readonly transport: StreamTransport,
    private readonly ctx: StreamListenerContext,
    tlsServerOptions?: tls.TlsOptions,
    /** This listener's name, side and share of the caps. */
    readonly slots: ListenerSlots = new ListenerSlots(transport, null),
  ) {
    // allowHalfOpen: a request followed by FIN is still answered (the flow ends our side later).
    if (transport === 'tls') {
      if (!tlsServerOptions) throw new TransportError(TRANSPORT_ERROR_CODES.LISTEN, 'no-tls-options', 'a TLS listener needs tlsServerOptions');
      // Node's own handshakeTimeout only emits 'tlsClientError' and leaves the TCP connection open;
      // our timer (injected clock) destroys the raw socket. Node's stays as a backstop.
      // Half-open only once secure (onSecure): a FIN during the handshake means it can never complete,
      // and a half-open TLSSocket reports nothing (its raw socket has no events once wrapped), so it
      // held its pending slot and its connection cap until the handshake timer. Not half-open, Node ends
      // the socket and reports 'socket hang up' at once (handshake-aborted).
      const server = tls.createServer({ ...tlsServerOptions, handshakeTimeout: ctx.handshakeTimeoutMs, allowHalfOpen: false });
      server.on('secureConnection', (socket) => this.onSecure(socket));
      server.on('tlsClientError', (err, socket) => this.onTlsClientError(err, socket));
      this.server = server;
      ctx.onTlsServer?.(server);
    } else {
      this.server = net.createServer({ allowHalfOpen: true });
    }
    // tls.Server's own 'connection' listener wraps the socket and starts the handshake. It is
    // taken off and called only for an admitted socket: a refused source costs no TLS state.
    const inner = this.server.listeners('connection') as Array<(this: net.Server, raw: net.Socket) => void>;
    this.server.removeAllListeners('connection');
    this.server.on('connection', (raw: net.Socket) => {
      const admitted = this.admit(raw);
      if (admitted === null) return;
      for (const fn of inner) fn.call(this.server, raw);
      // After tls.Server's own listener, so the TLSSocket wrapping `raw` already exists.
      this.onConnection(raw, admitted);
    });
  }

  get name(): string {
    return this.slots.name;
  }

  get address(): Endpoint | null {
    return this.bound;
  }

  get handshaking(): number {
    return this.pending.size;
  }

  listen(at: ListenAddress): Promise<Endpoint> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new TransportError(TRANSPORT_ERROR_CODES.LISTEN, 'bind-failed', `${this.transport} listen on ${at.host}:${at.port}: ${errorDetail(err)}`, { cause: err }));
      };
      this.server.once('error', onError);
      // ipv6Only: a '::' listener and a '0.0.0.0' listener can both be configured on one port.
      // exclusive: never a cluster primary's shared handle (as UdpTransport.listen).
      const reuse = this.ctx.reusePort === true ? { reusePort: true } : {};
      this.server.listen({ host: at.host, port: at.port, ipv6Only: net.isIPv6(at.host), exclusive: true, ...reuse }, () => {
        this.server.off('error', onError);
        // Accept errors (EMFILE) arrive as 'error' on a listening server: keep listening.
        this.server.on('error', () => {});
        const a = this.server.address() as net.AddressInfo;
        this.bound = endpoint(a.address, a.port);
        resolve(this.bound);
      });
    });
  }

  /** Stops accepting and drops handshakes in progress; resolves once every accepted socket is gone. */
  close(): Promise<void> {
    for (const [raw, p] of this.pending) {
      p.timer.cancel();
      raw.destroy();
    }
    this.pending.clear();
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }

  /** Source screen and caps, at accept: null = refused (destroyed now, before any byte is read). */
  private admit(raw: net.Socket): Admitted | null {
    const remote = endpoint(raw.remoteAddress, raw.remotePort);
    const local = endpoint(raw.localAddress, raw.localPort);
    const known = this.ctx.isKnownSource?.(this.slots.side, remote, local, this.transport) ?? true;
    const rejected = this.ctx.caps.admitInbound(remote.address, this.slots, known);
    if (rejected) {
      raw.on('error', () => {});
      raw.destroy();
      this.ctx.events.emit('connectionRejected', { reason: rejected, transport: this.transport, remote, listener: this.slots.name, side: this.slots.side });
      return null;
    }
    return { remote, local, known };
  }

  private onConnection(raw: net.Socket, { remote, local, known }: Admitted): void {
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.ctx.caps.release(remote.address, this.slots, known);
    };
    raw.once('close', release);
    raw.setNoDelay(true);
    if (this.transport === 'tcp') {
      this.ctx.adopt(raw, { transport: 'tcp', local, remote, tls: null });
      return;
    }
    // After the handshake the TLSSocket reports errors; before it, nothing else listens on raw.
    raw.on('error', () => {});
    const ms = this.ctx.handshakeTimeoutMs;
    const timer = this.ctx.clock.setTimer(ms, () => {
      this.fail(raw, 'handshake-timeout', `no TLS handshake within ${ms} ms (S-TLS-6)`, null);
    });
    this.pending.set(raw, { raw, remote, local, timer, release });
    raw.once('close', () => {
      if (!this.pending.has(raw)) return;
      // A 'tlsClientError' usually follows the close; give it a turn to report the real reason.
      setImmediate(() => this.fail(raw, 'handshake-aborted', 'connection closed before the TLS handshake completed', null));
    });
  }

  private onSecure(socket: tls.TLSSocket): void {
    const raw = rawOf(socket, this.pending);
    const p = raw ? this.pending.get(raw) : undefined;
    if (!raw || !p) {
      socket.destroy();
      return;
    }
    const resumed = socket.isSessionReused();
    const refused = resumed ? this.ctx.checkResumedSession?.(socket) ?? null : null;
    if (refused !== null) return this.fail(raw, 'no-shared-cipher', refused, socket);
    this.pending.delete(raw);
    p.timer.cancel();
    // Duplex reads this when the peer's FIN arrives: from here a request followed by FIN is answered.
    socket.allowHalfOpen = true;
    const servername = typeof socket.servername === 'string' ? socket.servername : null;
    const details = tlsDetailsOf(socket, servername);
    socket.once('close', p.release);
    socket.setNoDelay(true);
    const flow = this.ctx.adopt(socket, { transport: 'tls', local: p.local, remote: p.remote, tls: details });
    this.ctx.events.emit('tlsEstablished', { role: 'server', flowId: flow.id, cipher: details.cipher, protocol: details.protocol, remote: p.remote, servername, resumed });
  }

  private onTlsClientError(err: Error, socket: tls.TLSSocket): void {
    const raw = rawOf(socket, this.pending);
    // handshake-timeout and handshake-aborted (ECONNRESET) included: Transport's classifier.
    const reason = this.ctx.classifyTlsError(err);
    if (raw) this.fail(raw, reason, errorDetail(err), socket);
    else socket.destroy();
  }

  private fail(raw: net.Socket, reason: string, detail: string, socket: tls.TLSSocket | null): void {
    const p = this.pending.get(raw);
    socket?.destroy();
    if (!p) return;
    this.pending.delete(raw);
    p.timer.cancel();
    raw.destroy();
    const servername = socket && typeof socket.servername === 'string' ? socket.servername : null;
    this.ctx.events.emit('tlsFailure', { role: 'server', reason, remote: p.remote, detail: `${hostPort(p.remote)}: ${detail}`, servername });
  }
}

/**
 * The raw socket under a server-side TLSSocket. Node keeps it as `_parent` (not public API); the
 * remote address/port pair is the fallback, but it is gone once the peer has reset the connection.
 */
function rawOf(socket: tls.TLSSocket, pending: ReadonlyMap<net.Socket, PendingHandshake>): net.Socket | null {
  const parent = (socket as unknown as { _parent?: unknown })._parent;
  // A raw socket no longer pending was failed already (timer, abort): no search. Searching then made
  // each late 'tlsClientError' cost a pass over every handshake in progress, so a burst of aborted
  // handshakes cost the square of its size.
  if (parent instanceof net.Socket) return pending.has(parent) ? parent : null;
  for (const [raw, p] of pending) {
    if (p.remote.port === socket.remotePort && p.remote.address === endpoint(socket.remoteAddress, 0).address) return raw;
  }
  return null;
}
