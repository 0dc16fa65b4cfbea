import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../../src/clock.js';
import { createResolver, orderSrv, type DnsFunctions } from '../../../src/routing/resolver.js';

function fakeDns(table: Record<string, { v4?: string[]; v6?: string[]; ttl?: number; lookup?: string[] }>, calls: string[] = []): DnsFunctions {
  const miss = (n: string): Error => Object.assign(new Error(`queryA ENOTFOUND ${n}`), { code: 'ENOTFOUND' });
  return {
    resolve4: async (n) => { calls.push(`A ${n}`); const e = table[n]; if (!e?.v4) throw miss(n); return e.v4.map((address) => ({ address, ttl: e.ttl ?? 60 })); },
    resolve6: async (n) => { calls.push(`AAAA ${n}`); const e = table[n]; if (!e?.v6) throw miss(n); return e.v6.map((address) => ({ address, ttl: e.ttl ?? 60 })); },
    lookup: async (n) => { calls.push(`lookup ${n}`); const e = table[n]; if (!e?.lookup) throw miss(n); return e.lookup.map((address) => ({ address, family: 4 })); },
    resolveSrv: async (n) => {
      if (n !== '_sips._tcp.voice.example.net') throw miss(n);
      return [
        { name: 'b.example.net', port: 5061, priority: 10, weight: 0 },
        { name: 'c.example.net', port: 5062, priority: 20, weight: 5 },
        { name: 'a.example.net', port: 5061, priority: 10, weight: 10 },
      ];
    },
  };
}

test('dns.overrides are consulted first; IP literals resolve to themselves', async () => {
  const calls: string[] = [];
  const r = createResolver({ clock: new VirtualClock(), overrides: { 'LB01.voice.euc1.pure.cloud': ['127.0.0.1'] }, dns: fakeDns({}, calls) });
  assert.deepEqual(await r.resolve('lb01.voice.euc1.pure.cloud.'), { ok: true, addresses: ['127.0.0.1'], source: 'override' });
  assert.deepEqual(await r.resolve('[2001:db8::1]'), { ok: true, addresses: ['2001:db8::1'], source: 'literal' });
  assert.deepEqual(calls, []);
});

test('A/AAAA answers are cached for their TTL on the injected clock, then re-queried', async () => {
  const clock = new VirtualClock();
  const calls: string[] = [];
  const table = { 'lb.example.net': { v4: ['192.0.2.1'], v6: ['2001:db8::1'], ttl: 30 } };
  const r = createResolver({ clock, dns: fakeDns(table, calls) });
  assert.deepEqual(await r.resolve('lb.example.net'), { ok: true, addresses: ['192.0.2.1', '2001:db8::1'], source: 'dns' });
  clock.advance(29_999);
  await r.resolve('lb.example.net');
  assert.equal(calls.length, 2, 'still cached');
  assert.deepEqual(r.cached('lb.example.net'), ['192.0.2.1', '2001:db8::1']);
  table['lb.example.net'].v4 = ['192.0.2.2'];
  clock.advance(1);
  const again = await r.resolve('lb.example.net');
  assert.equal(calls.length, 4, 'TTL expired: A and AAAA asked again');
  assert.ok(again.ok && again.addresses[0] === '192.0.2.2');
});

test('falls back to lookup (hosts file) when A/AAAA have nothing; failures are cached briefly', async () => {
  const clock = new VirtualClock();
  const calls: string[] = [];
  const r = createResolver({ clock, negativeTtlMs: 5000, dns: fakeDns({ 'pbx.lan': { lookup: ['10.0.0.5'] } }, calls) });
  assert.deepEqual(await r.resolve('pbx.lan'), { ok: true, addresses: ['10.0.0.5'], source: 'lookup' });
  const bad = await r.resolve('nowhere.invalid');
  assert.deepEqual(bad, { ok: false, reason: 'unresolved (ENOTFOUND)' });
  const n = calls.length;
  await r.resolve('nowhere.invalid');
  assert.equal(calls.length, n, 'negative answer cached');
  clock.advance(5000);
  await r.resolve('nowhere.invalid');
  assert.ok(calls.length > n);
});

test('offline: only literals and overrides; other names are unresolved, never thrown', async () => {
  const r = createResolver({ clock: new VirtualClock(), offline: true });
  const res = await r.resolve('lb01.voice.euc1.pure.cloud');
  assert.equal(res.ok, false);
  assert.deepEqual(await r.resolveSrv('_sips._tcp.voice.example.net'), []);
});

test('SRV: RFC 2782 order (priority, then weight draw) with an injected random', async () => {
  const draws = [0.99, 0];
  const r = createResolver({ clock: new VirtualClock(), dns: fakeDns({}), random: () => draws.shift() ?? 0 });
  const recs = await r.resolveSrv('_sips._tcp.voice.example.net');
  // priority 10: running sums b=0, a=10; draw floor(0.99*11)=10 -> a first; then b; then priority 20.
  assert.deepEqual(recs.map((x) => `${x.target}:${x.port}`), ['a.example.net:5061', 'b.example.net:5061', 'c.example.net:5062']);
  assert.deepEqual(orderSrv([{ target: 'x', port: 1, priority: 1, weight: 1 }, { target: 'y', port: 1, priority: 0, weight: 1 }], () => 0).map((x) => x.target), ['y', 'x']);
  assert.deepEqual(await r.resolveSrv('_sips._tcp.none.example.net'), []);
});
