import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRtpengineAnchor, type MediaInstanceEvent, type RtpengineAnchor } from '../../../src/media/rtpengine-anchor.js';
import { MediaError } from '../../../src/media/types.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { Rtpengine } from '../../helpers/rtpengine.js';

const OFFER = readFileSync(join(FIXTURES, 'media', 'offer-inside-rtp.sdp'), 'utf8');
const ANSWER = readFileSync(join(FIXTURES, 'media', 'answer-outside-srtp.sdp'), 'utf8');

let one: Rtpengine;
let two: Rtpengine;
let anchor: RtpengineAnchor;
const states: MediaInstanceEvent[] = [];
let onState: (() => void) | null = null;

function until(pred: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (pred()) return resolve();
    onState = () => { if (pred()) { onState = null; resolve(); } };
  });
}

const offer = (callId: string) => anchor.offer({ callId, fromTag: 'f', sdp: OFFER, from: 'inside', to: 'outside', toMedia: 'srtp' });
const answer = (callId: string) => anchor.answer({ callId, fromTag: 'f', toTag: 't', sdp: ANSWER, from: 'outside', to: 'inside', toMedia: 'rtp' });

before(async () => {
  [one, two] = await Promise.all([Rtpengine.start(), Rtpengine.start()]);
  anchor = createRtpengineAnchor({
    instances: [
      { name: 'one', address: '127.0.0.1', port: one.ngPort, weight: 1 },
      { name: 'two', address: '127.0.0.1', port: two.ngPort, weight: 3 },
    ],
    // Generous: the machine is shared, and a command timing out marks its instance down.
    timeoutMs: 2000,
    retries: 3,
    pingIntervalMs: 200,
    observer: { onInstanceState: (e) => { states.push(e); onState?.(); } },
  });
  await anchor.ready();
});

after(async () => {
  await anchor?.close();
  await Promise.all([one?.stop(), two?.stop()]);
});

const ids = Array.from({ length: 200 }, (_, i) => `spread-${process.pid}-${i}@pbx.example`);
const placed = new Map<string, string>();

test('two real daemons: calls spread by weight, every command of a call on one instance', async () => {
  assert.deepEqual(anchor.instances(), [{ name: 'one', up: true }, { name: 'two', up: true }]);
  for (const id of ids) {
    const o = await offer(id);
    const a = await answer(id);
    assert.equal(a.instance, o.instance, `${id}: answer on the offer's instance`);
    placed.set(id, o.instance);
  }
  const onOne = [...placed.values()].filter((n) => n === 'one').length;
  // weight 1:3 -> 50 of 200 expected.
  assert.ok(onOne > 25 && onOne < 80, `one took ${onOne} of 200`);
  // Each daemon knows exactly its own calls.
  for (const id of ids.slice(0, 20)) {
    assert.ok((await anchor.query(id)) !== null, `${id} found where it was placed`);
  }
});

test('kill one: after its ping fails, new calls go to the other and its calls fail UNAVAILABLE; restart: back up', async () => {
  await one.kill();
  await until(() => anchor.instances()[0]!.up === false);
  assert.equal(states.at(-1)!.instance, 'one');
  assert.equal(anchor.available(), true);

  const onOne = ids.filter((id) => placed.get(id) === 'one');
  const onTwo = ids.filter((id) => placed.get(id) === 'two');
  for (const id of onOne.slice(0, 5)) {
    await assert.rejects(answer(id), (e) => e instanceof MediaError && e.code === 'SIPS_ERR_MEDIA_UNAVAILABLE');
  }
  for (const id of onTwo.slice(0, 5)) assert.equal((await answer(id)).instance, 'two', 'calls on the live instance go on');

  const fresh = Array.from({ length: 40 }, (_, i) => `fresh-${process.pid}-${i}@pbx.example`);
  for (const id of fresh) {
    assert.equal((await offer(id)).instance, 'two');
    assert.equal((await answer(id)).instance, 'two');
  }

  await one.restart();
  await until(() => anchor.instances()[0]!.up === true);
  assert.deepEqual(states.at(-1), { instance: 'one', up: true, reason: 'ping answered' });
  // The restarted daemon lost its sessions: rtpengine says so, the edge does not move the call.
  await assert.rejects(answer(onOne[0]!), (e) => e instanceof MediaError && e.code === 'SIPS_ERR_MEDIA_REFUSED');
  // New calls reach it again; calls placed on two while one was down stay on two.
  const again = Array.from({ length: 40 }, (_, i) => `again-${process.pid}-${i}@pbx.example`);
  const where = await Promise.all(again.map(async (id) => (await offer(id)).instance));
  assert.ok(where.includes('one'), 'one takes new calls again');
  for (const id of fresh.slice(0, 5)) assert.equal((await answer(id)).instance, 'two');
  for (const id of [...ids, ...fresh, ...again]) await anchor.delete(id);
});
