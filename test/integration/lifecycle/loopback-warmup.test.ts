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
