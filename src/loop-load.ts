/**
 * How loaded this process's event loop is: the delay a due timer waits, the share of wall time the
 * loop is busy, the share it runs on a CPU, and whether its UDP listeners' receive queues keep up.
 * Admission sheds new INVITEs on these (limits.maxEventLoopDelayMs, limits.maxEventLoopUtilizationPercent)
 * and /metrics reports them (issue 13).
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';

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

/** One window's readings (percent of the window's wall time, and the UDP turns it saw). */
export interface LoopLoadWindow {
  readonly utilizationPercent: number;
  readonly cpuPercent: number;
  readonly udpTurns: number;
  readonly udpFullTurns: number;
}

/**
 * libuv reads at most this many datagrams from one socket per poll before it lets the loop go on
 * (uv__udp_recvmsg in src/unix/udp.c: "prevent loop starvation"). A turn that reads this many left
 * datagrams queued in the kernel.
 */
export const UDP_READS_PER_POLL = 32;

/** Windows of this length fold into the averages. */
const WINDOW_MS = 500;
/**
 * Each window's share of busy loop (percent) folds into a moving average (weight WEIGHT per
 * 0.5 s window: about 3 s of saturation reach 95 %). A start-up or JIT burst of a second or two
 * stays under the admission limit (measured: the first half second after start read over 95 % and
 * shed calls of a 1,000 cps run); a loop that stays saturated does not.
 */
const WEIGHT = 0.4;

/**
 * From this share of turns ending full (the moving average, percent) the UDP listeners count as
 * falling behind. bench/cps.sh, 2 workers on 2 cores shared with SIPp and the upstream, 2026-12-03,
 * per second and worker: keeping up at 3,000 calls/s 8-28 % of the turns that read datagrams were
 * full, at 3,370 (the edge's maximum that run, p99 72 ms) 15-75 %; a cold edge offered 3,000 fell
 * behind and stayed there, 85-96 % in its first second, then 89-100 %.
 */
export const UDP_BEHIND_PERCENT = 85;

/** The moving averages over windows, and the figure the loop-busy shed reads. */
export class LoopLoadAverages {
  utilizationPercent = 0;
  cpuPercent = 0;
  udpBacklogPercent = 0;

  fold(w: LoopLoadWindow): void {
    this.utilizationPercent += WEIGHT * (w.utilizationPercent - this.utilizationPercent);
    this.cpuPercent += WEIGHT * (Math.min(100, w.cpuPercent) - this.cpuPercent);
    // A window without UDP reads says nothing about UDP: the average decays.
    this.udpBacklogPercent += WEIGHT * ((w.udpTurns === 0 ? 0 : (w.udpFullTurns / w.udpTurns) * 100) - this.udpBacklogPercent);
  }

  /**
   * What the loop-busy shed reads (limits.maxEventLoopUtilizationPercent). The loop counts the time
   * it waits for a CPU as busy, so on a host shared with other work (SIPp beside it, an
   * oversubscribed VM) utilization reads high while the edge keeps up: bench/cps.sh on 2 cores
   * shared with SIPp and the upstream, 2026-12-03 17:00, shed 503s at 3,120 calls/s with each worker
   * at 63 % CPU and 0 UDP drops, while the same edge without the shed carried 3,370 (docs/scale.md).
   * So that wait counts only while the loop is seen falling behind, its UDP listeners ending turn
   * after turn with datagrams still queued (UDP_BEHIND_PERCENT); otherwise the figure is the loop's
   * CPU share. Over streams there is no such sign (TCP's window holds the sender back instead of
   * dropping), and the CPU share alone decides. A loop saturated by its own work reads the same
   * either way.
   */
  get busyPercent(): number {
    if (this.udpBacklogPercent >= UDP_BEHIND_PERCENT) return this.utilizationPercent;
    return Math.min(this.utilizationPercent, this.cpuPercent);
  }
}

const process_ = new LoopLoadAverages();
let eluMark: EventLoopUtilization | null = null;
let cpuMark: NodeJS.CpuUsage | null = null;
let markAt = 0;
let udpTurns = 0;
let udpFullTurns = 0;
const udpTotals = { turns: 0, fullTurns: 0 };

/**
 * A UDP listener's reads of one loop turn (UdpTransport counts them per socket and reports once per
 * turn that read any). A few integer updates: it runs for every turn under load.
 */
export function recordUdpTurn(datagrams: number): void {
  udpTurns++;
  udpTotals.turns++;
  if (datagrams >= UDP_READS_PER_POLL) {
    udpFullTurns++;
    udpTotals.fullTurns++;
  }
}

/** UDP turns seen since the process started, and how many were full (tests and bench). */
export function udpTurnTotals(): { readonly turns: number; readonly fullTurns: number } {
  return { ...udpTotals };
}

/** Folds the window that has passed, if one has. Lazy: whoever reads does it, so there is no timer of its own. */
function current(): LoopLoadAverages {
  const now = performance.now();
  if (eluMark === null || now - markAt >= WINDOW_MS) {
    const mark = performance.eventLoopUtilization();
    const cpu = process.threadCpuUsage();
    if (eluMark !== null && cpuMark !== null) {
      const usedMs = (cpu.user - cpuMark.user + cpu.system - cpuMark.system) / 1000;
      process_.fold({
        utilizationPercent: performance.eventLoopUtilization(mark, eluMark).utilization * 100,
        cpuPercent: (usedMs / (now - markAt)) * 100,
        udpTurns,
        udpFullTurns,
      });
    }
    udpTurns = 0;
    udpFullTurns = 0;
    eluMark = mark;
    cpuMark = cpu;
    markAt = now;
  }
  return process_;
}

/** This process's event-loop utilization (percent of wall time the loop was not idle), the moving average. */
export function loopUtilizationPercent(): number {
  return current().utilizationPercent;
}

/** The main thread's CPU time as a percent of wall time, the same moving average. */
export function loopCpuPercent(): number {
  return current().cpuPercent;
}

/** The share of loop turns (percent, the same moving average) in which a UDP listener read a full poll's worth. */
export function udpBacklogPercent(): number {
  return current().udpBacklogPercent;
}

/** What the loop-busy shed reads: LoopLoadAverages.busyPercent for this process. */
export function loopBusyPercent(): number {
  return current().busyPercent;
}
