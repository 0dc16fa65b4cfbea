import type { Clock, TimerHandle } from '../clock.js';
import type { Destination, TimerConfig, TransactionTransport, TransportFailure } from './types.js';

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
  /** TCP/TLS: no retransmissions, Timers D/I/J/K are zero (RFC 3261 §17). */
  readonly reliable: boolean;
}

/** RFC 3261 §17.1.1.2: Timer D is "at least 32 seconds for unreliable transports". */
export const TIMER_D_UNRELIABLE_MS = 32_000;

export function txTiming(timers: TimerConfig, transport: 'udp' | 'tcp' | 'tls'): TxTiming {
  return { T1: timers.T1, T2: timers.T2, T4: timers.T4, reliable: transport !== 'udp' };
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
 * as the machine's "Transport Err." input.
 */
export function sendOrReport(transport: TransactionTransport, data: Buffer, dest: Destination, onFailure: (f: TransportFailure) => void): void {
  let sent: Promise<unknown>;
  try {
    sent = transport.send(data, dest);
  } catch (err) {
    sent = Promise.reject(err);
  }
  sent.then(undefined, (err: unknown) => onFailure(toFailure(err)));
}

/** The named timers of one transaction, all through the injected clock. */
export class TimerSet<T extends string> {
  // A transaction runs at most three timers at once: [name, handle, name, handle, ...], not a Map.
  private readonly running_: (T | TimerHandle)[] = [];

  constructor(private readonly clock: Clock) {}

  start(timer: T, ms: number, fire: (timer: T) => void): void {
    this.cancel(timer);
    const handle = this.clock.setTimer(ms, () => {
      const i = this.running_.indexOf(handle);
      if (i < 0) return;
      this.running_.splice(i - 1, 2);
      fire(timer);
    });
    this.running_.push(timer, handle);
  }

  cancel(timer: T): void {
    const r = this.running_;
    for (let i = 0; i < r.length; i += 2) {
      if (r[i] !== timer) continue;
      (r[i + 1] as TimerHandle).cancel();
      r.splice(i, 2);
      return;
    }
  }

  cancelAll(): void {
    const r = this.running_;
    for (let i = 1; i < r.length; i += 2) (r[i] as TimerHandle).cancel();
    r.length = 0;
  }

  /** Names of running timers (tests, diagnostics). */
  running(): T[] {
    return this.running_.filter((_, i) => i % 2 === 0) as T[];
  }
}
