import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoopLoadAverages, UDP_BEHIND_PERCENT, type LoopLoadWindow } from '../../src/loop-load.js';

/** Issue 13: what the loop-busy shed (limits.maxEventLoopUtilizationPercent, 95 by default) reads. */
function after(windows: number, w: LoopLoadWindow): LoopLoadAverages {
  const a = new LoopLoadAverages();
  for (let i = 0; i < windows; i++) a.fold(w);
  return a;
}

test('a loop that waits for a CPU but keeps up (busy in wall time, 60 % on a CPU, its UDP turns rarely full) reads its CPU share', () => {
  const a = after(12, { utilizationPercent: 100, cpuPercent: 60, udpTurns: 400, udpFullTurns: 100 });
  assert.ok(a.utilizationPercent > 95, `utilization ${a.utilizationPercent}`);
  assert.ok(Math.abs(a.busyPercent - 60) < 1, `busy ${a.busyPercent}`);
});

test('the same loop seen falling behind (nearly every UDP turn ends full) reads its utilization, waiting included', () => {
  const a = after(12, { utilizationPercent: 100, cpuPercent: 60, udpTurns: 150, udpFullTurns: 150 });
  assert.ok(a.udpBacklogPercent >= UDP_BEHIND_PERCENT);
  assert.ok(a.busyPercent > 95, `busy ${a.busyPercent}`);
});

test('the backlog is a moving average: two full windows do not make a loop behind, and it decays in windows without UDP', () => {
  const a = after(12, { utilizationPercent: 100, cpuPercent: 60, udpTurns: 300, udpFullTurns: 30 });
  a.fold({ utilizationPercent: 100, cpuPercent: 60, udpTurns: 100, udpFullTurns: 100 });
  a.fold({ utilizationPercent: 100, cpuPercent: 60, udpTurns: 100, udpFullTurns: 100 });
  assert.ok(a.udpBacklogPercent < UDP_BEHIND_PERCENT, `backlog ${a.udpBacklogPercent}`);
  assert.ok(a.busyPercent < 70);
  const behind = after(12, { utilizationPercent: 100, cpuPercent: 60, udpTurns: 100, udpFullTurns: 100 });
  for (let i = 0; i < 3; i++) behind.fold({ utilizationPercent: 100, cpuPercent: 60, udpTurns: 0, udpFullTurns: 0 });
  assert.ok(behind.udpBacklogPercent < UDP_BEHIND_PERCENT, `decayed backlog ${behind.udpBacklogPercent}`);
  assert.ok(behind.busyPercent < 70);
});

test('a loop saturated by its own work reads busy with or without UDP (a stream-only edge is shed on its CPU share)', () => {
  assert.ok(after(12, { utilizationPercent: 100, cpuPercent: 99, udpTurns: 0, udpFullTurns: 0 }).busyPercent > 95);
  assert.ok(after(12, { utilizationPercent: 100, cpuPercent: 99, udpTurns: 500, udpFullTurns: 0 }).busyPercent > 95);
});

test('an idle loop never reads more busy than its utilization (CPU time beside it, GC threads excluded, cannot raise it)', () => {
  const a = after(12, { utilizationPercent: 20, cpuPercent: 35, udpTurns: 10, udpFullTurns: 10 });
  assert.ok(Math.abs(a.busyPercent - 20) < 1, `busy ${a.busyPercent}`);
  assert.ok(after(3, { utilizationPercent: 50, cpuPercent: 180, udpTurns: 0, udpFullTurns: 0 }).cpuPercent <= 100);
});
