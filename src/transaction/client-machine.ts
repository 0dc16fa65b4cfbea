import type { SipMessage } from '../message/message.js';
import type { Step, TimerAction, TxTiming } from './fsm.js';
import type { TransportFailure } from './types.js';

/** What a client transaction machine reacts to (RFC 3261 §17.1, Figures 5 and 6). */
export type ClientInput<T extends string> =
  | { readonly kind: 'response'; readonly response: SipMessage }
  | { readonly kind: 'timer'; readonly timer: T }
  | { readonly kind: 'transport-error'; readonly failure: TransportFailure }
  /** The TU gives up on retransmitting (e.g. a branch it cancels before any 1xx, §9.1). */
  | { readonly kind: 'stop-retransmissions' };

/** What a client transaction machine asks its driver to do. */
export type ClientAction<T extends string> =
  | TimerAction<T>
  | { readonly kind: 'send-request' }
  | { readonly kind: 'send-ack'; readonly ack: SipMessage }
  | { readonly kind: 'pass-response'; readonly response: SipMessage }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'transport-error'; readonly failure: TransportFailure }
  | { readonly kind: 'terminated' };

export interface ClientContext extends TxTiming {
  /** The request as handed to the transport (the ACK for a non-2xx is built from it). */
  readonly request: SipMessage;
}

export type ClientKind = 'invite-client' | 'non-invite-client';

export interface ClientMachine<S extends { readonly name: string }, T extends string> {
  readonly kind: ClientKind;
  readonly terminated: S;
  start(ctx: ClientContext): Step<S, ClientAction<T>>;
  transition(state: S, input: ClientInput<T>): Step<S, ClientAction<T>>;
}
