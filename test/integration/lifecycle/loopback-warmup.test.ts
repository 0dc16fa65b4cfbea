import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scheduledTimers } from '../../../src/clock.js';
import { warmUpLoopback } from '../../../src/loopback-warmup.js';

// src/loopback-warmup.ts, in this process: a private stack on loopback sockets, then nothing left.

/** Socket handles of this process (UDP, TCP servers and connections). */
function sockets(): number {
  return process.getActiveResourcesInfo().filter((r) => /^(UDP|TCP|Pipe)/.test(r)).length;
}

/** Until the handles closed at stop are gone (close callbacks run a turn later), bounded. */
async function socketsSettle(baseline: number): Promise<number> {
  for (let i = 0; i < 200 && sockets() > baseline; i++) await new Promise((r) => setImmediate(r));
  return sockets();
}

test('warmUpLoopback: every call completes over real UDP and TCP sockets; afterwards no socket, no SIP timer is left', async () => {
  const socketsBefore = sockets();
  const timersBefore = scheduledTimers();
  const r = await warmUpLoopback(60, { window: 4 });
  assert.equal(r.calls, 60);
  assert.equal(r.refused, 0);
  assert.equal(r.completed, 60, 'INVITE/200/ACK/BYE/200 through UDP in and TCP out, 60 times');
  assert.equal(await socketsSettle(socketsBefore), socketsBefore, 'the UAC, UAS, listener and pooled connection are closed');
  assert.equal(scheduledTimers(), timersBefore, 'the stack stopped: its transactions\' timers are cancelled');
});

test('warmUpLoopback: bounded in time — when the time is up it returns what completed, never throws, and still cleans up', async () => {
  const socketsBefore = sockets();
  const r = await warmUpLoopback(1000, { timeoutMs: 0 });
  assert.equal(r.calls, 1000);
  assert.ok(r.completed < 1000, `stopped before the end (${r.completed} completed)`);
  assert.equal(await socketsSettle(socketsBefore), socketsBefore);
});

test('warmUpLoopback: a refused call (every INVITE shed with 503) is ACKed and replaced, so the run ends at once, never at its time limit', async () => {
  const socketsBefore = sockets();
  const timersBefore = scheduledTimers();
  // loop-busy shedding forced on for every INVITE (the drill adds 100 % to the loop's utilization).
  const r = await warmUpLoopback(40, { window: 4, timeoutMs: 60_000, limits: { maxEventLoopUtilizationPercent: 50, eventLoopUtilizationDrillPercent: 100 } });
  assert.equal(r.refused, 40, 'each INVITE got its 503 and the UAC moved on to the next call');
  assert.equal(r.completed, 0);
  assert.equal(r.error, undefined);
  assert.equal(await socketsSettle(socketsBefore), socketsBefore);
  // The ACKs matched: the 503s' server transactions went Completed -> Confirmed, and the stop cancelled the rest.
  assert.equal(scheduledTimers(), timersBefore);
});

test('warmUpLoopback: the private stack does not shed its own calls when this process\'s loop is busy (5,000 calls, all complete)', async () => {
  const r = await warmUpLoopback(5000, { timeoutMs: 60_000 });
  assert.deepEqual({ completed: r.completed, refused: r.refused, error: r.error }, { completed: 5000, refused: 0, error: undefined });
});
