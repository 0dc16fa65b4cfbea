/**
 * The one clock every timer goes through, so transaction tests run in virtual time.
 */
import { performance } from 'node:perf_hooks';

export interface TimerHandle {
  cancel(): void;
}

/** Something woken by `Clock.schedule`, told which of its timers is due. */
export interface TimerTarget {
  onTimer(handle: TimerHandle): void;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
  /**
   * Like setTimer, for the many timers of transactions: no callback closure per timer (the target
   * is told which handle is due) and, on the system clock, no Node timer object per timer.
   */
  schedule(ms: number, target: TimerTarget): TimerHandle;
}

/** A Node timer as a TimerHandle (a method, not a closure per timer: there are three per call). */
class SystemTimer implements TimerHandle {
  constructor(private readonly timeout: ReturnType<typeof setTimeout>) {}
  cancel(): void {
    clearTimeout(this.timeout);
  }
}

/**
 * One list per duration, as Node keeps its own timers: entries of one duration are appended in
 * the order they are due, so the head is always the next; one Node timer per list wakes it. An
 * entry is a small object (no Node Timeout, no closure) and is unlinked in O(1) when cancelled.
 * Every transaction holds two or three of these for RFC 6026's 32 s.
 */
class ScheduledTimer implements TimerHandle {
  prev: ScheduledTimer | null = null;
  next: ScheduledTimer | null = null;
  constructor(readonly at: number, readonly target: TimerTarget, readonly list: TimerList) {}
  cancel(): void {
    this.list.remove(this);
  }
}

/** Scheduled timers alive across every list (the soak check: back to idle after the calls). */
let scheduledCount = 0;

/** Transaction timers scheduled on the system clock now. */
export function scheduledTimers(): number {
  return scheduledCount;
}

class TimerList {
  private head: ScheduledTimer | null = null;
  private tail: ScheduledTimer | null = null;
  private armed: ReturnType<typeof setTimeout> | null = null;
  private readonly run = (): void => this.expire();

  constructor(private readonly ms: number) {}

  add(target: TimerTarget): ScheduledTimer {
    const t = new ScheduledTimer(performance.now() + this.ms, target, this);
    scheduledCount++;
    if (this.tail === null) {
      this.head = this.tail = t;
      this.arm(this.ms);
    } else {
      t.prev = this.tail;
      this.tail.next = t;
      this.tail = t;
    }
    return t;
  }

  remove(t: ScheduledTimer): void {
    if (t.prev === null && this.head !== t) return; // already fired or removed
    scheduledCount--;
    if (t.prev !== null) t.prev.next = t.next;
    else this.head = t.next;
    if (t.next !== null) t.next.prev = t.prev;
    else this.tail = t.prev;
    t.prev = t.next = null;
    if (this.head === null && this.armed !== null) {
      clearTimeout(this.armed);
      this.armed = null;
    }
  }

  private arm(ms: number): void {
    this.armed = setTimeout(this.run, ms);
    this.armed.unref();
  }

  private expire(): void {
    this.armed = null;
    const now = performance.now();
    try {
      for (let t = this.head; t !== null && t.at <= now + 1; t = this.head) {
        this.remove(t);
        t.target.onTimer(t);
      }
    } finally {
      if (this.head !== null && this.armed === null) this.arm(Math.max(1, Math.ceil(this.head.at - performance.now())));
    }
  }
}

const timerLists = new Map<number, TimerList>();

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return new SystemTimer(t);
  },
  schedule(ms, target) {
    const d = Math.max(0, Math.round(ms));
    let list = timerLists.get(d);
    if (list === undefined) timerLists.set(d, (list = new TimerList(d)));
    return list.add(target);
  },
};

const noop = (): void => undefined;

/** A clock that only moves when told to: `advance(ms)` fires due timers in order (a binary heap). */
export class VirtualClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly heap: { at: number; id: number; fn: () => void }[] = [];
  private readonly live = new Set<number>();

  now(): number {
    return this.time;
  }

  schedule(ms: number, target: TimerTarget): TimerHandle {
    const handle: TimerHandle = this.setTimer(ms, () => target.onTimer(handle));
    return handle;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    const entry = { at: this.time + Math.max(0, ms), id, fn };
    this.push(entry);
    this.live.add(id);
    // A cancelled entry stays in the heap until its time; it must not keep its callback alive.
    return { cancel: () => { this.live.delete(id); entry.fn = noop; } };
  }

  get pending(): number {
    return this.live.size;
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > end) break;
      this.pop();
      if (!this.live.delete(top.id)) continue; // cancelled
      this.time = top.at;
      top.fn();
    }
    this.time = end;
  }

  private less(a: { at: number; id: number }, b: { at: number; id: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.id < b.id);
  }

  private push(e: { at: number; id: number; fn: () => void }): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
