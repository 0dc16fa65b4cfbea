import type { Clock, TimerHandle, TimerTarget } from '../clock.js';
import type { SipMessage } from '../message/message.js';
import type { ServerTransaction } from './server-transaction.js';
import type { PeerAddress } from './types.js';

/**
 * The RFC 6026 lingering states as records (TransactionLayerOptions.compactLingering).
 *
 * After its final response a transaction only absorbs retransmissions for up to 64*T1 (Timers
 * L, J, M): at 2,000 calls/s that is 64,000 calls of state. As full drivers (state object, timer
 * set, scheduled timer, compacted message, TU closures and the proxy's forwarding context) each
 * call kept about 80 objects alive for 32 s, and every scavenge copied them: the GC pauses were
 * the edge's latency tail (docs/latency.md). A record is one object (plus, for a non-INVITE
 * server, the final response as one latin1 string), and expiry is one FIFO per duration: every
 * record of a queue lingers the same time, so the oldest is always first and no per-record
 * timer exists.
 */
export const LingerKind = {
  /** RFC 6026 §8.5 Accepted: absorbs INVITE retransmissions, passes ACKs on, relays nothing itself. */
  InviteServerAccepted: 0,
  /** §17.2.2 Completed: answers request retransmissions with the final response (Timer J). */
  NonInviteServerCompleted: 1,
  /** RFC 6026 §8.4 Accepted: 2xx retransmissions go, without the top Via, to `relay`'s destination. */
  InviteClientAccepted: 2,
} as const;
export type LingerKind = (typeof LingerKind)[keyof typeof LingerKind];

export class LingerRecord {
  /** InviteClientAccepted: the INVITE server record whose response destination gets 2xx retransmissions. */
  relay: LingerRecord | null = null;

  constructor(
    /** The transaction layer's table key (the same string as the table's). */
    readonly key: string,
    readonly kind: LingerKind,
    /** The final status sent (server) or received (client). */
    readonly status: number,
    /** Servers: where responses go (§18.2.2 + RFC 3581). */
    readonly dest: PeerAddress | null,
    /** NonInviteServerCompleted: the final response's bytes, latin1 (one char per byte). */
    readonly final: string | null,
  ) {}

  get isServer(): boolean {
    return this.kind !== LingerKind.InviteClientAccepted;
  }
}

/**
 * The records of one linger duration in arrival order, so in expiry order. One clock timer for
 * the head; a record expires late by at most `slackMs` (a record may absorb a little longer,
 * never shorter), so the timer fires at most 1000/slackMs times a second at any call rate.
 */
export class LingerQueue implements TimerTarget {
  private records: (LingerRecord | undefined)[] = [];
  /** Expiry times, parallel to `records` (a double array: no boxed number per record). */
  private due: number[] = [];
  private head = 0;
  private timer: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly ms: number,
    private readonly expire: (record: LingerRecord) => void,
    private readonly slackMs = 20,
  ) {}

  get size(): number {
    return this.records.length - this.head;
  }

  push(record: LingerRecord): void {
    this.records.push(record);
    this.due.push(this.clock.now() + this.ms);
    if (this.timer === null) this.arm();
  }

  onTimer(): void {
    this.timer = null;
    const now = this.clock.now();
    while (this.head < this.records.length && this.due[this.head]! <= now) {
      const r = this.records[this.head]!;
      this.records[this.head] = undefined;
      this.head++;
      this.expire(r);
    }
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.due = this.due.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.records.length) this.arm();
    else {
      this.records.length = 0;
      this.due.length = 0;
      this.head = 0;
    }
  }

  /** Drops every record without expiring it (shutdown). */
  clear(): void {
    this.timer?.cancel();
    this.timer = null;
    this.records = [];
    this.due = [];
    this.head = 0;
  }

  private arm(): void {
    const wait = Math.max(0, this.due[this.head]! - this.clock.now());
    this.timer = this.clock.schedule(wait + this.slackMs, this);
  }
}

/**
 * What a CANCEL finds for an INVITE whose transaction lingers as a record: a transaction that
 * has sent its final response (§9.2: the CANCEL gets 200 and changes nothing). Made on demand.
 */
export class LingeringInviteView implements ServerTransaction {
  readonly kind = 'invite-server' as const;
  readonly state = 'Accepted' as const;
  readonly lastResponse: SipMessage | null = null;
  readonly terminationCause = null;
  readonly createdAt = 0;

  constructor(private readonly record: LingerRecord, readonly branch: string | null) {}

  get request(): SipMessage {
    throw new Error('invite-server transaction: the request is released once the final response is sent');
  }

  get source(): PeerAddress {
    return this.record.dest!;
  }

  get responseDest(): PeerAddress {
    return this.record.dest!;
  }

  get lastStatus(): number {
    return this.record.status;
  }

  respond(): void {
    // Accepted absorbs everything but a 2xx from the TU, and the TU no longer has this call.
  }

  trying(): void {
    // A final response was sent: no 100 Trying any more (Accepted absorbs it).
  }

  terminate(): void {
    // Expires with its queue.
  }
}
