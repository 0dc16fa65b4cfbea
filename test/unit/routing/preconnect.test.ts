import { test } from 'node:test';
import assert from 'node:assert/strict';
import { poolKey, type StreamTarget } from '../../../src/transport/connection-pool.js';
import { preconnectTrunks } from '../../../src/routing/preconnect.js';
import { Rotation, trunkTargets } from '../../../src/routing/targets.js';
import type { PeerAddress } from '../../../src/transaction/types.js';
import { rig } from './helpers.js';

test('preconnect dials every host of each TLS trunk at the pool key a call to it uses (the ping itself: integration/transport/pool.test.ts)', async () => {
  const r = await rig();
  const sent: { target: PeerAddress }[] = [];
  const results = await preconnectTrunks(r.router.trunkPlans(), r.resolver, false, (target) => {
    sent.push({ target });
    return Promise.resolve();
  });
  assert.ok(sent.length > 0, 'the fixture has TLS trunks');
  assert.ok(sent.every((s) => s.target.transport === 'tls' && s.target.servername !== undefined), 'TLS, with the host name to check (RFC 5922)');
  // The fixture leaves lb04.voice.euc1 out of dns.overrides: unresolved, so not dialled and reported.
  const unresolved = results.filter((x) => !x.ok);
  assert.ok(unresolved.length > 0 && unresolved.every((x) => x.host === 'lb04.voice.euc1.pure.cloud' && /\S/.test(x.reason ?? '')), JSON.stringify(unresolved));
  assert.equal(results.filter((x) => x.ok).length, sent.length);
  for (const plan of r.router.trunkPlans().filter((p) => p.trunk.transport !== 'udp' && p.trunk.preconnect)) {
    const calls = await trunkTargets(plan, '+4930123456', { health: r.health, resolver: r.resolver, srv: false }, new Rotation());
    for (const t of calls.targets) {
      const key = poolKey(t as StreamTarget);
      assert.ok(sent.some((s) => poolKey(s.target as StreamTarget) === key), `a call's connection ${key} was opened ahead`);
    }
  }
  const keys = sent.map((s) => poolKey(s.target as StreamTarget));
  assert.equal(new Set(keys).size, keys.length, 'one connection per host, however many trunks share it (a region\'s lb hosts)');
});

test('preconnect: off per trunk, never for UDP; a failure is a result with its reason, never a rejection', async () => {
  const r = await rig((c) => {
    for (const t of c.trunks) (t as { preconnect: boolean }).preconnect = false;
  });
  const none = await preconnectTrunks(r.router.trunkPlans(), r.resolver, false, () => Promise.reject(new Error('must not send')));
  assert.deepEqual(none, []);
  const on = await rig();
  const failed = await preconnectTrunks(on.router.trunkPlans(), on.resolver, false, () => Promise.reject(new Error('ECONNREFUSED')));
  assert.ok(failed.length > 0);
  assert.ok(failed.every((x) => !x.ok), 'nothing succeeds');
  assert.ok(failed.filter((x) => x.host !== 'lb04.voice.euc1.pure.cloud').every((x) => x.reason === 'ECONNREFUSED'), 'the transport error is the reason');
});
