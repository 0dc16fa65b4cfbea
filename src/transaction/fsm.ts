import type { Clock, TimerHandle, TimerTarget } from '../clock.js';
import type { PeerAddress, TimerConfig, TransactionTransport, TransportFailure } from './types.js';

/**
 * Pieces shared by the four RFC 3261 §17 state machines. Each machine is a pure
 * `transition(state, input) -> { state, actions }`; the transaction classes perform the actions.
 */

export interface Step<S, A> {
  readonly state: S;
  readonly actions: readonly A[];
}

export type TimerAction<T extends string> =
  | { readonly kind: 'start-timer'; readonly timer: T; readonly ms: number }
  | { readonly kind: 'cancel-timer'; readonly timer: T };

/** Timer base values for one transaction, plus whether its transport is reliable (§17.1.1.2). */
export interface TxTiming {
  readonly T1: number;
  readonly T2: number;
  readonly T4: number;
  /** The INVITE server's 100 Trying hold-back (TimerConfig.trying); 0: sent at once. */
  readonly trying: number;
  /** TCP/TLS: no retransmissions, Timers D/I/J/K are zero (RFC 3261 §17). */
  readonly reliable: boolean;
}

/** RFC 3261 §17.1.1.2: Timer D is "at least 32 seconds for unreliable transports". */
export const TIMER_D_UNRELIABLE_MS = 32_000;

export function txTiming(timers: TimerConfig, transport: 'udp' | 'tcp' | 'tls'): TxTiming {
  return { T1: timers.T1, T2: timers.T2, T4: timers.T4, trying: timers.trying ?? 0, reliable: transport !== 'udp' };
}

/** The two timings of one layer (unreliable, reliable), made once instead of per transaction. */
export function timingsOf(timers: TimerConfig): { readonly udp: TxTiming; readonly stream: TxTiming } {
  return { udp: txTiming(timers, 'udp'), stream: txTiming(timers, 'tls') };
}

export function startTimer<T extends string>(timer: T, ms: number): TimerAction<T> {
  return { kind: 'start-timer', timer, ms };
}

export function cancelTimer<T extends string>(timer: T): TimerAction<T> {
  return { kind: 'cancel-timer', timer };
}

export function assertNever(x: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(x)}`);
}

/** Normalizes a rejected `TransactionTransport.send` into a §17.1.4 failure. */
export function toFailure(err: unknown): TransportFailure {
  let reason = 'send-failed';
  let message = String(err);
  if (typeof err === 'object' && err !== null) {
    const r = (err as { reason?: unknown }).reason;
    const m = (err as { message?: unknown }).message;
    if (typeof r === 'string') reason = r;
    if (typeof m === 'string') message = m;
    else if (typeof r === 'string') message = r;
  }
  return { reason, message };
}

/**
 * §17.1.4 / §17.2.x: hands one message to the transport; a rejected (or throwing) send is reported
 * as the machine's "Transport Err." input. `onFailure` gets what the send rejected with (toFailure
 * makes it a TransportFailure), never synchronously: the machine is not re-entered mid-step.
 */
export function sendOrReport(transport: TransactionTransport, data: Buffer, dest: PeerAddress, onFailure: (err: unknown) => void): void {
  let sent: Promise<unknown>;
  try {
    if (transport.sendNoWait !== undefined) {
      transport.sendNoWait(data, dest, onFailure);
      return;
    }
    sent = transport.send(data, dest);
  } catch (err) {
    sent = Promise.reject(err);
  }
  sent.then(undefined, onFailure);
}

/** Method-style, so a driver of any machine's timers is a driver of `string` timers (bivariant). */
type TimerFire<T> = { bivariant(timer: T): void }['bivariant'];

/** The named timers of one transaction, all through the injected clock. */
export class TimerSet<T extends string> implements TimerTarget {
  // No machine runs more than two timers at once (A+B, E+F, G+H): two slots, no Map or array per
  // transaction, and no closure per timer (the clock tells this set which handle is due). A third
  // would be a machine bug, caught by the throw below.
  private name0: T | null = null;
  private handle0: TimerHandle | null = null;
  private name1: T | null = null;
  private handle1: TimerHandle | null = null;

  /** `fire` is called with the timer's name when one expires (one callback per transaction). */
  constructor(private readonly clock: Clock, private readonly fire: TimerFire<T>) {}

  start(timer: T, ms: number): void {
    this.cancel(timer);
    if (this.handle0 !== null && this.handle1 !== null) {
      throw new Error(`timer ${timer}: a transaction runs at most two timers (${String(this.name0)}, ${String(this.name1)} running)`);
    }
    const handle = this.clock.schedule(ms, this);
    if (this.handle0 === null) { this.name0 = timer; this.handle0 = handle; }
    else { this.name1 = timer; this.handle1 = handle; }
  }

  onTimer(handle: TimerHandle): void {
    let timer: T | null;
    if (this.handle0 === handle) { timer = this.name0; this.name0 = null; this.handle0 = null; }
    else if (this.handle1 === handle) { timer = this.name1; this.name1 = null; this.handle1 = null; }
    else return;
    if (timer !== null) this.fire(timer);
  }

  cancel(timer: T): void {
    if (this.name0 === timer && this.handle0 !== null) {
      this.handle0.cancel();
      this.name0 = null;
      this.handle0 = null;
    } else if (this.name1 === timer && this.handle1 !== null) {
      this.handle1.cancel();
      this.name1 = null;
      this.handle1 = null;
    }
  }

  cancelAll(): void {
    this.handle0?.cancel();
    this.handle1?.cancel();
    this.name0 = this.name1 = null;
    this.handle0 = this.handle1 = null;
  }

  /** Names of running timers (tests, diagnostics). */
  running(): T[] {
    const out: T[] = [];
    if (this.name0 !== null) out.push(this.name0);
    if (this.name1 !== null) out.push(this.name1);
    return out;
  }
}
