import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../../src/clock.js';
import { createHealthMonitor, type HealthChange, type ProbeHost } from '../../../src/routing/health.js';
import { flush } from './helpers.js';

const SETTINGS = { intervalSeconds: 10, downAfter: 3, upAfter: 2, enabled: true };
const HOSTS = [{ name: 'lb01.voice.euc1.pure.cloud', port: 5061 }, { name: 'lb02.voice.euc1.pure.cloud', port: 5061 }];
const lb01 = { trunk: 't', host: 'lb01.voice.euc1.pure.cloud' };
const lb02 = { trunk: 't', host: 'lb02.voice.euc1.pure.cloud' };

test('probes at intervalSeconds in virtual time; down after downAfter failures, up after upAfter successes', async () => {
  const clock = new VirtualClock();
  const failing = new Set(['lb01.voice.euc1.pure.cloud']);
  const probed: ProbeHost[] = [];
  const changes: HealthChange[] = [];
  const h = createHealthMonitor({
    clock,
    probe: async (host) => { probed.push(host); return failing.has(host.name) ? { ok: false, latencyMs: 0, reason: 'name-mismatch' } : { ok: true, latencyMs: 3 }; },
    onChange: (c) => changes.push(c),
  });
  h.track('t', 'euc1', HOSTS, SETTINGS);
  h.start();
  clock.advance(0);
  await flush();
  assert.equal(probed.length, 2, 'first round at once');
  assert.equal(h.isUp(lb01), true, '1 failure: still up');
  clock.advance(10_000); await flush();
  assert.equal(h.isUp(lb01), true, '2 failures: still up');
  clock.advance(10_000); await flush();
  assert.equal(h.isUp(lb01), false, '3 failures: down');
  assert.deepEqual(changes, [{ trunk: 't', region: 'euc1', host: 'lb01.voice.euc1.pure.cloud', up: false, reason: 'name-mismatch' }]);
  assert.equal(h.isUp(lb02), true);
  failing.clear();
  clock.advance(10_000); await flush();
  assert.equal(h.isUp(lb01), false, '1 success: still down');
  clock.advance(10_000); await flush();
  assert.equal(h.isUp(lb01), true, '2 successes: up');
  assert.equal(changes.length, 2);
  assert.equal(changes[1]!.up, true);
  assert.equal(probed.length, 10);
  h.stop();
  clock.advance(60_000); await flush();
  assert.equal(probed.length, 10, 'no probes after stop');
  assert.equal(clock.pending, 0);
});

test('passive feedback uses the same hysteresis; a success resets the failure run', () => {
  const h = createHealthMonitor({ clock: new VirtualClock() });
  h.track('t', undefined, HOSTS, SETTINGS);
  h.reportFailure(lb01, 'timeout');
  h.reportFailure(lb01, 'timeout');
  h.reportSuccess(lb01);
  h.reportFailure(lb01, 'timeout');
  h.reportFailure(lb01, 'timeout');
  assert.equal(h.isUp(lb01), true);
  h.reportFailure(lb01, 'connect-refused');
  assert.equal(h.isUp(lb01), false);
  const snap = h.snapshot().find((s) => s.host === lb01.host);
  assert.equal(snap?.lastReason, 'connect-refused');
  assert.equal(h.retryAfterSeconds('t'), 20);
});

test('health disabled: hosts always count as up', () => {
  const h = createHealthMonitor({ clock: new VirtualClock() });
  h.track('t', undefined, HOSTS, { ...SETTINGS, enabled: false });
  for (let i = 0; i < 5; i++) h.reportFailure(lb01, 'x');
  assert.equal(h.isUp(lb01), true);
});

test('a probe that throws counts as a failure with its message', async () => {
  const clock = new VirtualClock();
  const h = createHealthMonitor({ clock, probe: async () => { throw new Error('handshake-timeout'); } });
  h.track('t', undefined, HOSTS.slice(0, 1), { ...SETTINGS, downAfter: 1 });
  h.start();
  clock.advance(0);
  await flush();
  assert.equal(h.isUp(lb01), false);
  assert.equal(h.snapshot()[0]!.lastReason, 'handshake-timeout');
  h.stop();
});
