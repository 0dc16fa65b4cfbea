import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAnswer, checkOffer } from '../../../src/sdp/srtp-policy.js';
import { buildAnswer, buildOffer, keysFromAnswer, readAudio } from '../../../src/lab/media/sdp-media.js';
import { inlineKeyOf, parseCryptoKey } from '../../../src/lab/media/srtp.js';
import { fixture, inlineKeys } from '../sdp/fixtures.js';

const base = { user: 'lab', address: '127.0.0.1', port: 40000 };

describe('readAudio', () => {
  it('reads a carrier offer: session c=, port, RTP/AVP, payload types, direction', () => {
    const a = readAudio(fixture('offer-plain-rtp.sdp'));
    assert.ok(a);
    assert.equal(a.address, '198.51.100.20');
    assert.equal(a.port, 12070);
    assert.equal(a.proto, 'RTP/AVP');
    assert.equal(a.secure, false);
    assert.deepEqual(a.payloadTypes, [0, 8, 101]);
    assert.equal(a.rtpmap.get(101), 'telephone-event/8000');
    assert.deepEqual(a.crypto, []);
    assert.equal(a.rtcpMux, false);
    assert.equal(a.direction, 'sendrecv');
  });

  it('reads an SRTP offer: media-level c=, both a=crypto values in order', () => {
    const a = readAudio(fixture('offer-vendor-aes80-aes32.sdp'));
    assert.ok(a);
    assert.equal(a.secure, true);
    assert.equal(a.address, '203.0.113.10');
    assert.equal(a.crypto.length, 2);
    assert.match(a.crypto[0]!, /^1 AES_CM_128_HMAC_SHA1_80 inline:/);
  });

  it('takes only the first audio stream; video crypto lines are not mixed in', () => {
    const a = readAudio(fixture('offer-asterisk-audio-video.sdp'));
    assert.equal(a?.port, 17046);
    assert.equal(a?.crypto.length, 2);
    assert.deepEqual(a?.payloadTypes, [9, 0, 8, 101]);
  });

  it('media-level direction wins over session level; session level applies otherwise', () => {
    const s = (...l: string[]): string => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', ...l].join('\r\n') + '\r\n';
    assert.equal(readAudio(s('a=sendonly', 'm=audio 1000 RTP/AVP 0'))?.direction, 'sendonly');
    assert.equal(readAudio(s('a=sendonly', 'm=audio 1000 RTP/AVP 0', 'a=inactive'))?.direction, 'inactive');
    assert.equal(readAudio(s('m=audio 1000 RTP/AVP 0', 'c=IN IP4 127.0.0.9', 'a=rtcp-mux'))?.address, '127.0.0.9');
    assert.equal(readAudio(s('m=audio 1000 RTP/AVP 0', 'a=rtcp-mux'))?.rtcpMux, true);
    assert.equal(readAudio(s('m=video 1000 RTP/AVP 96')), null);
    assert.equal(readAudio(s('m=audio 99999 RTP/AVP 0')), null);
    assert.equal(readAudio(s('m=audio x RTP/AVP 0')), null);
    assert.equal(readAudio(''), null);
  });
});

describe('buildOffer / buildAnswer / keysFromAnswer', () => {
  it('an RTP offer: CRLF, RTP/AVP, PCMU + telephone-event 0-16, rtcp-mux, ptime 20, no crypto', () => {
    const o = buildOffer({ ...base, suites: [] });
    assert.ok(o.sdp.endsWith('\r\n'));
    assert.doesNotMatch(o.sdp.replace(/\r\n/g, ''), /\n/);
    for (const l of ['m=audio 40000 RTP/AVP 0 101', 'c=IN IP4 127.0.0.1', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=rtcp-mux', 'a=ptime:20', 'a=sendrecv']) {
      assert.ok(o.sdp.includes(`${l}\r\n`), l);
    }
    assert.equal(o.keys.size, 0);
    assert.doesNotMatch(o.sdp, /crypto/);
  });

  it('an SRTP offer passes the edge\'s own SRTP policy and carries one fresh key per suite', () => {
    const o = buildOffer({ ...base, suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] });
    assert.equal(checkOffer(o.sdp).ok, true);
    assert.equal(o.keys.size, 2);
    assert.deepEqual(inlineKeys(o.sdp), [inlineKeyOf(o.keys.get('1')!), inlineKeyOf(o.keys.get('2')!)]);
    const again = buildOffer({ ...base, suites: ['AES_CM_128_HMAC_SHA1_80'] });
    assert.notEqual(inlineKeys(again.sdp)[0], inlineKeys(o.sdp)[0], 'a fresh key per call');
  });

  it('answering an SRTP offer: accepted tag and suite, own fresh key, rx = the offered key (RFC 4568 §6.1)', () => {
    const offerText = fixture('offer-vendor-aes80-aes32.sdp');
    const offer = readAudio(offerText)!;
    const ans = buildAnswer(offer, base)!;
    assert.equal(checkAnswer(offerText, ans.sdp).ok, true);
    const own = parseCryptoKey(readAudio(ans.sdp)!.crypto[0]!)!;
    assert.equal(own.tag, '1');
    assert.equal(own.master.suite, 'AES_CM_128_HMAC_SHA1_80');
    assert.deepEqual(own.master.key, ans.txKey?.key);
    assert.deepEqual(ans.rxKey, parseCryptoKey(offer.crypto[0]!)!.master);
    assert.notDeepEqual(ans.txKey?.key, ans.rxKey?.key);
    assert.equal(readAudio(ans.sdp)!.crypto.length, 1);
  });

  it('skips suites this SRTP cannot do (MKI, AEAD) and picks the next usable one', () => {
    // baresip's offer: 1 and 2 carry an MKI, 3 and 4 are AEAD: nothing usable.
    assert.equal(buildAnswer(readAudio(fixture('offer-baresip.sdp'))!, base), null);
    const mixed = buildOffer({ ...base, suites: ['AES_CM_128_HMAC_SHA1_32'] }).sdp
      .replace('a=crypto:1', `a=crypto:9 AEAD_AES_256_GCM inline:${Buffer.alloc(44, 1).toString('base64')}\r\na=crypto:1`);
    const ans = buildAnswer(readAudio(mixed)!, base)!;
    assert.match(readAudio(ans.sdp)!.crypto[0]!, /^1 AES_CM_128_HMAC_SHA1_32 /);
  });

  it('answering mirrors direction, keeps the offer\'s telephone-event type, rtcp-mux only when offered', () => {
    const offer = readAudio(fixture('offer-plain-rtp.sdp').replace('a=sendrecv', 'a=sendonly').replace(/101/g, '96'))!;
    const ans = buildAnswer(offer, base)!;
    assert.ok(ans.sdp.includes('m=audio 40000 RTP/AVP 0 96\r\n'));
    assert.ok(ans.sdp.includes('a=recvonly\r\n'));
    assert.ok(!ans.sdp.includes('a=rtcp-mux'));
    assert.equal(ans.txKey, null);
    assert.equal(ans.rxKey, null);
    assert.equal(buildAnswer({ ...offer, payloadTypes: [8] }, base), null, 'no PCMU: nothing to answer');
  });

  it('the offerer sends with its accepted tag\'s key and decrypts with the answer\'s key', () => {
    const offer = buildOffer({ ...base, suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] });
    const offered = readAudio(offer.sdp)!;
    // An answerer that accepts tag 2.
    const ans = buildAnswer({ ...offered, crypto: [offered.crypto[1]!] }, { ...base, port: 40002 })!;
    const keys = keysFromAnswer(offer, readAudio(ans.sdp)!)!;
    assert.deepEqual(keys.txKey, offer.keys.get('2'));
    assert.deepEqual(keys.rxKey, ans.txKey);
    // An answer naming a tag that was never offered, or a different suite under an offered tag, is unusable.
    const forged = ans.sdp.replace('a=crypto:2 ', 'a=crypto:7 ');
    assert.equal(keysFromAnswer(offer, readAudio(forged)!), null);
    const swapped = ans.sdp.replace('a=crypto:2 AES_CM_128_HMAC_SHA1_32', 'a=crypto:2 AES_CM_128_HMAC_SHA1_80');
    assert.equal(keysFromAnswer(offer, readAudio(swapped)!), null);
  });
});
