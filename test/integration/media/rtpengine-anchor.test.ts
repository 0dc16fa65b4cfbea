import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRtpengineAnchor, type MediaCommandEvent, type RtpengineAnchor } from '../../../src/media/rtpengine-anchor.js';
import { MediaError } from '../../../src/media/types.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { Rtpengine } from '../../helpers/rtpengine.js';

const sdp = (name: string): string => readFileSync(join(FIXTURES, 'media', name), 'utf8');
const lines = (s: string, prefix: string): string[] => s.split('\r\n').filter((l) => l.startsWith(prefix));
const suites = (s: string): string[] => lines(s, 'a=crypto:').map((l) => l.split(' ')[1]!);
/** Keys rtpengine generated in the SDPs it wrote (checked against its log at the end). */
const generatedKeys: string[] = [];
const keep = (s: string): string => {
  for (const l of lines(s, 'a=crypto:')) generatedKeys.push(l.split('inline:')[1]!.split('|')[0]!);
  return s;
};

let rtp: Rtpengine;
let anchor: RtpengineAnchor;
const commands: MediaCommandEvent[] = [];
let seq = 0;
const callId = (): string => `anchor-${process.pid}-${++seq}@pbx.example`;

before(async () => {
  rtp = await Rtpengine.start();
  anchor = createRtpengineAnchor({
    instances: [{ name: 'rtp1', address: '127.0.0.1', port: rtp.ngPort }],
    timeoutMs: 3000,
    pingIntervalMs: 1000,
    observer: { onCommand: (e) => commands.push(e) },
  });
  await anchor.ready();
});

after(async () => {
  await anchor?.close();
  await rtp?.stop();
});

test('ping: the instance is up once it answered pong', () => {
  assert.equal(anchor.available(), true);
  assert.deepEqual(anchor.instances(), [{ name: 'rtp1', up: true }]);
  assert.ok(commands.some((c) => c.command === 'ping' && c.result === 'ok' && c.instance === 'rtp1'));
});

test('offer inside RTP/AVP -> outside srtp: RTP/SAVP, exactly the allowed suites, 127.0.0.2, ICE removed, rtcp-mux and telephone-event kept', async () => {
  const id = callId();
  const offer = await anchor.offer({ callId: id, fromTag: 'pbx-1', sdp: sdp('offer-inside-rtp.sdp'), from: 'inside', to: 'outside', toMedia: 'srtp' });
  assert.equal(offer.instance, 'rtp1');
  const o = keep(offer.sdp);
  assert.match(lines(o, 'm=audio')[0]!, /^m=audio \d+ RTP\/SAVP 0 101$/);
  assert.deepEqual(suites(o), ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']);
  assert.deepEqual(lines(o, 'c='), ['c=IN IP4 127.0.0.2']);
  assert.match(lines(o, 'o=')[0]!, / IN IP4 127\.0\.0\.2$/);
  assert.deepEqual(lines(o, 'a=candidate'), []);
  assert.deepEqual(lines(o, 'a=ice-'), []);
  assert.deepEqual(lines(o, 'a=fingerprint'), [], 'SDES only, no DTLS');
  assert.deepEqual(lines(o, 'a=rtcp-mux'), ['a=rtcp-mux']);
  assert.deepEqual(lines(o, 'a=rtpmap:101'), ['a=rtpmap:101 telephone-event/8000']);
  assert.deepEqual(lines(o, 'a=fmtp:101'), ['a=fmtp:101 0-15']);

  const answer = await anchor.answer({ callId: id, fromTag: 'pbx-1', toTag: 'vendor-1', sdp: sdp('answer-outside-srtp.sdp'), from: 'outside', to: 'inside', toMedia: 'rtp' });
  const a = answer.sdp;
  assert.match(lines(a, 'm=audio')[0]!, /^m=audio \d+ RTP\/AVP 0 101$/);
  assert.deepEqual(suites(a), []);
  assert.deepEqual(lines(a, 'c='), ['c=IN IP4 127.0.0.1']);
  assert.deepEqual(lines(a, 'a=rtcp-mux'), ['a=rtcp-mux']);
  assert.deepEqual(lines(a, 'a=rtpmap:101'), ['a=rtpmap:101 telephone-event/8000']);

  const q = await anchor.query(id);
  assert.ok(q !== null, 'query finds the call');
  assert.ok(typeof q['tags'] === 'object' && q['tags'] !== null && 'pbx-1' in q['tags'] && 'vendor-1' in q['tags'], JSON.stringify(q['tags']));

  await anchor.delete(id);
  assert.equal(await anchor.query(id), null);
  assert.ok(commands.some((c) => c.command === 'delete' && c.result === 'ok' && c.callId === id));
});

test('reverse: offer from outside SRTP -> inside rtp, answer from inside -> outside srtp with one allowed suite', async () => {
  const id = callId();
  const offer = await anchor.offer({ callId: id, fromTag: 'vendor-2', sdp: sdp('offer-outside-srtp.sdp'), from: 'outside', to: 'inside', toMedia: 'rtp' });
  const o = offer.sdp;
  assert.match(lines(o, 'm=audio')[0]!, /^m=audio \d+ RTP\/AVP 0 101$/);
  assert.deepEqual(suites(o), []);
  assert.deepEqual(lines(o, 'c='), ['c=IN IP4 127.0.0.1']);
  assert.deepEqual(lines(o, 'a=rtcp-mux'), ['a=rtcp-mux']);

  const answer = await anchor.answer({ callId: id, fromTag: 'vendor-2', toTag: 'pbx-2', sdp: sdp('answer-inside-rtp.sdp'), from: 'inside', to: 'outside', toMedia: 'srtp' });
  const a = keep(answer.sdp);
  assert.match(lines(a, 'm=audio')[0]!, /^m=audio \d+ RTP\/SAVP 0 101$/);
  // The offer's AES_256 suite is not allowed: rtpengine answers the allowed one it was offered.
  assert.deepEqual(suites(a), ['AES_CM_128_HMAC_SHA1_80']);
  assert.deepEqual(lines(a, 'c='), ['c=IN IP4 127.0.0.2']);
  await anchor.delete(id);
  assert.equal(await anchor.query(id), null);
});

test('an srtp offer with only a suite that is not allowed: the answer toward it is refused, never sent without keys', async () => {
  const id = callId();
  const only256 = sdp('offer-outside-srtp.sdp').split('\r\n').filter((l) => !l.startsWith('a=crypto:2')).join('\r\n');
  await anchor.offer({ callId: id, fromTag: 'vendor-3', sdp: only256, from: 'outside', to: 'inside', toMedia: 'rtp' });
  await assert.rejects(
    anchor.answer({ callId: id, fromTag: 'vendor-3', toTag: 'pbx-3', sdp: sdp('answer-inside-rtp.sdp'), from: 'inside', to: 'outside', toMedia: 'srtp' }),
    (e) => e instanceof MediaError && e.code === 'SIPS_ERR_MEDIA_REFUSED' && /no a=crypto with an allowed suite/.test(e.message),
  );
  await anchor.delete(id);
});

test('rtpengine refusing the SDP: REFUSED with its error-reason; answer to an unknown call refused', async () => {
  await assert.rejects(
    anchor.offer({ callId: callId(), fromTag: 'x', sdp: 'v=0\r\nbogus\r\n', from: 'inside', to: 'outside', toMedia: 'srtp' }),
    (e) => e instanceof MediaError && e.code === 'SIPS_ERR_MEDIA_REFUSED' && e.message.length > 0,
  );
  assert.ok(commands.some((c) => c.command === 'offer' && c.result === 'error' && (c.errorReason ?? '').length > 0));
  await assert.rejects(
    anchor.answer({ callId: callId(), fromTag: 'x', toTag: 'y', sdp: sdp('answer-outside-srtp.sdp'), from: 'outside', to: 'inside', toMedia: 'rtp' }),
    (e) => e instanceof MediaError && e.code === 'SIPS_ERR_MEDIA_REFUSED' && /unknown call/i.test(e.message),
  );
  await anchor.delete('never-seen@pbx.example'); // never rejects
});

test('the daemon log at the helper\'s level carries no key rtpengine generated; only its protocol-error dumps repeat our own input', () => {
  assert.ok(generatedKeys.length >= 3, 'keys were generated');
  const log = rtp.log();
  for (const k of generatedKeys) assert.ok(!log.includes(k), 'a generated SDES key is in the rtpengine log');
  // rtpengine 10.5 logs a refused ng packet whole (WARNING "Protocol error in packet ... [<bencode>]"),
  // the SDP of the command included, over several lines (its CRLFs are printed): docs/media.md says
  // so. Every key that does appear must be one of the fixtures' own, which the test sent itself.
  const ours = new Set(readdirSync(join(FIXTURES, 'media')).flatMap((f) => [...sdp(f).matchAll(/inline:([A-Za-z0-9+/=]+)/g)].map((m) => m[1]!)));
  for (const m of log.matchAll(/inline:([A-Za-z0-9+/=]+)/g)) assert.ok(ours.has(m[1]!), 'a key the test did not send is in the rtpengine log');
});
