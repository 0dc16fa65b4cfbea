import type { SipMessage } from '../message/message.js';
import { buildNonSuccessAck } from './ack.js';
import type { ClientAction, ClientContext, ClientInput, ClientMachine } from './client-machine.js';
import { TIMER_D_UNRELIABLE_MS, assertNever, cancelTimer, startTimer, type Step } from './fsm.js';

/**
 * INVITE client transaction: RFC 3261 §17.1.1, Figure 5, as updated by RFC 6026 §7.2 (Accepted).
 *
 *   Calling --1xx--> Proceeding --300-699--> Completed --Timer D--> Terminated
 *      |                  |
 *      +------2xx---------+----> Accepted --Timer M--> Terminated
 */

export type InviteClientTimer = 'A' | 'B' | 'D' | 'M';

export type InviteClientState =
  | { readonly name: 'Calling'; readonly ctx: ClientContext; /** Next Timer A interval. */ readonly timerA: number }
  | { readonly name: 'Proceeding'; readonly ctx: ClientContext }
  | { readonly name: 'Completed'; readonly ctx: ClientContext; readonly ack: SipMessage }
  /** Nothing is sent from here on (the 2xx ACK is end to end): it keeps nothing (one shared state). */
  | { readonly name: 'Accepted' }
  | { readonly name: 'Terminated' };

type Action = ClientAction<InviteClientTimer>;
type Input = ClientInput<InviteClientTimer>;
type InviteClientStep = Step<InviteClientState, Action>;

const TERMINATED: InviteClientState = { name: 'Terminated' };
const ACCEPTED: InviteClientState = { name: 'Accepted' };

/**
 * §17.1.1.2: "the client transaction MUST pass the request to the transport layer ... If an
 * unreliable transport is being used, the client transaction MUST start timer A with a value of
 * T1 ... For any transport, the client transaction MUST start timer B with a value of 64*T1".
 */
export function startInviteClient(ctx: ClientContext): InviteClientStep {
  const actions: Action[] = [{ kind: 'send-request' }];
  if (!ctx.reliable) actions.push(startTimer('A', ctx.T1));
  actions.push(startTimer('B', 64 * ctx.T1));
  return { state: { name: 'Calling', ctx, timerA: ctx.T1 }, actions };
}

export function inviteClientTransition(state: InviteClientState, input: Input): InviteClientStep {
  switch (state.name) {
    case 'Calling':
    case 'Proceeding':
      return fromCallingOrProceeding(state, input);
    case 'Completed':
      return fromCompleted(state, input);
    case 'Accepted':
      return fromAccepted(state, input);
    case 'Terminated':
      return { state, actions: [] };
    default:
      return assertNever(state);
  }
}

function fromCallingOrProceeding(
  state: Extract<InviteClientState, { name: 'Calling' | 'Proceeding' }>,
  input: Input,
): InviteClientStep {
  const { ctx } = state;
  switch (input.kind) {
    case 'timer':
      if (input.timer === 'A' && state.name === 'Calling') {
        // §17.1.1.2: "When timer A fires, the client transaction MUST retransmit the request ...
        // and reset the timer with a value of 2*T1" (doubling each time).
        const next = state.timerA * 2;
        return { state: { ...state, timerA: next }, actions: [{ kind: 'send-request' }, startTimer('A', next)] };
      }
      if (input.timer === 'B' && state.name === 'Calling') {
        // §17.1.1.2: "If ... Timer B fires, the client transaction SHOULD inform the TU that a
        // timeout has occurred" and move to Terminated.
        return { state: TERMINATED, actions: [cancelTimer('A'), { kind: 'timeout' }, { kind: 'terminated' }] };
      }
      return { state, actions: [] };
    case 'stop-retransmissions':
      return { state, actions: [cancelTimer('A')] };
    case 'transport-error':
      // Figure 5 has this edge from Calling only: once a response arrived the request got through,
      // and Proceeding sends nothing (a late failure of an old retransmission is ignored).
      if (state.name === 'Proceeding') return { state, actions: [] };
      // §17.1.4 / Figure 5: Calling --Transport Err. / Inform TU--> Terminated.
      return { state: TERMINATED, actions: [cancelTimer('A'), cancelTimer('B'), { kind: 'transport-error', failure: input.failure }, { kind: 'terminated' }] };
    case 'response': {
      const { response } = input;
      const status = response.status;
      if (status < 200) {
        // "If the client transaction receives a provisional response while in the Calling state,
        // it transitions to the Proceeding state ... SHOULD NOT retransmit the request any longer."
        const actions: Action[] = state.name === 'Calling' ? [cancelTimer('A'), cancelTimer('B')] : [];
        actions.push({ kind: 'pass-response', response });
        return { state: { name: 'Proceeding', ctx }, actions };
      }
      if (status < 300) {
        // RFC 6026 §8.4: "If a 2xx response is received while the client INVITE state machine is
        // in the Calling or Proceeding states, it MUST transition to the Accepted state, pass the
        // 2xx response to the TU, and set Timer M to 64*T1."
        return {
          state: ACCEPTED,
          actions: [cancelTimer('A'), cancelTimer('B'), startTimer('M', 64 * ctx.T1), { kind: 'pass-response', response }],
        };
      }
      // 300-699: "the client transaction MUST ... generate an ACK request ... pass the received
      // response up to the TU ... start timer D ... at least 32 seconds for unreliable transports,
      // and ... zero seconds for reliable transports."
      const ack = buildNonSuccessAck(ctx.request, response);
      const actions: Action[] = [cancelTimer('A'), cancelTimer('B'), { kind: 'send-ack', ack }];
      if (ctx.reliable) {
        actions.push({ kind: 'pass-response', response }, { kind: 'terminated' });
        return { state: TERMINATED, actions };
      }
      actions.push(startTimer('D', TIMER_D_UNRELIABLE_MS), { kind: 'pass-response', response });
      return { state: { name: 'Completed', ctx, ack }, actions };
    }
    default:
      return assertNever(input);
  }
}

function fromCompleted(state: Extract<InviteClientState, { name: 'Completed' }>, input: Input): InviteClientStep {
  switch (input.kind) {
    case 'response':
      // "Any retransmissions of the final response that are received while in the Completed state
      // MUST cause the ACK to be re-passed to the transport layer for retransmission, but the newly
      // received response MUST NOT be passed up to the TU."
      return input.response.status >= 300 ? { state, actions: [{ kind: 'send-ack', ack: state.ack }] } : { state, actions: [] };
    case 'timer':
      // "If timer D fires while the client transaction is in the Completed state, the client
      // transaction MUST move to the Terminated state."
      return input.timer === 'D' ? { state: TERMINATED, actions: [{ kind: 'terminated' }] } : { state, actions: [] };
    case 'transport-error':
      // Figure 5: Completed --Transport Err. / Inform TU--> Terminated (the ACK could not be sent).
      return { state: TERMINATED, actions: [cancelTimer('D'), { kind: 'transport-error', failure: input.failure }, { kind: 'terminated' }] };
    case 'stop-retransmissions':
      return { state, actions: [] };
    default:
      return assertNever(input);
  }
}

function fromAccepted(state: Extract<InviteClientState, { name: 'Accepted' }>, input: Input): InviteClientStep {
  switch (input.kind) {
    case 'response':
      // RFC 6026 §8.4: "A 2xx response received while in the Accepted state MUST be passed to the
      // TU and MUST NOT be retransmitted" (the transaction never ACKs a 2xx). Others are dropped.
      return input.response.status >= 200 && input.response.status < 300
        ? { state, actions: [{ kind: 'pass-response', response: input.response }] }
        : { state, actions: [] };
    case 'timer':
      // RFC 6026 §8.4: "If Timer M fires while the client INVITE transaction is in the Accepted
      // state, the client transaction MUST move to the Terminated state."
      return input.timer === 'M' ? { state: TERMINATED, actions: [{ kind: 'terminated' }] } : { state, actions: [] };
    case 'transport-error':
    case 'stop-retransmissions':
      return { state, actions: [] };
    default:
      return assertNever(input);
  }
}

export const inviteClientMachine: ClientMachine<InviteClientState, InviteClientTimer> = {
  kind: 'invite-client',
  terminated: TERMINATED,
  start: startInviteClient,
  transition: inviteClientTransition,
};
