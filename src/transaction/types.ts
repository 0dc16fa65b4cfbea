import type { SipMessage } from '../message/message.js';

/** Where a message came from (what the transport layer saw). */
export interface Source {
  readonly transport: 'udp' | 'tcp' | 'tls';
  /** Remote address and port as seen on the socket. */
  readonly address: string;
  readonly port: number;
  /** Local address/port the message arrived on (which listener). */
  readonly localAddress: string;
  readonly localPort: number;
  /** Stream connection it arrived on (TCP/TLS); responses go back on it (RFC 3261 §18.2.2). */
  readonly flowId?: string;
}

/** Where to send a message. With a flowId the transport reuses that connection if it is still open. */
export interface Destination {
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly host: string;
  readonly port: number;
  readonly flowId?: string;
  /** TLS: the name to send as SNI and to validate the certificate against (RFC 5922). */
  readonly servername?: string;
  /** UDP: the local listener port to send from (the exit leg). */
  readonly localPort?: number;
}

/** The transaction layer's view of the transport. */
export interface TransactionTransport {
  /**
   * Sends one whole message. Rejects when the message could not be handed to the network
   * (connect refused, TLS handshake failed or timed out, flow gone): RFC 3261 §17.1.4.
   * The rejection carries `reason` (e.g. 'handshake-timeout', 'name-mismatch', 'connect-refused').
   */
  send(data: Buffer, dest: Destination): Promise<unknown>;
}

export interface TransportFailure {
  readonly reason: string;
  readonly message: string;
}

/** RFC 3261 §17.1.1.1 / §17.1.2.2 timer base values, milliseconds (configurable). */
export interface TimerConfig {
  readonly T1: number;
  readonly T2: number;
  readonly T4: number;
  /** RFC 3261 §16.6 step 11: > 3 min. Used by the proxy, kept here with the others. */
  readonly timerC: number;
}

export const DEFAULT_TIMERS: TimerConfig = { T1: 500, T2: 4000, T4: 5000, timerC: 181_000 };

export interface ClientTransactionHandlers {
  /** Every response the transaction passes up (provisional, final, and 2xx retransmissions in Accepted). */
  onResponse(response: SipMessage): void;
  /** Timer B or F fired: the TU acts as if a 408 arrived (RFC 3261 §17.1.1.2 / §17.1.2.2). */
  onTimeout(): void;
  /** §17.1.4: the transport could not deliver the request; the TU treats it as a 503. */
  onTransportError(failure: TransportFailure): void;
  /** The transaction reached Terminated (for bookkeeping). */
  onTerminated?(): void;
}
