import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { encodeBencode, decodeBencode, type BDict } from '../../../src/media/bencode.js';
import { rendezvousPick, RtpenginePool, type MediaInstanceEvent } from '../../../src/media/rtpengine-pool.js';
import { MediaError } from '../../../src/media/types.js';

const ids = Array.from({ length: 6000 }, (_, i) => `call-${i}@pbx.example`);

test('rendezvous: calls spread by weight', () => {
  const inst = [{ name: 'a', weight: 1 }, { name: 'b', weight: 2 }, { name: 'c', weight: 3 }];
  const n = new Map<string, number>();
  for (const id of ids) {
    const p = rendezvousPick(id, inst)!;
    n.set(p.name, (n.get(p.name) ?? 0) + 1);
  }
  // Expected 1000/2000/3000; a binomial spread of a few dozen around each.
  assert.ok(Math.abs(n.get('a')! - 1000) < 150, JSON.stringify([...n]));
  assert.ok(Math.abs(n.get('b')! - 2000) < 200, JSON.stringify([...n]));
  assert.ok(Math.abs(n.get('c')! - 3000) < 200, JSON.stringify([...n]));
});

test('rendezvous: removing an instance moves only its own calls; the same Call-ID always picks the same', () => {
  const all = [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }, { name: 'c', weight: 1 }];
  const without = all.filter((i) => i.name !== 'b');
  for (const id of ids) {
    const before = rendezvousPick(id, all)!.name;
    assert.equal(rendezvousPick(id, all)!.name, before);
    const after = rendezvousPick(id, without)!.name;
    if (before !== 'b') assert.equal(after, before, `${id} moved from ${before}`);
  }
  assert.equal(rendezvousPick('x', []), null);
  assert.equal(rendezvousPick('x', [{ name: 'z', weight: 0 }]), null);
});

/** A fake rtpengine: answers ping with pong and anything else with ok, until muted. */
async function fake(): Promise<{ port: number; muted: boolean; seen: BDict[]; close(): Promise<void> }> {
  const s: Socket = createSocket('udp4');
  const f = { port: 0, muted: false, seen: [] as BDict[], close: () => new Promise<void>((resolve) => s.close(() => resolve())) };
  s.on('message', (raw, from) => {
    if (f.muted) return;
    const sp = raw.indexOf(0x20);
    const d = decodeBencode(raw.subarray(sp + 1)) as BDict;
    f.seen.push(d);
    s.send(Buffer.concat([raw.subarray(0, sp + 1), encodeBencode({ result: d['command'] === 'ping' ? 'pong' : 'ok' })]), from.port, from.address);
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  f.port = s.address().port;
  return f;
}

test('pool: an instance failing its ping is skipped for new calls; calls it holds fail UNAVAILABLE; back up after a pong', async () => {
  const a = await fake();
  const b = await fake();
  const events: MediaInstanceEvent[] = [];
  let waiter: (() => void) | null = null;
  const pool = new RtpenginePool({
    instances: [{ name: 'a', address: '127.0.0.1', port: a.port }, { name: 'b', address: '127.0.0.1', port: b.port }],
    timeoutMs: 150, retries: 1, pingIntervalMs: 50,
    observer: { onInstanceState: (e) => { events.push(e); waiter?.(); } },
  });
  const next = (pred: () => boolean): Promise<void> => new Promise((resolve) => {
    if (pred()) return resolve();
    waiter = () => { if (pred()) { waiter = null; resolve(); } };
  });
  try {
    await pool.ready();
    assert.deepEqual(pool.states(), [{ name: 'a', up: true }, { name: 'b', up: true }]);
    const onA = ids.filter((id) => rendezvousPick(id, [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }])!.name === 'a').slice(0, 5);
    for (const id of onA) assert.equal((await pool.send(id, { command: 'offer', 'call-id': id }, true)).instance, 'a');

    a.muted = true;
    await next(() => pool.states()[0]!.up === false);
    assert.equal(events.at(-1)!.instance, 'a');
    assert.equal(pool.available(), true);
    for (const id of onA) {
      await assert.rejects(pool.send(id, { command: 'answer', 'call-id': id }, false), (e) => e instanceof MediaError && e.code === 'SIPS_ERR_MEDIA_UNAVAILABLE');
    }
    const freshA = ids.map((id) => `${id}-fresh`).find((id) => rendezvousPick(id, [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }])!.name === 'a')!;
    assert.equal((await pool.send(freshA, { command: 'offer', 'call-id': freshA }, true)).instance, 'b', 'a new call goes to an instance that is up');
    assert.equal((await pool.send(freshA, { command: 'answer', 'call-id': freshA }, false)).instance, 'b', 'and stays there');

    a.muted = false;
    await next(() => pool.states()[0]!.up === true);
    assert.equal(events.at(-1)!.reason, 'ping answered');
    assert.equal((await pool.send(onA[0]!, { command: 'answer', 'call-id': onA[0]! }, false)).instance, 'a');
    assert.equal((await pool.send(freshA, { command: 'answer', 'call-id': freshA }, false)).instance, 'b', 'a placed call is not moved back');

    b.muted = true;
    a.muted = true;
    await next(() => !pool.available());
    await assert.rejects(pool.send('brand-new', { command: 'offer', 'call-id': 'brand-new' }, true), (e) => e instanceof MediaError && /no rtpengine instance is up/.test(e.message));
  } finally {
    await pool.close();
    await a.close();
    await b.close();
  }
});
