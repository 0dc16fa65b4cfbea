/**
 * Issue 13, the latency tail without sockets: src/proxy/synthetic-call.ts's whole call run in real time at
 * RATE calls/s on the system clock (the edge's own timer lists), so RFC 6026's 32 s of lingering
 * state builds up as in the edge and the GC works over it. Prints the event-loop delay the loop
 * saw (perf_hooks.monitorEventLoopDelay, 1 ms resolution, resolution subtracted) and every GC pause
 * by kind, over the MEASURE_S seconds after WARMUP_S (default 34 s: the 32 s of state are full).
 * Run: node [--max-semi-space-size=N] .test-build/bench/event-loop.js   (RATE, WARMUP_S, MEASURE_S)
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { systemClock } from '../src/clock.js';
import { LoopDelaySampler } from '../src/loop-load.js';
import { createCallRig } from '../src/proxy/synthetic-call.js';
import { conditions } from './lib.js';

const RATE = Number(process.env.RATE ?? 2_000);
const WARMUP_S = Number(process.env.WARMUP_S ?? 34);
const MEASURE_S = Number(process.env.MEASURE_S ?? 20);
/** Calls are started in batches every TICK_MS, as datagrams that queued during one loop turn. */
const TICK_MS = 5;

const rig = createCallRig(systemClock, { compactLingering: process.env.COMPACT_LINGERING !== '0' });

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental-marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};
let measuring = false;
const pauses = new Map<string, number[]>();
new PerformanceObserver((list) => {
  if (!measuring) return;
  for (const e of list.getEntries()) {
    const kind = KINDS[(e as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
    let a = pauses.get(kind);
    if (a === undefined) pauses.set(kind, (a = []));
    a.push(e.duration);
  }
}).observe({ entryTypes: ['gc'] });

const quantile = (sorted: number[], q: number): number => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (x: number): number => +x.toFixed(2);

let started = 0;
const t0 = performance.now();
let sampler: LoopDelaySampler | null = null;
let cpuAt = process.cpuUsage();
let measureStart = 0;
await new Promise<void>((done) => {
  const tick = setInterval(() => {
    const elapsed = (performance.now() - t0) / 1000;
    if (!measuring && elapsed >= WARMUP_S) {
      measuring = true;
      sampler = new LoopDelaySampler(1);
      cpuAt = process.cpuUsage();
      measureStart = performance.now();
    }
    if (elapsed >= WARMUP_S + MEASURE_S) {
      clearInterval(tick);
      done();
      return;
    }
    // Catch up to the rate (a stalled loop starts the calls that queued meanwhile at once).
    const due = Math.floor(elapsed * RATE);
    for (; started < due; started++) void rig.call(started);
  }, TICK_MS);
});
measuring = false;
const eld = sampler!.take();
const wallS = (performance.now() - measureStart) / 1000;
const cpu = process.cpuUsage(cpuAt);
const gc: Record<string, unknown> = {};
let pausedMs = 0;
for (const [kind, a] of pauses) {
  a.sort((x, y) => x - y);
  const sum = a.reduce((s, x) => s + x, 0);
  pausedMs += sum;
  gc[kind] = { count: a.length, perSecond: round(a.length / wallS), p50Ms: round(quantile(a, 0.5)), p99Ms: round(quantile(a, 0.99)), maxMs: round(a[a.length - 1] ?? 0), totalMs: Math.round(sum) };
}
const semiSpace = /--max-semi-space-size[= ](\d+)/.exec(process.execArgv.join(' ') + ' ' + (process.env.NODE_OPTIONS ?? ''))?.[1];
console.log(JSON.stringify({
  bench: 'event-loop',
  ...conditions(),
  rate: RATE,
  measuredSeconds: round(wallS),
  callsStarted: started,
  completed: rig.stats.completed,
  transactionsHeld: rig.transactions.size,
  maxSemiSpaceMB: semiSpace !== undefined ? Number(semiSpace) : 'default',
  heapUsedMB: Math.round(getHeapStatistics().used_heap_size / 1048576),
  processCpuShare: round((cpu.user + cpu.system) / 1000 / (wallS * 1000)),
  eventLoopDelayMs: { p50: round(eld.p50), p99: round(eld.p99), max: round(eld.max), samples: eld.samples },
  gcPausedShare: round(pausedMs / (wallS * 1000)),
  gc,
}, null, 2));
process.exit(0);
