/**
 * Issue 4, the whole call without sockets (src/proxy/synthetic-call.ts: INVITE with SRTP SDP, 100, 200 with
 * SDP, ACK, BYE, 200 through the edge's receive path, transactions and proxy core); a virtual clock moves 1/RATE s per call, so RFC 6026's 32 s of state
 * is held as it would be at that rate. Prints µs of edge work per call and what it allocated.
 * Run: node --expose-gc .test-build/bench/call-flow.js   (CALLS=measured calls, RATE=virtual calls/s)
 */
import { VirtualClock } from '../src/clock.js';
import { createCallRig } from '../src/proxy/synthetic-call.js';
import { conditions } from './lib.js';

const RATE = Number(process.env.RATE ?? 2_000);
/** Warm-up: until RFC 6026's 32 s of state is full at RATE (the measured calls run at steady state). */
const WARMUP = Number(process.env.WARMUP ?? 32 * RATE + 2_000);
const CALLS = WARMUP + Number(process.env.CALLS ?? 30_000);

const clock = new VirtualClock();
const rig = createCallRig(clock, { compactLingering: process.env.COMPACT_LINGERING !== '0' });
const { transactions, stats } = rig;

const gc = (globalThis as { gc?: () => void }).gc;
const stepMs = 1000 / RATE;
let measuredEdgeMs = 0;
let heapBefore = 0;
let cpuBefore = process.cpuUsage();
let wallBefore = 0;
for (let n = 0; n < CALLS; n++) {
  if (n === WARMUP) {
    gc?.();
    measuredEdgeMs = stats.edgeMs;
    heapBefore = process.memoryUsage().heapUsed;
    cpuBefore = process.cpuUsage();
    wallBefore = performance.now();
  }
  await rig.call(n);
  clock.advance(stepMs);
}
const us = ((stats.edgeMs - measuredEdgeMs) * 1000) / (CALLS - WARMUP);
const cpu = process.cpuUsage(cpuBefore);
const wallMs = performance.now() - wallBefore;
gc?.();
const { heapUsed: heapHeld, arrayBuffers: buffersHeld } = process.memoryUsage();
const callsHeld = Math.min(CALLS, 32 * RATE);
console.log(JSON.stringify({
  bench: 'call-flow',
  ...conditions(),
  calls: CALLS - WARMUP,
  completed: stats.completed,
  virtualRate: RATE,
  usPerCall: +us.toFixed(1),
  callsPerSecondOfEdgeWork: Math.round(1e6 / us),
  // The whole process (edge, scripted peers, GC threads): CPU per call and CPU per wall second.
  processCpuUsPerCall: +((cpu.user + cpu.system) / (CALLS - WARMUP)).toFixed(1),
  processCpuShare: +((cpu.user + cpu.system) / 1000 / wallMs).toFixed(2),
  messagesPerCall: +(stats.sentMessages / CALLS).toFixed(2),
  transactionsHeld: transactions.size,
  // JS heap after a full GC, over the calls whose transactions are still held (32 s at RATE).
  heapHeldMB: Math.round(heapHeld / 1048576),
  heapPerHeldCallKB: +(heapHeld / callsHeld / 1024).toFixed(1),
  heapAtWarmupEndMB: Math.round(heapBefore / 1048576),
  // Buffer bytes (native memory, outside the JS heap) held after that GC, and both together per call.
  arrayBuffersHeldMB: Math.round(buffersHeld / 1048576),
  memoryPerHeldCallKB: +((heapHeld + buffersHeld) / callsHeld / 1024).toFixed(1),
}, null, 2));
if (process.env.HEAP_SNAPSHOT) (await import('node:v8')).writeHeapSnapshot(process.env.HEAP_SNAPSHOT);
