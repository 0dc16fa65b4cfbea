import type { SipMessage } from '../message/message.js';
import type { PeerAddress } from '../transport/types.js';

/**
 * Where a message came from and where one goes are the transport layer's one address type (a
 * type only: the transaction layer never touches sockets). With a flowId the transport reuses
 * that connection if it is still open.
 */
export type { PeerAddress };

/** The transaction layer's view of the transport. */
export interface TransactionTransport {
  /**
   * Sends one whole message. Rejects when the message could not be handed to the network
   * (connect refused, TLS handshake failed or timed out, flow gone): RFC 3261 §17.1.4.
   * The rejection carries `reason` (e.g. 'handshake-timeout', 'name-mismatch', 'connect-refused').
   */
  send(data: Buffer, dest: PeerAddress): Promise<unknown>;
  /**
   * The same send without a promise: `onFailure` is called (never synchronously) with what `send`
   * would have rejected with. Every message a transaction sends goes this way when the transport
   * has it: a promise, its reaction and a microtask per message were a measurable share of the
   * edge's CPU per call (issue 13).
   */
  sendNoWait?(data: Buffer, dest: PeerAddress, onFailure: (err: unknown) => void): void;
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
  /**
   * How long an INVITE server transaction holds the TU's 100 Trying back (§17.2.1): it goes only
   * when no other response has been sent by then, or at once on a retransmission. 0 (the default
   * here): at once.
   */
  readonly trying?: number;
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
