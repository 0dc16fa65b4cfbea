import type { SipMessage } from '../message/message.js';
import { assertNever, cancelTimer, startTimer, type Step, type TxTiming } from './fsm.js';
import type { ServerAction, ServerInput, ServerMachine } from './server-machine.js';

/**
 * INVITE server transaction: RFC 3261 §17.2.1, Figure 7, as updated by RFC 6026 §7.1 (Accepted).
 *
 *   Proceeding --300-699 from TU--> Completed --ACK--> Confirmed --Timer I--> Terminated
 *        |                              +--Timer H (no ACK)--> Terminated
 *        +--2xx from TU--> Accepted --Timer L--> Terminated
 *
 * The TU asks for the 100 Trying (`tu-trying`) once it has accepted the request for processing; the
 * machine sends it at once, or with `ctx.trying` > 0 holds it back that long (timer `Trying`): §17.2.1
 * "MUST generate a 100 (Trying) response unless it knows that the TU will generate a provisional or
 * final response within 200 ms". A response sent first makes it moot; a retransmission of the
 * request sends it at once (the 100 exists to quench retransmissions).
 */

export type InviteServerTimer = 'G' | 'H' | 'I' | 'L' | 'Trying';

export type InviteServerState =
  | {
    readonly name: 'Proceeding'; readonly ctx: TxTiming; readonly lastProvisional: SipMessage | null;
    /** A 100 Trying is held back (timer `Trying` runs). */
    readonly tryingHeld: boolean;
  }
  | { readonly name: 'Completed'; readonly ctx: TxTiming; readonly final: SipMessage; /** Current Timer G interval. */ readonly timerG: number }
  | { readonly name: 'Confirmed'; readonly ctx: TxTiming }
  | { readonly name: 'Accepted'; readonly ctx: TxTiming }
  | { readonly name: 'Terminated' };

type Action = ServerAction<InviteServerTimer>;
type Input = ServerInput<InviteServerTimer>;
type InviteServerStep = Step<InviteServerState, Action>;

const TERMINATED: InviteServerState = { name: 'Terminated' };

export function initialInviteServer(ctx: TxTiming): InviteServerState {
  return { name: 'Proceeding', ctx, lastProvisional: null, tryingHeld: false };
}

export function inviteServerTransition(state: InviteServerState, input: Input): InviteServerStep {
  switch (state.name) {
    case 'Proceeding':
      return fromProceeding(state, input);
    case 'Completed':
      return fromCompleted(state, input);
    case 'Confirmed':
      // "The purpose of the Confirmed state is to absorb any additional ACK messages that arrive,
      // triggered from retransmissions of the final response. When this state is entered, timer I
      // is set to fire in T4 seconds for unreliable transports, and zero seconds for reliable
      // transports. Once timer I fires, the server MUST transition to the Terminated state."
      if (input.kind === 'timer' && input.timer === 'I') return { state: TERMINATED, actions: [{ kind: 'terminated' }] };
      return { state, actions: [] };
    case 'Accepted':
      return fromAccepted(state, input);
    case 'Terminated':
      return { state, actions: [] };
    default:
      return assertNever(state);
  }
}

const SEND_TRYING: Action = { kind: 'send-trying' };
const CANCEL_TRYING: Action = cancelTimer('Trying');

function fromProceeding(state: Extract<InviteServerState, { name: 'Proceeding' }>, input: Input): InviteServerStep {
  const { ctx } = state;
  switch (input.kind) {
    case 'tu-response': {
      const { response } = input;
      const status = response.status;
      // Any response sent first answers for the held 100 Trying (§17.2.1).
      const held: Action[] = state.tryingHeld ? [CANCEL_TRYING] : [];
      // "The TU passes any number of provisional responses to the server transaction. So long as
      // the server transaction is in the Proceeding state, each of these MUST be passed to the
      // transport layer for transmission."
      if (status < 200) return { state: { ...state, lastProvisional: response, tryingHeld: false }, actions: [...held, { kind: 'send-response', response }] };
      // RFC 6026 §8.5: "If, while in the Proceeding state, the TU passes a 2xx response to the
      // server transaction, the server transaction MUST pass this response to the transport layer
      // for transmission ... The server transaction MUST then transition to the Accepted state",
      // starting Timer L = 64*T1.
      if (status < 300) {
        return { state: { name: 'Accepted', ctx }, actions: [...held, { kind: 'send-response', response }, startTimer('L', 64 * ctx.T1)] };
      }
      // "While in the Proceeding state, if the TU passes a response with status code from 300 to
      // 699 to the server transaction, the response MUST be passed to the transport layer for
      // transmission, and the state machine MUST enter the Completed state. For unreliable
      // transports, timer G is set to fire in T1 seconds ... timer H MUST be set to fire in 64*T1."
      const actions: Action[] = [...held, { kind: 'send-response', response }];
      if (!ctx.reliable) actions.push(startTimer('G', ctx.T1));
      actions.push(startTimer('H', 64 * ctx.T1));
      return { state: { name: 'Completed', ctx, final: response, timerG: ctx.T1 }, actions };
    }
    case 'tu-trying':
      // Once per transaction, and never after another provisional response.
      if (state.tryingHeld || state.lastProvisional !== null) return { state, actions: [] };
      if (ctx.trying <= 0) return { state, actions: [SEND_TRYING] };
      return { state: { ...state, tryingHeld: true }, actions: [startTimer('Trying', ctx.trying)] };
    case 'request':
      // "If a request retransmission is received while in the Proceeding state, the most recent
      // provisional response that was received from the TU MUST be passed to the transport layer."
      // A held 100 Trying goes now: the sender is retransmitting already.
      if (state.tryingHeld) return { state: { ...state, tryingHeld: false }, actions: [CANCEL_TRYING, SEND_TRYING] };
      return { state, actions: state.lastProvisional === null ? [] : [{ kind: 'send-response', response: state.lastProvisional }] };
    case 'timer':
      if (input.timer === 'Trying' && state.tryingHeld) return { state: { ...state, tryingHeld: false }, actions: [SEND_TRYING] };
      return { state, actions: [] };
    case 'transport-error':
      // Figure 7: Proceeding --Transport Err. / Inform TU--> Terminated.
      return { state: TERMINATED, actions: [{ kind: 'transport-error', failure: input.failure }, { kind: 'terminated' }] };
    case 'ack':
      return { state, actions: [] };
    default:
      return assertNever(input);
  }
}

function fromCompleted(state: Extract<InviteServerState, { name: 'Completed' }>, input: Input): InviteServerStep {
  const { ctx } = state;
  switch (input.kind) {
    case 'request':
      // "While in the Completed state, if a request retransmission is received, the server SHOULD
      // pass the response to the transport for retransmission."
      return { state, actions: [{ kind: 'send-response', response: state.final }] };
    case 'ack':
      // "If an ACK is received while the server transaction is in the Completed state, the server
      // transaction MUST transition to the Confirmed state. As Timer G is ignored in this state,
      // any retransmissions of the response will cease." Timer I: T4 (unreliable) or zero.
      if (ctx.reliable) return { state: TERMINATED, actions: [cancelTimer('G'), cancelTimer('H'), { kind: 'terminated' }] };
      return { state: { name: 'Confirmed', ctx }, actions: [cancelTimer('G'), cancelTimer('H'), startTimer('I', ctx.T4)] };
    case 'timer':
      if (input.timer === 'G') {
        // "If timer G fires, the response is passed to the transport layer once more for
        // retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds" (doubling, capped).
        const next = Math.min(state.timerG * 2, ctx.T2);
        return { state: { ...state, timerG: next }, actions: [{ kind: 'send-response', response: state.final }, startTimer('G', next)] };
      }
      if (input.timer === 'H') {
        // "If timer H fires while in the Completed state, it implies that the ACK was never
        // received. In this case, the server transaction MUST transition to the Terminated state,
        // and MUST indicate to the TU that a transaction failure has occurred."
        return { state: TERMINATED, actions: [cancelTimer('G'), { kind: 'timeout' }, { kind: 'terminated' }] };
      }
      return { state, actions: [] };
    case 'transport-error':
      // Figure 7: Completed --Transport Err. / Inform TU--> Terminated.
      return { state: TERMINATED, actions: [cancelTimer('G'), cancelTimer('H'), { kind: 'transport-error', failure: input.failure }, { kind: 'terminated' }] };
    case 'tu-response':
    case 'tu-trying':
      return { state, actions: [] };
    default:
      return assertNever(input);
  }
}

function fromAccepted(state: Extract<InviteServerState, { name: 'Accepted' }>, input: Input): InviteServerStep {
  switch (input.kind) {
    case 'tu-response':
      // RFC 6026 §8.5: "The server transaction MUST NOT generate 2xx retransmissions on its own. Any
      // retransmission of the 2xx response passed from the TU to the transaction while in the
      // Accepted state MUST be passed to the transport layer for transmission."
      return input.response.status >= 200 && input.response.status < 300
        ? { state, actions: [{ kind: 'send-response', response: input.response }] }
        : { state, actions: [] };
    case 'ack':
      // RFC 6026 §8.5: "Any ACKs received from the network while in the Accepted state MUST be
      // passed directly to the TU and not absorbed."
      return { state, actions: [{ kind: 'pass-ack', ack: input.ack, source: input.source }] };
    case 'request':
      // RFC 6026 Figure 7: INVITE retransmissions in Accepted are absorbed (the UAS core, not the
      // transaction, retransmits 2xx).
    case 'tu-trying':
      return { state, actions: [] };
    case 'timer':
      // RFC 6026 §8.5: "If Timer L fires while the INVITE server transaction is in the Accepted
      // state, the transaction MUST transition to the Terminated state."
      return input.timer === 'L' ? { state: TERMINATED, actions: [{ kind: 'terminated' }] } : { state, actions: [] };
    case 'transport-error':
      // A 2xx could not be sent: RFC 6026 §7.1 keeps RFC 3261's "Transport Err. / Inform TU".
      return { state: TERMINATED, actions: [cancelTimer('L'), { kind: 'transport-error', failure: input.failure }, { kind: 'terminated' }] };
    default:
      return assertNever(input);
  }
}

export const inviteServerMachine: ServerMachine<InviteServerState, InviteServerTimer> = {
  kind: 'invite-server',
  terminated: TERMINATED,
  initial: initialInviteServer,
  transition: inviteServerTransition,
};
