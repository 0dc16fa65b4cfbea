import type { SipMessage } from '../message/message.js';
import type { Step, TimerAction, TxTiming } from './fsm.js';
import type { PeerAddress, TransportFailure } from './types.js';

/** What a server transaction machine reacts to (RFC 3261 §17.2, Figures 7 and 8). */
export type ServerInput<T extends string> =
  /** The TU hands a response to the transaction. */
  | { readonly kind: 'tu-response'; readonly response: SipMessage }
  /** INVITE: the TU wants a 100 Trying sent (§17.2.1), at once or after the timing's hold-back. */
  | { readonly kind: 'tu-trying' }
  /** A retransmission of the request that created the transaction (§17.2.3 matched it). */
  | { readonly kind: 'request' }
  /** An ACK matched to this (INVITE) transaction. */
  | { readonly kind: 'ack'; readonly ack: SipMessage; readonly source: PeerAddress }
  | { readonly kind: 'timer'; readonly timer: T }
  | { readonly kind: 'transport-error'; readonly failure: TransportFailure };

export type ServerAction<T extends string> =
  | TimerAction<T>
  | { readonly kind: 'send-response'; readonly response: SipMessage }
  /** Build the 100 Trying from the request and pass it in as a TU response (built only when sent). */
  | { readonly kind: 'send-trying' }
  /** RFC 6026 §8.5: an ACK matched in Accepted goes to the TU. */
  | { readonly kind: 'pass-ack'; readonly ack: SipMessage; readonly source: PeerAddress }
  /** Timer H: no ACK arrived for a non-2xx final response (§17.2.1). */
  | { readonly kind: 'timeout' }
  | { readonly kind: 'transport-error'; readonly failure: TransportFailure }
  | { readonly kind: 'terminated' };

export type ServerKind = 'invite-server' | 'non-invite-server';

export interface ServerMachine<S extends { readonly name: string }, T extends string> {
  readonly kind: ServerKind;
  readonly terminated: S;
  initial(ctx: TxTiming): S;
  transition(state: S, input: ServerInput<T>): Step<S, ServerAction<T>>;
}
