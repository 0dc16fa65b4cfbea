/**
 * Rate limit for log lines an outsider can trigger (dropped strays, forged Routes): per key at
 * most `burst` lines per window; the first line of the next window says how many were skipped.
 * The metric still counts every event.
 */
export class LogRateLimiter {
  private readonly windows = new Map<string, { start: number; count: number; skipped: number }>();

  constructor(private readonly burst = 10, private readonly windowMs = 60_000, private readonly now: () => number = Date.now, private readonly maxKeys = 256) {}

  /** -1: skip this line; otherwise log it, with the number skipped since the last logged one. */
  take(key: string): number {
    const t = this.now();
    let w = this.windows.get(key);
    if (w === undefined) {
      if (this.windows.size >= this.maxKeys) this.windows.clear();
      w = { start: t, count: 0, skipped: 0 };
      this.windows.set(key, w);
    }
    if (t - w.start >= this.windowMs) {
      w.start = t;
      w.count = 0;
    }
    if (w.count >= this.burst) {
      w.skipped++;
      return -1;
    }
    w.count++;
    const skipped = w.skipped;
    w.skipped = 0;
    return skipped;
  }
}
