/**
 * Per-flow timers. Each flow holds at most one timer per job and re-arms it only when it fires
 * (comparing against the last activity), so traffic costs no timer churn.
 */
import type { Clock, TimerHandle } from '../clock.js';

export interface KeepAliveIo {
  /** Clock time anything was last received on the flow. */
  lastReceivedAt(): number;
  sendPing(): void;
  /** No pong and nothing else within the pong timeout: the flow is dead. */
  onTimeout(): void;
}

/**
 * RFC 5626 §4.4.1 CRLF keep-alive for flows this side opened: after `intervalMs` without receiving
 * anything, send CRLFCRLF; the peer answers CRLF (§3.5.1). No pong within `pongTimeoutMs`
 * closes the flow. Anything received in the meantime proves the flow alive as well.
 */
export class KeepAlive {
  private timer: TimerHandle | null = null;
  private pingSentAt = -1;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly pongTimeoutMs: number,
    private readonly io: KeepAliveIo,
  ) {}

  start(): void {
    if (this.intervalMs > 0) this.arm(this.intervalMs);
  }

  get awaitingPong(): boolean {
    return this.pingSentAt >= 0;
  }

  pong(): void {
    if (this.pingSentAt < 0) return;
    this.pingSentAt = -1;
    this.arm(this.intervalMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private arm(ms: number): void {
    this.timer?.cancel();
    this.timer = this.clock.setTimer(ms, () => this.fire());
  }

  private fire(): void {
    this.timer = null;
    const now = this.clock.now();
    if (this.pingSentAt >= 0) {
      if (this.io.lastReceivedAt() > this.pingSentAt) return this.pong();
      this.pingSentAt = -1;
      this.io.onTimeout();
      return;
    }
    const quiet = now - this.io.lastReceivedAt();
    if (quiet < this.intervalMs) return this.arm(this.intervalMs - quiet);
    this.pingSentAt = now;
    this.io.sendPing();
    this.arm(this.pongTimeoutMs);
  }
}

/** Calls `onIdle` once nothing has moved for `timeoutMs` (0 = never). */
export class IdleTimer {
  private timer: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly lastActivityAt: () => number,
    private readonly onIdle: () => void,
  ) {}

  start(): void {
    if (this.timeoutMs > 0) this.arm(this.timeoutMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimer(ms, () => {
      this.timer = null;
      const quiet = this.clock.now() - this.lastActivityAt();
      if (quiet >= this.timeoutMs) this.onIdle();
      else this.arm(this.timeoutMs - quiet);
    });
  }
}
