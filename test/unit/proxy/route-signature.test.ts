import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EdgeConfig } from '../../../src/config/schema.js';
import { loadRouteSigner } from '../../../src/proxy/route-keys.js';
import assert from 'node:assert/strict';
import { RouteSigner } from '../../../src/proxy/route-signature.js';
import { readOwnRoute, recordRouteValue, routeUriOf } from '../../../src/proxy/record-route.js';
import { LogRateLimiter } from '../../../src/observability/log-rate.js';
import type { Leg } from '../../../src/proxy/identity.js';

const OUT: Leg = { side: 'outside', transport: 'tls', host: 'edge.example.com', port: 5061, boundAddress: '0.0.0.0' };

test('a Record-Route entry round-trips: signed with the first key, verified by any key', () => {
  const a = new RouteSigner(['first-key-0123456789', 'older-key-0123456789']);
  const v = recordRouteValue(OUT, { targetName: 'lb01.voice.euc1.pure.cloud', flowId: 'f12' }, a);
  assert.match(v, /;se=o;t=lb01\.voice\.euc1\.pure\.cloud;f=f12;sg=[A-Za-z0-9_-]{16}>$/);
  const own = readOwnRoute(routeUriOf(v)!, new RouteSigner(['first-key-0123456789']));
  assert.deepEqual(own, { side: 'outside', hints: { targetName: 'lb01.voice.euc1.pure.cloud', flowId: 'f12' } });
  // Rotation: an instance that moved on to a new signing key still accepts the old entries.
  assert.notEqual(readOwnRoute(routeUriOf(v)!, new RouteSigner(['newer-key-0123456789', 'first-key-0123456789'])), 'forged');
  assert.equal(readOwnRoute(routeUriOf(v)!, new RouteSigner(['other-key-0123456789'])), 'forged');
});

test('one URI object read again (as the Route cache hands it back): its reading is kept per signer, never across keys', () => {
  const a = new RouteSigner(['first-key-0123456789']);
  const uri = routeUriOf(recordRouteValue(OUT, { targetName: 'lb01.voice.euc1.pure.cloud' }, a))!;
  const first = readOwnRoute(uri, a);
  assert.notEqual(first, 'forged');
  assert.equal(readOwnRoute(uri, a), first, 'the same reading, not a second verification');
  // Another signer without the key (a reload with new keys): the same object is forged for it...
  const b = new RouteSigner(['other-key-0123456789']);
  assert.equal(readOwnRoute(uri, b), 'forged');
  assert.equal(readOwnRoute(uri, b), 'forged');
  // ...and still the edge's own for the signer that wrote it.
  assert.deepEqual(readOwnRoute(uri, a), first);
});

test('any changed, added or missing parameter fails the check; entries without se are not the edge\'s', () => {
  const s = new RouteSigner(['first-key-0123456789']);
  const v = recordRouteValue(OUT, { targetName: 'lb01.example.com' }, s);
  for (const bad of [v.replace('t=lb01', 't=lb02'), v.replace(';se=o', ';se=i'), v.replace(';se=o', ';se=o;f=x'), v.replace(/;sg=[^>]+/, ''), v.replace(/sg=[^>]+/, 'sg=short'), v.replace(';se=o', ';se=x')]) {
    assert.equal(readOwnRoute(routeUriOf(bad)!, s), 'forged', bad);
  }
  assert.equal(readOwnRoute(routeUriOf('<sip:edge.example.com:5061;transport=tls;lr>')!, s), null);
  assert.throws(() => new RouteSigner(['short']), /shorter than 16/);
  assert.throws(() => new RouteSigner([]), /at least one key/);
});

test('a cached verification is for its exact parameters: the same signature beside another value still fails', () => {
  const s = new RouteSigner(['first-key-0123456789']);
  const v = recordRouteValue(OUT, { targetName: 'lb01.example.com', flowId: 'f1' }, s);
  // Verified once (now cached), then the same sg with each parameter changed, dropped or added.
  assert.notEqual(readOwnRoute(routeUriOf(v)!, s), 'forged');
  for (const bad of [v.replace('t=lb01', 't=lb02'), v.replace(';f=f1', ';f=f2'), v.replace(';f=f1', ''), v.replace(';se=o', ';se=o;pe=pbx'), v.replace(';se=o', ';se=i')]) {
    assert.equal(readOwnRoute(routeUriOf(bad)!, s), 'forged', bad);
  }
  assert.notEqual(readOwnRoute(routeUriOf(v)!, s), 'forged');
});

test('LogRateLimiter: a burst per window, then the skipped count on the next logged line', () => {
  let now = 0;
  const l = new LogRateLimiter(2, 1000, () => now);
  assert.deepEqual([l.take('a'), l.take('a'), l.take('a'), l.take('a'), l.take('b')], [0, 0, -1, -1, 0]);
  now = 1000;
  assert.equal(l.take('a'), 2);
  assert.equal(l.take('a'), 0);
});

test('loadRouteSigner: env keys, then the file, then inline keys; the first signs; bad input fails the start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sips-edge-route-keys-'));
  try {
    const file = join(dir, 'keys');
    writeFileSync(file, '# rotated 2026-12\nfile-key-one-0123456789\n\nfile-key-two-0123456789\n');
    const config = (routeKeys: unknown) => ({ edge: { name: 'edge.example.com', drainTimeoutSeconds: 30, routeKeys } }) as unknown as EdgeConfig;
    const s = loadRouteSigner(config({ env: 'K', file, keys: ['inline-key-0123456789'] }), { routeKeys: 'env-key-one-0123456789, env-key-two-0123456789' });
    assert.equal(s.keyCount, 5);
    assert.equal(s.generated, false);
    const byEnv = new RouteSigner(['env-key-one-0123456789']);
    assert.equal(s.sign('o', 't', undefined, undefined), byEnv.sign('o', 't', undefined, undefined));
    assert.ok(s.verify('i', undefined, undefined, 'pbx', new RouteSigner(['file-key-two-0123456789']).sign('i', undefined, undefined, 'pbx')));
    assert.equal(loadRouteSigner(config(undefined)).generated, true);
    assert.throws(() => loadRouteSigner(config({ env: 'NOPE' }), {}), /NOPE is not set/);
    assert.throws(() => loadRouteSigner(config({ env: 'K' }), { routeKeys: 'short' }), /key 1 is shorter than 16/);
    assert.throws(() => loadRouteSigner(config({ file: join(dir, 'missing') })), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
