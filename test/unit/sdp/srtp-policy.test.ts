import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/errors.js';
import { extractSdp, judgeBody } from '../../../src/sdp/extract-sdp.js';
import {
  checkAnswer,
  checkOffer,
  checkSrtpPolicyOptions,
  createSrtpPolicy,
  describeSdp,
  type SrtpPolicy,
} from '../../../src/sdp/srtp-policy.js';
import { SDP_REASON_CODES, SDP_REASONS, sdpFailureToError, type SdpReason, type SdpVerdict } from '../../../src/sdp/verdict.js';
import { AUDIO, crypto, fixture, fixtureBytes, inlineKeys, key, sdp, VIDEO } from './fixtures.js';

const DTLS = createSrtpPolicy({ allowDtlsSrtp: true });
const FAX = createSrtpPolicy({ udptl: 'allow' });
const STRICT_MEDIA = createSrtpPolicy({ otherMedia: 'refuse' });
const WITH_192 = createSrtpPolicy({ allowedSuites: ['AES_192_CM_HMAC_SHA1_80'] });
const FP256 = 'sha-256 ' + Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':');

/** Reasons seen by any case in this file; the last test checks every reason was hit. */
const seen = new Set<SdpReason>();

interface Case {
  readonly name: string;
  readonly offer: string;
  readonly answer?: string;
  readonly policy?: SrtpPolicy;
  /** 'ok', or the reason expected */
  readonly expect: 'ok' | SdpReason;
  readonly mediaIndex?: number | null;
  /** a fragment the message must contain */
  readonly says?: string;
}

function assertVerdict(c: Case, verdict: SdpVerdict, input: string): void {
  if (c.expect === 'ok') {
    assert.equal(verdict.ok, true, verdict.ok ? '' : `${verdict.reason}: ${verdict.message}`);
    return;
  }
  assert.equal(verdict.ok, false, 'expected a refusal');
  if (verdict.ok) return;
  seen.add(verdict.reason);
  assert.equal(verdict.reason, c.expect, verdict.message);
  assert.equal(verdict.code, SDP_REASON_CODES[c.expect]);
  if (c.mediaIndex !== undefined) assert.equal(verdict.mediaIndex, c.mediaIndex);
  if (c.says !== undefined) assert.ok(verdict.message.includes(c.says), `message "${verdict.message}" lacks "${c.says}"`);
  if (verdict.mediaIndex !== null) assert.match(verdict.message, /m=\S+ #\d+ \(port \d+\)|m= line #\d+/);
  for (const k of inlineKeys(input)) assert.ok(!verdict.message.includes(k), `message leaks a key: ${verdict.message}`);
}

// --- fixtures ------------------------------------------------------------------------------------

const fixtureOffers: Case[] = [
  { name: 'vendor offer with AES_CM_128_HMAC_SHA1_80 and _32', offer: fixture('offer-vendor-aes80-aes32.sdp'), expect: 'ok' },
  { name: 'Asterisk audio+video, two crypto lines each', offer: fixture('offer-asterisk-audio-video.sdp'), expect: 'ok' },
  { name: 'FreeSWITCH offer: non-standard suite names skipped, AES_256 and AES_128 used', offer: fixture('offer-freeswitch.sdp'), expect: 'ok' },
  { name: 'baresip offer with lifetime and MKI, AEAD suites', offer: fixture('offer-baresip.sdp'), expect: 'ok' },
  { name: 'baresip optional SRTP (RTP/AVP + a=crypto)', offer: fixture('offer-baresip-srtp-optional.sdp'), expect: 'not-savp', mediaIndex: 0 },
  { name: 'Asterisk plain RTP', offer: fixture('offer-plain-rtp.sdp'), expect: 'not-savp', says: 'm=audio #0 (port 12070)' },
  { name: 'DTLS-SRTP offer, default policy', offer: fixture('offer-dtls-srtp.sdp'), expect: 'dtls-srtp-not-allowed' },
  { name: 'DTLS-SRTP offer, allowDtlsSrtp', offer: fixture('offer-dtls-srtp.sdp'), policy: DTLS, expect: 'ok' },
  { name: 'T.38 re-INVITE, default policy', offer: fixture('offer-t38-reinvite.sdp'), expect: 'udptl-not-allowed' },
  { name: 'T.38 re-INVITE, udptl: allow', offer: fixture('offer-t38-reinvite.sdp'), policy: FAX, expect: 'ok' },
];

describe('checkOffer: fixtures', () => {
  for (const c of fixtureOffers) {
    it(c.name, () => assertVerdict(c, checkOffer(c.offer, c.policy), c.offer));
  }
  it('accepts a Buffer and counts media', () => {
    const v = checkOffer(fixtureBytes('offer-asterisk-audio-video.sdp'));
    assert.deepEqual(v, { ok: true, media: 2, active: 2 });
  });
  it('checks the SDP part of a SIP-I multipart body', () => {
    const body = extractSdp(fixtureBytes('multipart-sip-i.body'), 'multipart/mixed;boundary=unique-boundary-1');
    assert.equal(typeof body, 'string');
    assert.equal(checkOffer(body as string).ok, true);
  });
});

// --- one case per rule -----------------------------------------------------------------------

const offerRules: Case[] = [
  // passes
  { name: 'one AES_CM_128_HMAC_SHA1_80 line', offer: sdp(AUDIO, crypto(1)), expect: 'ok' },
  { name: 'RTP/SAVPF', offer: sdp('m=audio 49170 RTP/SAVPF 0', crypto(1)), expect: 'ok' },
  { name: 'AES_256_CM_HMAC_SHA1_32 with a 46-byte key, unpadded', offer: sdp(AUDIO, crypto(1, 'AES_256_CM_HMAC_SHA1_32', `inline:${key(46).replace(/=+$/, '')}`)), expect: 'ok' },
  { name: 'AEAD_AES_128_GCM (28 bytes) and AEAD_AES_256_GCM (44 bytes)', offer: sdp(AUDIO, crypto(1, 'AEAD_AES_128_GCM', `inline:${key(28)}`), crypto(2, 'AEAD_AES_256_GCM', `inline:${key(44, 2)}`)), expect: 'ok' },
  { name: 'lifetime 2^31 and MKI 1:4', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|2^31|1:4`)), expect: 'ok' },
  { name: 'decimal lifetime', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|1048576`)), expect: 'ok' },
  { name: 'MKI without lifetime', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|7:1`)), expect: 'ok' },
  { name: 'two keys with MKIs of one length', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|2^20|1:4;inline:${key(30, 2)}|2^20|2:4`)), expect: 'ok' },
  { name: 'KDR, WSH, FEC_ORDER, FEC_KEY and an optional -param', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)} KDR=23 WSH=128 FEC_ORDER=FEC_SRTP FEC_KEY=inline:${key(30, 3)} -X_VENDOR=1`)), expect: 'ok' },
  { name: 'tabs and several blanks between fields', offer: sdp(AUDIO, `a=crypto:1\t AES_CM_128_HMAC_SHA1_80  \tinline:${key(30)}`), expect: 'ok' },
  { name: 'upper-case attribute name and key method', offer: sdp(AUDIO, `a=CRYPTO:1 AES_CM_128_HMAC_SHA1_80 INLINE:${key(30)}`), expect: 'ok' },
  { name: 'unknown suite beside an allowed one is skipped', offer: sdp(AUDIO, crypto(1, 'AES_CM_128_NULL_AUTH', 'whatever:x'), crypto(2)), expect: 'ok' },
  { name: 'AES_192 (known, not allowed) beside an allowed one', offer: sdp(AUDIO, crypto(1, 'AES_192_CM_HMAC_SHA1_80', `inline:${key(38)}`), crypto(2)), expect: 'ok' },
  { name: 'AES_192 when the policy allows it', offer: sdp(AUDIO, crypto(1, 'AES_192_CM_HMAC_SHA1_80', `inline:${key(38)}`)), policy: WITH_192, expect: 'ok' },
  { name: 'a disabled plain RTP line (port 0) is exempt', offer: sdp(AUDIO, crypto(1), 'm=video 0 RTP/AVP 99'), expect: 'ok' },
  { name: 'm=text RTP/SAVP (T.140) with a=crypto', offer: sdp('m=text 11000 RTP/SAVP 98', crypto(1)), expect: 'ok' },
  { name: 'TCP/TLS/BFCP passes the default allow-tls', offer: sdp(AUDIO, crypto(1), 'm=application 50000 TCP/TLS/BFCP *'), expect: 'ok' },
  { name: 'LF-only line ends', offer: sdp(AUDIO, crypto(1)).replaceAll('\r\n', '\n'), expect: 'ok' },
  { name: 'no media lines at all', offer: sdp(), expect: 'ok' },
  { name: 'DTLS with a session-level fingerprint', offer: sdp(`a=fingerprint:${FP256}`, 'm=audio 9 UDP/TLS/RTP/SAVPF 111'), policy: DTLS, expect: 'ok' },
  { name: 'port with a count', offer: sdp('m=audio 49170/2 RTP/SAVP 0', crypto(1)), expect: 'ok' },

  // refusals
  { name: 'empty body', offer: '', expect: 'no-sdp', mediaIndex: null },
  { name: 'blank body', offer: '\r\n \r\n', expect: 'no-sdp' },
  { name: 'not SDP at all', offer: 'hello world\r\n', expect: 'malformed-sdp', mediaIndex: null },
  { name: 'first line is not v=0', offer: 'o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\n', expect: 'malformed-sdp' },
  { name: 'm= line without a numeric port', offer: sdp(AUDIO, crypto(1), 'm=video x RTP/SAVP 99'), expect: 'malformed-sdp', mediaIndex: 1 },
  { name: 'm= line without formats', offer: sdp('m=audio 49170 RTP/SAVP'), expect: 'malformed-sdp', mediaIndex: 0 },
  { name: 'port above 65535', offer: sdp('m=audio 70000 RTP/SAVP 0', crypto(1)), expect: 'malformed-sdp' },
  { name: 'RTP/AVP', offer: sdp('m=audio 49170 RTP/AVP 0'), expect: 'not-savp', says: 'RTP/AVP' },
  { name: 'RTP/AVPF video after a good audio line', offer: sdp(AUDIO, crypto(1), 'm=video 51372 RTP/AVPF 99'), expect: 'not-savp', mediaIndex: 1 },
  { name: 'm=text RTP/AVP (T.140 in clear)', offer: sdp('m=text 11000 RTP/AVP 98'), expect: 'not-savp' },
  { name: 'RTP/SAVP without a=crypto', offer: sdp(AUDIO), expect: 'no-crypto', says: 'm=audio #0 (port 49170)' },
  { name: 'RTP/SAVP with a=fingerprint only', offer: sdp(AUDIO, `a=fingerprint:${FP256}`), expect: 'no-crypto', says: 'DTLS-SRTP uses UDP/TLS' },
  { name: 'a=crypto at session level only', offer: sdp(crypto(1), AUDIO), expect: 'no-crypto', says: 'above the first m= line' },
  { name: 'crypto line without key params', offer: sdp(AUDIO, 'a=crypto:1 AES_CM_128_HMAC_SHA1_80'), expect: 'malformed-crypto' },
  { name: 'empty crypto line', offer: sdp(AUDIO, 'a=crypto:'), expect: 'malformed-crypto' },
  { name: 'key method other than inline', offer: sdp(AUDIO, crypto(1, undefined, `uri:${key(30)}`)), expect: 'malformed-crypto' },
  { name: 'four |-fields', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|2^20|1:4|x`)), expect: 'malformed-crypto' },
  { name: 'tag of ten digits', offer: sdp(AUDIO, crypto('1234567890')), expect: 'bad-tag' },
  { name: 'non-numeric tag', offer: sdp(AUDIO, crypto('a1')), expect: 'bad-tag' },
  { name: 'fields shifted: the key where the tag belongs is not echoed', offer: sdp(AUDIO, `a=crypto:inline:${key(30, 9)} AES_CM_128_HMAC_SHA1_80`), expect: 'bad-tag' },
  { name: 'duplicate tag', offer: sdp(AUDIO, crypto(1), crypto(1, 'AES_CM_128_HMAC_SHA1_32', `inline:${key(30, 2)}`)), expect: 'duplicate-tag', says: 'crypto tag 1' },
  { name: 'duplicate tag written 1 and 01', offer: sdp(AUDIO, crypto(1), crypto('01', 'AES_CM_128_HMAC_SHA1_32', `inline:${key(30, 2)}`)), expect: 'duplicate-tag' },
  { name: 'only AES_192 (not allowed by default)', offer: sdp(AUDIO, crypto(1, 'AES_192_CM_HMAC_SHA1_80', `inline:${key(38)}`)), expect: 'suite-not-allowed', says: 'AES_192_CM_HMAC_SHA1_80' },
  { name: 'only an unknown suite', offer: sdp(AUDIO, crypto(1, 'NULL_HMAC_SHA1_80', `inline:${key(30)}`)), expect: 'suite-not-allowed' },
  { name: 'key with a non-base64 character', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30).slice(0, 39)}!`)), expect: 'bad-key' },
  { name: 'key with padding in the wrong place', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}==`)), expect: 'bad-key' },
  { name: '20-byte key for AES_CM_128_HMAC_SHA1_80', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(20)}`)), expect: 'bad-key-length', says: 'm=audio #0 (port 49170): crypto tag 1 key is 20 bytes, AES_CM_128_HMAC_SHA1_80 needs 30' },
  { name: '30-byte key for AES_256_CM_HMAC_SHA1_80', offer: sdp(AUDIO, crypto(1, 'AES_256_CM_HMAC_SHA1_80')), expect: 'bad-key-length', says: 'needs 46' },
  { name: 'empty key', offer: sdp(AUDIO, crypto(1, undefined, 'inline:|2^20')), expect: 'bad-key-length' },
  { name: 'a bad line beside a good one still fails', offer: sdp(AUDIO, crypto(1), crypto(2, 'AES_CM_128_HMAC_SHA1_32', `inline:${key(29)}`)), expect: 'bad-key-length' },
  { name: 'second key of two too short', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|1:1;inline:${key(16)}|2:1`)), expect: 'bad-key-length', says: 'key 2' },
  { name: 'lifetime 2^49', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|2^49`)), expect: 'bad-lifetime' },
  { name: 'lifetime 2^ without exponent', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|2^`)), expect: 'bad-lifetime' },
  { name: 'lifetime 0', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|0`)), expect: 'bad-lifetime' },
  { name: 'lifetime not a number', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|forever`)), expect: 'bad-lifetime' },
  { name: 'MKI length 0', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|2^20|1:0`)), expect: 'bad-mki' },
  { name: 'MKI length 129', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|2^20|1:129`)), expect: 'bad-mki' },
  { name: 'MKI value 256 in one byte', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|256:1`)), expect: 'bad-mki' },
  { name: 'MKI without length', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|2^20|1:`)), expect: 'bad-mki' },
  { name: 'two keys without MKI', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)};inline:${key(30, 2)}`)), expect: 'bad-mki' },
  { name: 'two keys with different MKI lengths', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|1:4;inline:${key(30, 2)}|2:2`)), expect: 'bad-mki' },
  { name: 'two keys with one MKI value', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)}|1:4;inline:${key(30, 2)}|1:4`)), expect: 'bad-mki' },
  { name: 'KDR=25', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)} KDR=25`)), expect: 'bad-session-param' },
  { name: 'WSH=32', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)} WSH=32`)), expect: 'bad-session-param' },
  { name: 'FEC_ORDER=BOTH', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)} FEC_ORDER=BOTH`)), expect: 'bad-session-param' },
  { name: 'unknown mandatory session parameter', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)} SRTP_MAGIC`)), expect: 'bad-session-param', says: 'SRTP_MAGIC' },
  { name: 'FEC_KEY with a short key', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)} FEC_KEY=inline:${key(10)}`)), expect: 'bad-key-length', says: 'FEC_KEY' },
  { name: 'UNENCRYPTED_SRTP', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)} UNENCRYPTED_SRTP`)), expect: 'unencrypted-session-param', says: 'UNENCRYPTED_SRTP' },
  { name: 'UNENCRYPTED_SRTCP', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)} UNENCRYPTED_SRTCP`)), expect: 'unencrypted-session-param' },
  { name: 'unauthenticated_srtp in lower case', offer: sdp(AUDIO, crypto(1, undefined, `inline:${key(30)} unauthenticated_srtp`)), expect: 'unencrypted-session-param' },
  { name: 'UDP/TLS/RTP/SAVPF by default', offer: sdp('m=audio 9 UDP/TLS/RTP/SAVPF 111', `a=fingerprint:${FP256}`), expect: 'dtls-srtp-not-allowed', says: 'UDP/TLS/RTP/SAVPF' },
  { name: 'DTLS allowed but no fingerprint', offer: sdp('m=audio 9 UDP/TLS/RTP/SAVPF 111'), policy: DTLS, expect: 'no-fingerprint' },
  { name: 'DTLS with an MD5 fingerprint', offer: sdp('m=audio 9 UDP/TLS/RTP/SAVP 0', 'a=fingerprint:md5 ' + Array(16).fill('AB').join(':')), policy: DTLS, expect: 'bad-fingerprint' },
  { name: 'DTLS with a short sha-256 fingerprint', offer: sdp('m=audio 9 UDP/TLS/RTP/SAVP 0', 'a=fingerprint:sha-256 AB:CD'), policy: DTLS, expect: 'bad-fingerprint' },
  { name: 'T.38 over udptl beside audio', offer: sdp(AUDIO, crypto(1), 'm=image 16394 udptl t38'), expect: 'udptl-not-allowed', mediaIndex: 1 },
  { name: 'BFCP over plain TCP', offer: sdp(AUDIO, crypto(1), 'm=application 50000 TCP/BFCP *'), expect: 'media-not-allowed', mediaIndex: 1 },
  { name: 'TCP/TLS/BFCP when other media is refused', offer: sdp(AUDIO, crypto(1), 'm=application 50000 TCP/TLS/BFCP *'), policy: STRICT_MEDIA, expect: 'media-not-allowed' },
  { name: 'the failing line is named by index: video #1', offer: sdp(AUDIO, crypto(1), VIDEO), expect: 'no-crypto', mediaIndex: 1, says: 'm=video #1 (port 51372)' },
];

describe('checkOffer: one case per rule', () => {
  for (const c of offerRules) {
    it(`${c.expect === 'ok' ? 'passes' : c.expect}: ${c.name}`, () => assertVerdict(c, checkOffer(c.offer, c.policy), c.offer));
  }
});

// --- answers -----------------------------------------------------------------------------------

const OFFER_2x2 = sdp(AUDIO, crypto(1), crypto(2, 'AES_CM_128_HMAC_SHA1_32', `inline:${key(30, 2)}`), VIDEO, crypto(1, undefined, `inline:${key(30, 3)}`), crypto(2, 'AES_CM_128_HMAC_SHA1_32', `inline:${key(30, 4)}`));
const ANSWER_AUDIO = 'm=audio 6000 RTP/SAVP 0';
const ANSWER_VIDEO = 'm=video 6002 RTP/SAVP 99';
const OFFER_192 = sdp(AUDIO, crypto(1, 'AES_192_CM_HMAC_SHA1_80', `inline:${key(38)}`), crypto(2));

const answerRules: Case[] = [
  { name: 'fixture: vendor offer, answer picks tag 1', offer: fixture('offer-vendor-aes80-aes32.sdp'), answer: fixture('answer-one-crypto.sdp'), expect: 'ok' },
  { name: 'fixture: audio+video offer, answer takes audio tag 2 and rejects video', offer: fixture('offer-asterisk-audio-video.sdp'), answer: fixture('answer-asterisk-audio-video.sdp'), expect: 'ok' },
  { name: 'both lines accepted', offer: OFFER_2x2, answer: sdp(ANSWER_AUDIO, crypto(2, 'AES_CM_128_HMAC_SHA1_32', `inline:${key(30, 5)}`), ANSWER_VIDEO, crypto(1, undefined, `inline:${key(30, 6)}`)), expect: 'ok' },
  { name: 'every line rejected (port 0)', offer: OFFER_2x2, answer: sdp('m=audio 0 RTP/SAVP 0', 'm=video 0 RTP/SAVP 99'), expect: 'ok' },
  { name: 'DTLS answer to a DTLS offer', offer: fixture('offer-dtls-srtp.sdp'), answer: sdp('m=audio 40000 UDP/TLS/RTP/SAVPF 111', `a=fingerprint:${FP256}`, 'a=setup:active'), policy: DTLS, expect: 'ok' },
  { name: 'answer has fewer m= lines', offer: OFFER_2x2, answer: sdp(ANSWER_AUDIO, crypto(1)), expect: 'media-count-mismatch', mediaIndex: null },
  { name: 'answer swaps the media type', offer: OFFER_2x2, answer: sdp(ANSWER_VIDEO, crypto(1), ANSWER_AUDIO, crypto(1)), expect: 'answer-media-mismatch', mediaIndex: 0 },
  { name: 'answer changes RTP/SAVP to RTP/SAVPF', offer: OFFER_2x2, answer: sdp('m=audio 6000 RTP/SAVPF 0', crypto(1), 'm=video 0 RTP/SAVP 99'), expect: 'answer-media-mismatch' },
  { name: 'answer re-opens a line the offer disabled', offer: sdp(AUDIO, crypto(1), 'm=video 0 RTP/SAVP 99'), answer: sdp(ANSWER_AUDIO, crypto(1), ANSWER_VIDEO, crypto(1)), expect: 'answer-media-mismatch', mediaIndex: 1 },
  { name: 'answer downgrades to RTP/AVP', offer: OFFER_2x2, answer: sdp('m=audio 6000 RTP/AVP 0', 'm=video 0 RTP/SAVP 99'), expect: 'not-savp', says: 'answer m=audio #0 (port 6000)' },
  { name: 'answer without a=crypto', offer: OFFER_2x2, answer: sdp(ANSWER_AUDIO, 'm=video 0 RTP/SAVP 99'), expect: 'answer-crypto-count' },
  { name: 'answer with two a=crypto', offer: OFFER_2x2, answer: sdp(ANSWER_AUDIO, crypto(1), crypto(2, 'AES_CM_128_HMAC_SHA1_32'), 'm=video 0 RTP/SAVP 99'), expect: 'answer-crypto-count' },
  { name: 'answer picks a tag that was not offered', offer: OFFER_2x2, answer: sdp(ANSWER_AUDIO, crypto(3), 'm=video 0 RTP/SAVP 99'), expect: 'answer-crypto-mismatch', says: 'offered: 1 AES_CM_128_HMAC_SHA1_80, 2 AES_CM_128_HMAC_SHA1_32' },
  { name: 'answer pairs tag 1 with the suite offered as tag 2', offer: OFFER_2x2, answer: sdp(ANSWER_AUDIO, crypto(1, 'AES_CM_128_HMAC_SHA1_32'), 'm=video 0 RTP/SAVP 99'), expect: 'answer-crypto-mismatch' },
  { name: 'answer uses the video line tags on audio (per-line match)', offer: sdp(AUDIO, crypto(1), VIDEO, crypto(7)), answer: sdp(ANSWER_AUDIO, crypto(7), ANSWER_VIDEO, crypto(7)), expect: 'answer-crypto-mismatch', mediaIndex: 0 },
  { name: 'answer picks the offered but disallowed AES_192', offer: OFFER_192, answer: sdp(ANSWER_AUDIO, crypto(1, 'AES_192_CM_HMAC_SHA1_80', `inline:${key(38, 2)}`)), expect: 'suite-not-allowed' },
  { name: 'answer key of the wrong length', offer: OFFER_2x2, answer: sdp(ANSWER_AUDIO, crypto(1, undefined, `inline:${key(16)}`), 'm=video 0 RTP/SAVP 99'), expect: 'bad-key-length', says: 'answer m=audio #0' },
  { name: 'answer switches encryption off', offer: OFFER_2x2, answer: sdp(ANSWER_AUDIO, crypto(1, undefined, `inline:${key(30)} UNENCRYPTED_SRTP`), 'm=video 0 RTP/SAVP 99'), expect: 'unencrypted-session-param' },
  { name: 'DTLS answer without fingerprint', offer: fixture('offer-dtls-srtp.sdp'), answer: sdp('m=audio 40000 UDP/TLS/RTP/SAVPF 111'), policy: DTLS, expect: 'no-fingerprint' },
  { name: 'empty answer', offer: OFFER_2x2, answer: '', expect: 'no-sdp' },
  { name: 'answer is not SDP', offer: OFFER_2x2, answer: 'SIP/2.0 200 OK\r\n', expect: 'malformed-sdp', says: 'answer' },
  { name: 'offer is not SDP', offer: 'x', answer: sdp(ANSWER_AUDIO, crypto(1)), expect: 'malformed-sdp', says: 'offer' },
];

describe('checkAnswer', () => {
  for (const c of answerRules) {
    it(`${c.expect === 'ok' ? 'passes' : c.expect}: ${c.name}`, () => {
      const answer = c.answer ?? '';
      assertVerdict(c, checkAnswer(c.offer, answer, c.policy), c.offer + answer);
    });
  }
});

// --- policy, diagnostics -----------------------------------------------------------------------

describe('policy and diagnostics', () => {
  it('rejects unknown suites and bad enums in config, all at once', () => {
    const problems = checkSrtpPolicyOptions(
      { allowedSuites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_81'], udptl: 'maybe' as 'allow', otherMedia: 'x' as 'allow' },
      'trunks.acme.srtp',
    );
    assert.equal(problems.length, 3);
    assert.ok(problems.every((p) => p instanceof ConfigError));
    assert.equal(problems[0]?.path, 'trunks.acme.srtp.allowedSuites');
    assert.throws(() => createSrtpPolicy({ allowedSuites: [] }), ConfigError);
  });

  it('turns a failure into a SipsError with the same code and message', () => {
    const v = checkOffer(sdp('m=audio 49170 RTP/AVP 0'));
    assert.equal(v.ok, false);
    if (v.ok) return;
    const err = sdpFailureToError(v);
    assert.equal(err.code, 'SIPS_ERR_SDP_NOT_SAVP');
    assert.equal(err.message, v.message);
  });

  it('describeSdp reports key lengths, never keys', () => {
    const text = fixture('offer-freeswitch.sdp');
    const d = describeSdp(text);
    assert.equal(d.ok, true);
    if (!d.ok) return;
    const audio = d.media[0];
    assert.equal(audio?.protocol, 'RTP/SAVP');
    assert.equal(audio?.crypto.length, 9);
    assert.deepEqual(audio?.crypto.map((c) => c.keyBytes), [44, 28, 46, 38, 30, 46, 38, 30, 30]);
    const json = JSON.stringify(d);
    for (const k of inlineKeys(text)) assert.ok(!json.includes(k));
  });

  it('describeSdp redacts keys inside session params (FEC_KEY)', () => {
    const text = sdp(AUDIO, crypto(1, undefined, `inline:${key(30)} FEC_KEY=inline:${key(30, 3)}`));
    const d = describeSdp(text);
    assert.equal(d.ok, true);
    assert.ok(!JSON.stringify(d).includes(key(30, 3)));
  });

  it('describeSdp refuses what the scan refuses', () => {
    assert.equal(describeSdp('').ok, false);
    assert.equal(describeSdp('nope').ok, false);
  });
});

// --- coverage of the reason table --------------------------------------------------------------

describe('reason table', () => {
  it('codes are SIPS_ERR_SDP_ + the reason in upper snake case', () => {
    for (const reason of SDP_REASONS) {
      assert.equal(SDP_REASON_CODES[reason], `SIPS_ERR_SDP_${reason.toUpperCase().replaceAll('-', '_')}`);
    }
  });

  it('every reason is hit by at least one case above (bad-multipart via extractSdp)', () => {
    const broken = extractSdp(Buffer.from('--b\r\n'), 'multipart/mixed');
    if (broken !== null && typeof broken === 'object') seen.add(broken.error.reason);
    // encoded-body / unknown-body: judgeBody (test/unit/sdp/judge-body.test.ts covers them in detail)
    for (const r of [judgeBody('x', { contentType: 'application/sdp', contentEncoding: 'gzip' }), judgeBody('x', { contentType: 'application/x-unknown' })]) {
      if (r !== null && typeof r === 'object') seen.add(r.error.reason);
    }
    const missing = SDP_REASONS.filter((r) => !seen.has(r));
    assert.deepEqual(missing, []);
  });
});
