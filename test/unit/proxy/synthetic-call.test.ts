import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scheduledTimers, VirtualClock } from '../../../src/clock.js';
import { createCallRig, warmUp } from '../../../src/proxy/synthetic-call.js';

test('synthetic call: INVITE with SRTP offer, 200 with answer, ACK, BYE, 200 through the proxy core, both legs; no 100 Trying when the answer beats timers.trying', async () => {
  const clock = new VirtualClock();
  const rig = createCallRig(clock);
  for (let n = 0; n < 3; n++) await rig.call(n);
  assert.equal(rig.stats.completed, 3, 'every BYE got its 200 back at the UAC');
  // Per call: the 200 toward the PBX (the vendor answered within the 100 Trying's 100 ms hold-back,
  // §17.2.1), INVITE, ACK and BYE toward the vendor, the BYE's 200 back.
  assert.equal(rig.stats.sentMessages, 15);
  assert.ok(rig.transactions.size > 0, 'RFC 6026 state lingers on the rig\'s own clock');
  clock.advance(64 * 500 + 1000);
  assert.equal(rig.transactions.size, 0, 'and expires on it');
});

test('warmUp: runs its calls to the end on its own clock and leaves no timer on the edge\'s', async () => {
  const before = scheduledTimers();
  const w = await warmUp(200);
  assert.equal(w.calls, 200);
  assert.equal(w.completed, 200, 'a script the proxy no longer completes shows here (the edge logs it as a warning)');
  assert.ok(w.ms >= 0);
  assert.equal(scheduledTimers(), before, 'nothing scheduled on the system clock');
});
