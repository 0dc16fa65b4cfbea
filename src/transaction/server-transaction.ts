import type { Clock } from '../clock.js';
import { buildResponse } from '../message/build-response.js';
import { ownString, type SipMessage } from '../message/message.js';
import { TimerSet, sendOrReport, toFailure, type TxTiming } from './fsm.js';
import { branchOfKey } from './matching.js';
import type { InviteServerState } from './invite-server.js';
import type { NonInviteServerState } from './non-invite-server.js';
import type { ServerAction, ServerInput, ServerKind, ServerMachine } from './server-machine.js';
import type { PeerAddress, TransactionTransport, TransportFailure } from './types.js';

export type ServerTransactionState = InviteServerState['name'] | NonInviteServerState['name'];

/** Why a server transaction ended (published through `onServerTxTerminated`). */
export type ServerTerminationCause =
  /** Timer I, J or L, or the reliable-transport zero timers: the normal end. */
  | { readonly kind: 'completed' }
  /** Timer H: no ACK for a non-2xx final response (§17.2.1 "transaction failure"). */
  | { readonly kind: 'timeout' }
  /** A response could not be sent (§17.2.1 / §17.2.2 "Transport Err. / Inform TU"). */
  | { readonly kind: 'transport-error'; readonly failure: TransportFailure }
  /** `terminate()` was called. */
  | { readonly kind: 'terminated-by-tu' };

/** A server transaction as the TU (the proxy) sees it: RFC 3261 §17.2. */
export interface ServerTransaction {
  readonly kind: ServerKind;
  /**
   * The request that created the transaction, until a final response has been sent: from then on
   * the transaction only lingers (RFC 6026, up to 32 s) and keeps its response bytes, not the
   * request; reading it then is a bug and throws.
   */
  readonly request: SipMessage;
  readonly source: PeerAddress;
  /** Top Via branch of the request, or null (RFC 2543 peers may omit it). */
  readonly branch: string | null;
  /** Where responses go (§18.2.2 + RFC 3581), fixed when the request arrived. */
  readonly responseDest: PeerAddress;
  readonly state: ServerTransactionState;
  /** The response most recently passed to the transport (provisional or final). */
  readonly lastResponse: SipMessage | null;
  /** Its status code, 0 before any. */
  readonly lastStatus: number;
  readonly terminationCause: ServerTerminationCause | null;
  readonly createdAt: number;
  /** Sends a provisional or final response through the state machine (Figures 7 and 8). */
  respond(response: SipMessage): void;
  /**
   * INVITE: the 100 Trying of §17.2.1, built from the request when it goes: at once, or (timers.trying
   * > 0) only when no other response has been sent that long after, or at once on a retransmission.
   * A non-INVITE transaction ignores it (§16.2: SHOULD NOT).
   */
  trying(): void;
  /** Ends the transaction now; no further sends. */
  terminate(): void;
}

/** What every server transaction of a layer shares (one object per layer). */
export interface ServerDriverDeps {
  readonly transport: TransactionTransport;
  readonly clock: Clock;
  readonly onAck: (ack: SipMessage, source: PeerAddress, tx: ServerTransaction) => void;
  readonly onTerminated: (tx: ServerTransaction) => void;
  /**
   * Asked when the transaction enters its lingering state (Timer L in Accepted, Timer J in a
   * non-INVITE Completed) for `ms`: true = the layer keeps a record for it instead
   * (lingering.ts); the driver starts no timer and is left to whoever still holds it.
   */
  readonly linger?: (tx: ServerTransactionDriver<{ readonly name: ServerTransactionState }, string>, ms: number) => boolean;
}


/** Performs the actions of a pure server machine: sends, timers, TU notifications. */
export class ServerTransactionDriver<S extends { readonly name: ServerTransactionState }, T extends string> implements ServerTransaction {
  readonly kind: ServerKind;
  readonly createdAt: number;
  private current: S;
  private readonly timers: TimerSet<T>;
  /** The response most recently sent and its bytes (resent on retransmissions). */
  private last: SipMessage | null = null;
  private lastData: Buffer | null = null;
  private req: SipMessage | null;
  /** The branch of an RFC 2543 request (its key does not start with one). */
  private readonly legacyBranch: string | null;
  private cause: ServerTerminationCause | null = null;
  private done = false;

  constructor(
    private readonly machine: ServerMachine<S, T>,
    request: SipMessage,
    readonly source: PeerAddress,
    private readonly deps: ServerDriverDeps,
    timing: TxTiming,
    /** Where responses go (§18.2.2 + RFC 3581), fixed when the request arrived. */
    readonly responseDest: PeerAddress,
    /** The transaction layer's table key for this transaction (kept on it, not in a side table). */
    readonly key: string,
    /** RFC 2543 INVITE only: the key its ACK is found by. */
    readonly legacyAckKey: string | null,
  ) {
    this.req = request;
    const branch = branchOfKey(key) !== null ? null : request.via().branch;
    this.legacyBranch = branch === null ? null : ownString(branch);
    this.kind = machine.kind;
    this.createdAt = deps.clock.now();
    this.timers = new TimerSet(deps.clock, (timer) => this.input({ kind: 'timer', timer }));
    this.current = machine.initial(timing);
  }

  /** Read from the key (RFC 3261 keys start with the branch): one string less per transaction. */
  get branch(): string | null {
    return branchOfKey(this.key) ?? this.legacyBranch;
  }

  get request(): SipMessage {
    if (this.req === null) throw new Error(`${this.kind} transaction: the request is released once the final response is sent`);
    return this.req;
  }

  get state(): ServerTransactionState {
    return this.current.name;
  }

  get lastResponse(): SipMessage | null {
    return this.last;
  }

  get lastStatus(): number {
    return this.last?.status ?? 0;
  }

  /** The final response's bytes as latin1 once sent (it is compacted then), else null. */
  finalText(): string | null {
    return this.last !== null && this.last.status >= 200 ? this.last.packedText() : null;
  }

  get terminationCause(): ServerTerminationCause | null {
    return this.cause;
  }

  respond(response: SipMessage): void {
    if (response.isRequest) throw new Error('ServerTransaction.respond: not a response');
    this.input({ kind: 'tu-response', response });
  }

  trying(): void {
    this.input({ kind: 'tu-trying' });
  }

  /** A retransmission of the request (§17.2.3 matched it). */
  receiveRequest(): void {
    this.input({ kind: 'request' });
  }

  /** An ACK matched to this transaction (INVITE server only). */
  receiveAck(ack: SipMessage, source: PeerAddress): void {
    this.input({ kind: 'ack', ack, source });
  }

  terminate(): void {
    if (this.done) return;
    this.current = this.machine.terminated;
    this.cause = { kind: 'terminated-by-tu' };
    this.finish();
  }

  private input(input: ServerInput<T>): void {
    if (this.done) return;
    const step = this.machine.transition(this.current, input);
    this.current = step.state;
    this.run(step.actions);
  }

  private run(actions: readonly ServerAction<T>[]): void {
    for (const a of actions) {
      if (this.done) return;
      switch (a.kind) {
        case 'send-response':
          if (a.response.status < 200) {
            // A provisional response: kept with its bytes while Proceeding (resent on retransmissions).
            if (this.last !== a.response || this.lastData === null) {
              this.last = a.response;
              this.lastData = a.response.serialize();
            }
            this.send(this.lastData);
          } else if (this.last === a.response) {
            // A final response resent (Timer G, a retransmitted request): a fresh copy of its bytes.
            this.send(a.response.serialize());
          } else {
            // From the final response on the transaction only lingers (RFC 6026, up to 32 s) to
            // absorb retransmissions: it keeps the response compacted to its bytes (as text in the
            // V8 heap), and no Buffer: a Buffer kept 32 s is native memory freed only by a major GC.
            this.last = a.response;
            this.lastData = null;
            this.req = null;
            this.send(a.response.compact());
          }
          break;
        case 'send-trying':
          // The transaction is still Proceeding, so the request is still held.
          this.input({ kind: 'tu-response', response: buildResponse(this.request, 100) });
          break;
        case 'start-timer':
          if ((a.timer === 'L' || a.timer === 'J') && this.deps.linger?.(this, a.ms) === true) break;
          this.timers.start(a.timer, a.ms);
          break;
        case 'cancel-timer':
          this.timers.cancel(a.timer);
          break;
        case 'pass-ack':
          this.deps.onAck(a.ack, a.source, this);
          break;
        case 'timeout':
          this.cause = { kind: 'timeout' };
          break;
        case 'transport-error':
          this.cause = { kind: 'transport-error', failure: a.failure };
          break;
        case 'terminated':
          this.cause ??= { kind: 'completed' };
          this.finish();
          break;
        default: {
          const never: never = a;
          throw new Error(`unknown action ${JSON.stringify(never)}`);
        }
      }
    }
  }

  private send(data: Buffer): void {
    sendOrReport(this.deps.transport, data, this.responseDest, (err) => this.input({ kind: 'transport-error', failure: toFailure(err) }));
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.timers.cancelAll();
    this.deps.onTerminated(this);
  }
}
