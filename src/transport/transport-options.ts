/**
 * Transport settings and their defaults. Every limit is named once here with a one-line reason;
 * config/limits.ts can re-export them to operators.
 */
import type tls from 'node:tls';
import type { Clock } from '../clock.js';
import type { Side } from '../diagnostics.js';
import type { MessageLimits } from '../message/constants.js';
import type { Endpoint, ListenAddress, PeerAddress, StreamTransport, VerifyPeer } from './types.js';

export interface TransportLimits {
  /** All stream connections (accepted, opening, handshaking): a bound on file descriptors. */
  readonly maxConnections: number;
  /** Accepted connections from one remote IP address: one peer cannot take the whole table. */
  readonly maxConnectionsPerAddress: number;
  /** Accepted flows with no traffic for this long are closed. */
  readonly idleTimeoutMs: number;
  /** Opened flows with no traffic (pongs count) for this long are closed; 0 = never. */
  readonly outboundIdleTimeoutMs: number;
  /** RFC 5626 §4.4.1: CRLFCRLF ping on opened flows idle this long; 0 = no pings. */
  readonly keepAliveIntervalMs: number;
  /** RFC 5626 §4.4.1: no pong (nor anything else) within this after a ping closes the flow. */
  readonly keepAlivePongTimeoutMs: number;
  /** TCP connect to an outside target. */
  readonly connectTimeoutMs: number;
  /** Stop reading from a socket whose unsent bytes exceed this, until 'drain'. */
  readonly writeHighWaterBytes: number;
  /** Close a flow whose unsent bytes exceed this: the peer is not reading (slow-peer abuse). */
  readonly writeCloseBytes: number;
  /** Sends queued behind one connect. */
  readonly maxQueuedSends: number;
  /** Accepted connections (handshakes included) per listener: a flood on one listener leaves the others alone. */
  readonly maxConnectionsPerListener: number;
  /** Accepted connections on all outside listeners; with the inside cap below maxConnections, room stays for the connections the edge opens. */
  readonly maxOutsideConnections: number;
  /** Accepted connections on all inside listeners. */
  readonly maxInsideConnections: number;
  /** Slots of each cap (listener, side, global) that connections from unknown sources may not take. */
  readonly reservedConnections: number;
  /** Connections per listener from sources that are not vendor addresses / peer sources; 0 = refused at accept, before TLS. */
  readonly unknownSourceConnectionsPerListener: number;
  /** Accepted flows that send no complete SIP message within this are closed (0 = never). */
  readonly firstMessageTimeoutMs: number;
  /** A flow paused by back-pressure that does not drain within this is closed: the peer is not reading (0 = never). */
  readonly writeStallMs: number;
  /** After a peer's FIN, answers still owed may go out for this long before our side ends (0 = end at the FIN, after flushing). */
  readonly halfOpenLingerMs: number;
  /** Largest datagram sent: 65,535 - 8 (UDP) - 20 (IPv4). RFC 3261 §18.1.1 wants TCP well before that. */
  readonly maxDatagramSize: number;
  /** SO_RCVBUF for UDP sockets: absorbs bursts during GC pauses instead of dropping (capped by net.core.rmem_max). */
  readonly udpReceiveBufferBytes: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxConnections: 10_000,
  maxConnectionsPerAddress: 100,
  idleTimeoutMs: 3_600_000,
  outboundIdleTimeoutMs: 3_600_000,
  keepAliveIntervalMs: 30_000,
  keepAlivePongTimeoutMs: 10_000,
  connectTimeoutMs: 2_000,
  writeHighWaterBytes: 65_536,
  writeCloseBytes: 2_097_152,
  maxQueuedSends: 1_000,
  maxConnectionsPerListener: 4_000,
  maxOutsideConnections: 4_000,
  maxInsideConnections: 4_000,
  reservedConnections: 200,
  unknownSourceConnectionsPerListener: 0,
  firstMessageTimeoutMs: 10_000,
  writeStallMs: 10_000,
  halfOpenLingerMs: 0,
  maxDatagramSize: 65_507,
  udpReceiveBufferBytes: 4_194_304,
};

/** S-TLS-6: the TLS handshake on these trunks has a 500 ms timeout (both directions). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 500;

export interface TransportOptions {
  readonly udp?: readonly ListenAddress[];
  readonly tcp?: readonly ListenAddress[];
  readonly tls?: readonly ListenAddress[];
  /** Server side TLS, built by tls/ (versions, ciphers, curve, certificates, SNICallback). Required with `tls` listeners. */
  readonly tlsServerOptions?: tls.TlsOptions;
  readonly handshakeTimeoutMs?: number;
  /** Client side TLS options per target, built by tls/ (trust store, versions, ciphers). */
  readonly connectOptions?: (target: PeerAddress) => tls.ConnectionOptions;
  /** Called after 'secureConnect'; a failure destroys the socket and fails the target with its reason. */
  readonly verifyPeer?: VerifyPeer;
  /** Short reason for a TLS handshake error (both roles), after Transport's own handshake-timeout and handshake-aborted; default `handshake-failed`. */
  readonly classifyTlsError?: (err: unknown) => string;
  readonly clock?: Clock;
  readonly limits?: Partial<TransportLimits>;
  readonly messageLimits?: Partial<MessageLimits>;
  /** Seams for TLS key logging (lab debugging): every TLS server, and every client socket before its handshake. */
  readonly onTlsServer?: (server: tls.Server) => void;
  readonly onTlsClientSocket?: (socket: tls.TLSSocket) => void;
  /** A resumed server-side session: null = keep it, else why it is refused (the connection is dropped as a TLS failure). */
  readonly checkResumedSession?: (socket: tls.TLSSocket) => string | null;
  /** Prefix for flow ids, e.g. a worker index (architecture: several workers per machine). */
  readonly flowIdPrefix?: string;
  /**
   * Bind every listener with SO_REUSEPORT, each process its own socket (`exclusive`: a cluster
   * worker does not share the primary's handle): the kernel spreads sources over the workers by
   * their 4-tuple (edge.workers, docs/workers.md). Default false: a port is ours alone.
   */
  readonly reusePort?: boolean;
  /**
   * At accept on a listener with a `side`, before any TLS: true when the source is a vendor address
   * (outside) or a peer's source (inside). Absent = every source is known.
   */
  readonly isKnownSource?: (side: Side, remote: Endpoint, local: Endpoint, transport: StreamTransport) => boolean;
}
