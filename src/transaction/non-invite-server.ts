import type { SipMessage } from '../message/message.js';
import { assertNever, startTimer, type Step, type TxTiming } from './fsm.js';
import type { ServerAction, ServerInput, ServerMachine } from './server-machine.js';

/**
 * Non-INVITE server transaction: RFC 3261 §17.2.2, Figure 8.
 *
 *   Trying --1xx from TU--> Proceeding --200-699 from TU--> Completed --Timer J--> Terminated
 *     +---------------200-699 from TU---------------------------^
 */

export type NonInviteServerTimer = 'J';

export type NonInviteServerState =
  | { readonly name: 'Trying'; readonly ctx: TxTiming }
  | { readonly name: 'Proceeding'; readonly ctx: TxTiming; readonly lastProvisional: SipMessage }
  | { readonly name: 'Completed'; readonly ctx: TxTiming; readonly final: SipMessage }
  | { readonly name: 'Terminated' };

type Action = ServerAction<NonInviteServerTimer>;
type Input = ServerInput<NonInviteServerTimer>;
type NonInviteServerStep = Step<NonInviteServerState, Action>;

const TERMINATED: NonInviteServerState = { name: 'Terminated' };

export function initialNonInviteServer(ctx: TxTiming): NonInviteServerState {
  return { name: 'Trying', ctx };
}

export function nonInviteServerTransition(state: NonInviteServerState, input: Input): NonInviteServerStep {
  switch (state.name) {
    case 'Trying':
    case 'Proceeding': {
      const { ctx } = state;
      switch (input.kind) {
        case 'tu-response': {
          const { response } = input;
          // "While in the Trying state, if the TU passes a provisional response to the server
          // transaction, the server transaction MUST enter the Proceeding state" (and sends it);
          // in Proceeding "Any further provisional responses ... MUST be passed to the transport".
          if (response.status < 200) return { state: { name: 'Proceeding', ctx, lastProvisional: response }, actions: [{ kind: 'send-response', response }] };
          // "If the TU passes a final response (status codes 200-699) to the server while in the
          // Proceeding [or Trying] state, the transaction MUST enter the Completed state, and the
          // response MUST be passed to the transport layer for transmission." Timer J: 64*T1 for
          // unreliable transports, zero seconds for reliable ones.
          if (ctx.reliable) return { state: TERMINATED, actions: [{ kind: 'send-response', response }, { kind: 'terminated' }] };
          return { state: { name: 'Completed', ctx, final: response }, actions: [{ kind: 'send-response', response }, startTimer('J', 64 * ctx.T1)] };
        }
        case 'request':
          // "While in the Trying state, if the request is retransmitted, the request MUST be
          // discarded" / "If a retransmission of the request is received while in the Proceeding
          // state, the most recently sent provisional response MUST be passed to the transport".
          return state.name === 'Proceeding' ? { state, actions: [{ kind: 'send-response', response: state.lastProvisional }] } : { state, actions: [] };
        case 'transport-error':
          // Figure 8: Proceeding --Transport Err. / Inform TU--> Terminated.
          return { state: TERMINATED, actions: [{ kind: 'transport-error', failure: input.failure }, { kind: 'terminated' }] };
        case 'ack':
        case 'timer':
        // §16.2: a stateful proxy SHOULD NOT send 100 Trying for a non-INVITE request (RFC 4320 §4.1).
        case 'tu-trying':
          return { state, actions: [] };
        default:
          return assertNever(input);
      }
    }
    case 'Completed':
      switch (input.kind) {
        case 'request':
          // "While in the Completed state, the server transaction MUST pass the final response to
          // the transport layer for retransmission whenever a retransmission of the request is
          // received. Any other final responses passed by the TU ... MUST be discarded".
          return { state, actions: [{ kind: 'send-response', response: state.final }] };
        case 'timer':
          // "The server transaction remains in this state until Timer J fires, at which point it
          // MUST transition to the Terminated state."
          return input.timer === 'J' ? { state: TERMINATED, actions: [{ kind: 'terminated' }] } : { state, actions: [] };
        case 'transport-error':
          // Figure 8: Completed --Transport Err. / Inform TU--> Terminated.
          return { state: TERMINATED, actions: [{ kind: 'cancel-timer', timer: 'J' }, { kind: 'transport-error', failure: input.failure }, { kind: 'terminated' }] };
        case 'tu-response':
        case 'tu-trying':
        case 'ack':
          return { state, actions: [] };
        default:
          return assertNever(input);
      }
    case 'Terminated':
      return { state, actions: [] };
    default:
      return assertNever(state);
  }
}

export const nonInviteServerMachine: ServerMachine<NonInviteServerState, NonInviteServerTimer> = {
  kind: 'non-invite-server',
  terminated: TERMINATED,
  initial: initialNonInviteServer,
  transition: nonInviteServerTransition,
};
