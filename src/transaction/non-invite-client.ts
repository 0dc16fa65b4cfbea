import type { ClientAction, ClientContext, ClientInput, ClientMachine } from './client-machine.js';
import { assertNever, cancelTimer, startTimer, type Step } from './fsm.js';

/**
 * Non-INVITE client transaction: RFC 3261 §17.1.2, Figure 6.
 *
 *   Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
 *     +-----------200-699-------------------^
 */

export type NonInviteClientTimer = 'E' | 'F' | 'K';

export type NonInviteClientState =
  | { readonly name: 'Trying'; readonly ctx: ClientContext; /** Next Timer E interval. */ readonly timerE: number }
  | { readonly name: 'Proceeding'; readonly ctx: ClientContext }
  | { readonly name: 'Completed'; readonly ctx: ClientContext }
  | { readonly name: 'Terminated' };

type Action = ClientAction<NonInviteClientTimer>;
type Input = ClientInput<NonInviteClientTimer>;
type NonInviteClientStep = Step<NonInviteClientState, Action>;

const TERMINATED: NonInviteClientState = { name: 'Terminated' };

/**
 * §17.1.2.2: "The Trying state is entered when the TU initiates a new client transaction with a
 * request. When entering this state, the client transaction SHOULD set timer F to fire in 64*T1
 * seconds ... If an unreliable transport is in use, the client transaction MUST set timer E to
 * fire in T1 seconds."
 */
export function startNonInviteClient(ctx: ClientContext): NonInviteClientStep {
  const actions: Action[] = [{ kind: 'send-request' }];
  if (!ctx.reliable) actions.push(startTimer('E', ctx.T1));
  actions.push(startTimer('F', 64 * ctx.T1));
  return { state: { name: 'Trying', ctx, timerE: ctx.T1 }, actions };
}

export function nonInviteClientTransition(state: NonInviteClientState, input: Input): NonInviteClientStep {
  switch (state.name) {
    case 'Trying':
    case 'Proceeding':
      return fromTryingOrProceeding(state, input);
    case 'Completed':
      switch (input.kind) {
        // "The Completed state exists to buffer any additional response retransmissions"
        case 'response':
        case 'transport-error':
        case 'stop-retransmissions':
          return { state, actions: [] };
        case 'timer':
          // "If Timer K fires while in this state, the client transaction MUST transition to the
          // Terminated state."
          return input.timer === 'K' ? { state: TERMINATED, actions: [{ kind: 'terminated' }] } : { state, actions: [] };
        default:
          return assertNever(input);
      }
    case 'Terminated':
      return { state, actions: [] };
    default:
      return assertNever(state);
  }
}

function fromTryingOrProceeding(
  state: Extract<NonInviteClientState, { name: 'Trying' | 'Proceeding' }>,
  input: Input,
): NonInviteClientStep {
  const { ctx } = state;
  switch (input.kind) {
    case 'timer':
      if (input.timer === 'E') {
        if (state.name === 'Trying') {
          // "If timer E fires while still in this state, the timer is reset, but this time with
          // value MIN(2*T1, T2) ... the next time ... MIN(4*T1, T2)" and so on.
          const next = Math.min(state.timerE * 2, ctx.T2);
          return { state: { ...state, timerE: next }, actions: [{ kind: 'send-request' }, startTimer('E', next)] };
        }
        // "If Timer E fires while in the Proceeding state, the request MUST be passed to the
        // transport layer for retransmission, and Timer E MUST be reset with a value of T2 seconds."
        return { state, actions: [{ kind: 'send-request' }, startTimer('E', ctx.T2)] };
      }
      if (input.timer === 'F') {
        // "If Timer F fires while the client transaction is still in the Trying [or Proceeding]
        // state, the client transaction SHOULD inform the TU about the timeout, and then it SHOULD
        // enter the Terminated state."
        return { state: TERMINATED, actions: [cancelTimer('E'), { kind: 'timeout' }, { kind: 'terminated' }] };
      }
      return { state, actions: [] };
    case 'stop-retransmissions':
      return { state, actions: [cancelTimer('E')] };
    case 'transport-error':
      // §17.1.4 / Figure 6: "Transport Err. / Inform TU" -> Terminated.
      return { state: TERMINATED, actions: [cancelTimer('E'), cancelTimer('F'), { kind: 'transport-error', failure: input.failure }, { kind: 'terminated' }] };
    case 'response': {
      const { response } = input;
      if (response.status < 200) {
        // "If a provisional response is received while in the Trying state, the response MUST be
        // passed to the TU, and then the client transaction SHOULD move to the Proceeding state."
        // Timer E keeps running; its next firing uses T2.
        return { state: { name: 'Proceeding', ctx }, actions: [{ kind: 'pass-response', response }] };
      }
      // "If a final response (status codes 200-699) is received while in the Trying [or Proceeding]
      // state, the response MUST be passed to the TU, and the client transaction MUST transition to
      // the Completed state ... Timer K ... T4 seconds for unreliable transports, and zero seconds
      // for reliable transports."
      const actions: Action[] = [cancelTimer('E'), cancelTimer('F')];
      if (ctx.reliable) {
        actions.push({ kind: 'pass-response', response }, { kind: 'terminated' });
        return { state: TERMINATED, actions };
      }
      actions.push(startTimer('K', ctx.T4), { kind: 'pass-response', response });
      return { state: { name: 'Completed', ctx }, actions };
    }
    default:
      return assertNever(input);
  }
}

export const nonInviteClientMachine: ClientMachine<NonInviteClientState, NonInviteClientTimer> = {
  kind: 'non-invite-client',
  terminated: TERMINATED,
  start: startNonInviteClient,
  transition: nonInviteClientTransition,
};
