import type { Clock } from '../clock.js';
import type { SipMessage } from '../message/message.js';
import type { ClientAction, ClientContext, ClientInput, ClientKind, ClientMachine } from './client-machine.js';
import { TimerSet, sendOrReport, toFailure, type TxTiming } from './fsm.js';
import type { InviteClientState } from './invite-client.js';
import type { NonInviteClientState } from './non-invite-client.js';
import type { ClientTransactionHandlers, PeerAddress, TransactionTransport } from './types.js';

export type ClientTransactionState = InviteClientState['name'] | NonInviteClientState['name'];

/** A client transaction as the TU (the proxy) sees it: RFC 3261 §17.1. */
export interface ClientTransaction {
  readonly kind: ClientKind;
  /** Top Via branch of the request (made by the proxy; opaque here). */
  readonly branch: string;
  readonly method: string;
  /** The request as sent; released (reading it throws) once a final response arrived. */
  readonly request: SipMessage;
  readonly dest: PeerAddress;
  readonly state: ClientTransactionState;
  /** Milliseconds on the layer's clock when the request was first sent. */
  readonly createdAt: number;
  /**
   * Stops retransmitting the request (Timers A/E) without changing state, e.g. for a branch the
   * proxy gives up on before any provisional arrived (§9.1: no CANCEL then). Timer B/F still ends
   * the transaction, with onTimeout as usual.
   */
  cancelTimers(): void;
  /** Ends the transaction now: timers cancelled, no further callbacks but onTerminated. */
  terminate(): void;
}

export interface ClientDriverDeps {
  readonly transport: TransactionTransport;
  readonly clock: Clock;
  readonly timing: TxTiming;
  /** The layer's bookkeeping hook, called once on Terminated before `handlers.onTerminated`. */
  readonly onTerminated: (tx: ClientTransaction) => void;
}

/** Performs the actions of a pure client machine: sends, timers, TU callbacks. */
export class ClientTransactionDriver<S extends { readonly name: ClientTransactionState }, T extends string> implements ClientTransaction {
  readonly kind: ClientKind;
  readonly branch: string;
  readonly method: string;
  readonly createdAt: number;
  private current: S;
  private pending: readonly ClientAction<T>[];
  private readonly timers: TimerSet<T>;
  private requestBytes: Buffer | null = null;
  private req: SipMessage | null;
  /** The ACK of a non-2xx final response, compacted (resent from it on retransmissions through Timer D). */
  private ack: SipMessage | null = null;
  private done = false;

  constructor(
    private readonly machine: ClientMachine<S, T>,
    request: SipMessage,
    readonly dest: PeerAddress,
    private readonly handlers: ClientTransactionHandlers,
    private readonly deps: ClientDriverDeps,
    /** The top Via's branch if the caller has it at hand. */
    knownBranch?: string,
  ) {
    this.req = request;
    const branch = knownBranch ?? request.via().branch;
    if (branch === null) throw new Error('client transaction: the request has no Via branch');
    this.kind = machine.kind;
    this.branch = branch;
    this.method = request.method;
    this.createdAt = deps.clock.now();
    this.timers = new TimerSet(deps.clock, (timer) => this.input({ kind: 'timer', timer }));
    const ctx: ClientContext = { ...deps.timing, request };
    const step = machine.start(ctx);
    this.current = step.state;
    this.pending = step.actions;
  }

  get request(): SipMessage {
    if (this.req === null) throw new Error(`${this.kind} transaction: the request is released once a final response arrived`);
    return this.req;
  }

  get state(): ClientTransactionState {
    return this.current.name;
  }

  /** Sends the request and starts the timers (separate from construction so the layer can register first). */
  start(): void {
    const actions = this.pending;
    this.pending = [];
    this.run(actions);
  }

  /** A response matched to this transaction by §17.1.3. */
  receiveResponse(response: SipMessage): void {
    this.input({ kind: 'response', response });
  }

  cancelTimers(): void {
    this.input({ kind: 'stop-retransmissions' });
  }

  terminate(): void {
    if (this.done) return;
    this.current = this.machine.terminated;
    this.finish();
  }

  /**
   * The layer took over its lingering state as a record (TransactionLayer.relay2xx): no timers,
   * no more input, no TU callbacks; the driver is garbage once the TU lets go of it.
   */
  retire(): void {
    this.done = true;
    this.timers.cancelAll();
  }

  private input(input: ClientInput<T>): void {
    if (this.done) return;
    const step = this.machine.transition(this.current, input);
    this.current = step.state;
    this.run(step.actions);
    // After a final response nothing is (re)sent from the request: the transaction only lingers
    // (RFC 6026 Accepted, Timers D/K) and need not hold it.
    const name = this.current.name;
    if (name === 'Accepted' || name === 'Completed' || name === 'Terminated') {
      this.req = null;
      this.requestBytes = null;
    }
  }

  private run(actions: readonly ClientAction<T>[]): void {
    for (const a of actions) {
      if (this.done) return;
      switch (a.kind) {
        case 'send-request':
          // The request is final once handed over (see TransactionLayer.createClient): compact it
          // (it holds its bytes and little else) and send those; Timers A/E resend the same bytes
          // until a final response.
          if (this.requestBytes === null) this.requestBytes = this.request.compact();
          this.send(this.requestBytes);
          break;
        case 'send-ack':
          if (this.ack === a.ack) this.send(a.ack.serialize());
          else {
            this.ack = a.ack;
            this.send(a.ack.compact());
          }
          break;
        case 'start-timer':
          this.timers.start(a.timer, a.ms);
          break;
        case 'cancel-timer':
          this.timers.cancel(a.timer);
          break;
        case 'pass-response':
          this.handlers.onResponse(a.response);
          break;
        case 'timeout':
          this.handlers.onTimeout();
          break;
        case 'transport-error':
          this.handlers.onTransportError(a.failure);
          break;
        case 'terminated':
          this.finish();
          break;
        default: {
          const never: never = a;
          throw new Error(`unknown action ${JSON.stringify(never)}`);
        }
      }
    }
  }

  /** §17.1.4: a rejected send becomes the machine's "Transport Err." input. */
  private send(data: Buffer): void {
    sendOrReport(this.deps.transport, data, this.dest, (err) => this.input({ kind: 'transport-error', failure: toFailure(err) }));
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.timers.cancelAll();
    this.deps.onTerminated(this);
    this.handlers.onTerminated?.();
  }
}
