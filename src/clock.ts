/**
 * The one clock every timer goes through, so transaction tests run in virtual time.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
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

/** Event-loop delay over a window: what a timer due now waits beyond its time (ms). */
export interface LoopDelayWindow {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Samples in the window (one per `resolutionMs` of an idle loop, fewer when it stalls). */
  readonly samples: number;
}

/**
 * `perf_hooks.monitorEventLoopDelay` read as windows: each `take()` returns the delay since the
 * previous one and starts a new window. Node records the whole gap between its sampling timer's
 * runs, so the resolution is subtracted (an idle loop reads 0, not 10 ms). The sampler is a native
 * unref'd timer: it costs `1000 / resolutionMs` wake-ups per second and keeps nothing alive.
 */
export class LoopDelaySampler {
  private readonly histogram: ReturnType<typeof monitorEventLoopDelay>;
  private readonly resolutionNs: number;

  constructor(readonly resolutionMs = 10) {
    this.resolutionNs = resolutionMs * 1e6;
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.histogram.enable();
  }

  take(): LoopDelayWindow {
    const h = this.histogram;
    const ms = (ns: number): number => (h.count === 0 ? 0 : Math.max(0, ns - this.resolutionNs) / 1e6);
    const w = { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), samples: h.count };
    h.reset();
    return w;
  }

  stop(): void {
    this.histogram.disable();
  }
}

let eluMark: EventLoopUtilization | null = null;
let eluAt = 0;
let eluPercent = 0;
let cpuMark: NodeJS.CpuUsage | null = null;
let cpuPercent = 0;

/** Windows of this length fold into the utilization average. */
const ELU_WINDOW_MS = 500;
/**
 * Each window's share of busy loop (percent) folds into a moving average (weight ELU_WEIGHT per
 * 0.5 s window: about 3 s of saturation reach 95 %). A start-up or JIT burst of a second or two
 * stays under the admission limit (measured: the first half second after start read over 95 % and
 * shed calls of a 1,000 cps run); a loop that stays saturated does not.
 */
const ELU_WEIGHT = 0.4;

/**
 * This process's event-loop utilization (percent of wall time the loop was not idle), the moving
 * average admission sheds on (limits.maxEventLoopUtilizationPercent) and /metrics reports. Read
 * lazily: whoever asks after a window has passed folds it in, so there is no timer of its own.
 */
export function loopUtilizationPercent(): number {
  const now = performance.now();
  if (eluMark === null || now - eluAt >= ELU_WINDOW_MS) {
    const mark = performance.eventLoopUtilization();
    const cpu = process.threadCpuUsage();
    if (eluMark !== null && cpuMark !== null) {
      eluPercent += ELU_WEIGHT * (performance.eventLoopUtilization(mark, eluMark).utilization * 100 - eluPercent);
      const used = (cpu.user - cpuMark.user + cpu.system - cpuMark.system) / 1000;
      cpuPercent += ELU_WEIGHT * (Math.min(100, (used / (now - eluAt)) * 100) - cpuPercent);
    }
    eluMark = mark;
    cpuMark = cpu;
    eluAt = now;
  }
  return eluPercent;
}

/** The main thread's CPU time as a percent of wall time, the same moving average (read after loopUtilizationPercent). */
export function loopCpuPercent(): number {
  loopUtilizationPercent();
  return cpuPercent;
}
