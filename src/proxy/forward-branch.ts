import type { TimerHandle, TimerTarget } from '../clock.js';
import { buildCancel } from '../message/build-request.js';
import type { SipMessage } from '../message/message.js';
import type { ClientTransaction } from '../transaction/client-transaction.js';
import type { PeerAddress } from '../transaction/types.js';
import type { ProxyDeps } from './deps.js';
import type { Target } from './types.js';

/**
 * What a branch's one timer is waiting for: `failover` — any response at all (timers.inviteFailover);
 * `C` — a final response after a provisional (RFC 3261 §16.6 step 11); `cancel` — the final
 * response to a CANCELled INVITE (64*T1, §9.1).
 */
export type BranchTimer = 'failover' | 'C' | 'cancel';

/** What a branch needs of the proxy. */
export type BranchDeps = Pick<ProxyDeps, 'clock' | 'timers' | 'transactions' | 'sendStateless'>;

/** Whom a branch tells when its timer fires while it is not done (the forwarding context). */
export interface BranchOwner {
  onBranchTimer(b: Branch, kind: BranchTimer): void;
}

/**
 * One target tried by a forwarding context (RFC 3261 §16.6 steps 8-11): its client transaction, what
 * it has heard, its CANCEL (§9.1: only after a provisional, once) and its one timer. The context
 * decides what a response or a timer means for the call; the branch keeps the per-hop rules.
 */
export class Branch implements TimerTarget {
  /** Where this branch went; released (with the request) once the branch and the context are done. */
  target: Target | null;
  /** The request as sent to this target; released once the branch and the context are done. */
  request: SipMessage | null;
  /** Set by the context right after construction: the transaction's handlers need the branch. */
  tx!: ClientTransaction;
  /** Any response, 100 included: the hop is alive and may be CANCELled (§9.1). */
  heard = false;
  /** A provisional other than 100 was forwarded: the call is ringing there. */
  provisional = false;
  done = false;
  cancelPending = false;
  cancelSent = false;
  /**
   * The context no longer waits for this branch (it moved on, or another branch won): a late
   * provisional gets a CANCEL, a late 2xx an ACK and a BYE; nothing of it goes upstream.
   */
  abandoned = false;
  /** The ACK the edge sent for a 2xx it refused (late or clear media), sent again for each retransmission. */
  ack: Buffer | null = null;
  private timer: TimerHandle | null = null;
  private kind: BranchTimer = 'C';

  constructor(private readonly deps: BranchDeps, private readonly owner: BranchOwner, readonly label: string, target: Target, request: SipMessage, private readonly isInvite: boolean) {
    this.target = target;
    this.request = request;
  }

  /** Neither done nor given up on: the context still waits for it. */
  get pending(): boolean {
    return !this.done && !this.abandoned;
  }

  /** CANCEL now when the branch has had a provisional (100 included), else as soon as one arrives. */
  cancel(): void {
    if (this.heard) {
      this.sendCancel();
      return;
    }
    this.cancelPending = true;
    this.tx.cancelTimers(); // §9.1: no CANCEL before a provisional; stop retransmitting the INVITE
  }

  /** RFC 3261 §9.1 / §16.10: CANCEL a pending branch (only once it has a provisional), once. */
  sendCancel(): void {
    if (!this.isInvite || this.done || this.cancelSent) return;
    this.cancelPending = false;
    if (this.request === null || this.target === null) return;
    this.cancelSent = true;
    this.deps.transactions.createClient(buildCancel(this.request), this.target, {
      onResponse: () => undefined,
      onTimeout: () => undefined,
      onTransportError: () => undefined,
    });
    // §9.1: a host that never answers the CANCELled INVITE must not hold the branch forever.
    this.arm('cancel', 64 * this.deps.timers.T1);
  }

  /** The ACK of a refused 2xx again, for its retransmission. */
  resendAck(): void {
    if (this.ack === null || this.target === null) return;
    this.deps.sendStateless(this.ack, this.target).catch(() => undefined);
  }

  /** What the branch's timer waits for (the last one armed). */
  get timerKind(): BranchTimer {
    return this.kind;
  }

  arm(kind: BranchTimer, ms: number): void {
    if (this.kind === 'cancel' && this.timer !== null) return; // after a CANCEL only its own timer runs
    this.timer?.cancel();
    this.kind = kind;
    this.timer = this.deps.clock.schedule(ms, this);
  }

  clearTimer(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  onTimer(handle: TimerHandle): void {
    if (this.timer !== handle) return;
    this.timer = null;
    if (!this.done) this.owner.onBranchTimer(this, this.kind);
  }

  /** Done and its request no longer needed (no refused 2xx to ACK again): what it held goes. */
  release(): void {
    if (this.ack !== null) return; // its target gets the ACK again for each 2xx retransmission
    this.request = null;
    this.target = null;
  }
}

/**
 * Only where to send: the client transaction keeps its destination for as long as it lingers
 * (32 s), and a Target also carries the Request-URI built for it.
 */
export function destinationOf(t: Target): PeerAddress {
  const d: { -readonly [K in keyof PeerAddress]: PeerAddress[K] } = { transport: t.transport, address: t.address, port: t.port };
  if (t.flowId !== undefined) d.flowId = t.flowId;
  if (t.servername !== undefined) d.servername = t.servername;
  if (t.localPort !== undefined) d.localPort = t.localPort;
  return d;
}
