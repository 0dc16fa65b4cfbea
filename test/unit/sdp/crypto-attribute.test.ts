import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  base64DecodedLength,
  checkCryptoAttribute,
  CRYPTO_SUITES,
  DEFAULT_ALLOWED_SUITES,
  describeSuite,
  readTagAndSuite,
} from '../../../src/sdp/crypto-attribute.js';
import { key } from './fixtures.js';

describe('base64DecodedLength', () => {
  it('matches Buffer for every length 0..80, padded and unpadded', () => {
    for (let n = 0; n <= 80; n++) {
      const b64 = Buffer.alloc(n, n).toString('base64');
      assert.equal(base64DecodedLength(b64), n, b64);
      assert.equal(base64DecodedLength(b64.replace(/=+$/, '')), n, `unpadded ${b64}`);
    }
  });

  const invalid: [string, string][] = [
    ['A', 'one char left over'],
    ['AAAAA', 'one char left over after a quantum'],
    ['AAAA=', 'padding after a full quantum'],
    ['AA=A', 'padding in the middle'],
    ['AAA==', 'two pads where one belongs'],
    ['AA===', 'three pads'],
    ['AA-_', 'base64url alphabet'],
    ['AAA\u00e9', 'non-ASCII'],
    ['AA A', 'a space'],
  ];
  for (const [text, why] of invalid) it(`rejects ${why}`, () => assert.equal(base64DecodedLength(text), -1));

  it('reads a slice without copying it', () => {
    const s = `inline:${key(30)}|2^20`;
    assert.equal(base64DecodedLength(s, 7, s.indexOf('|')), 30);
  });
});

describe('crypto suites', () => {
  const lengths: [string, number][] = [
    ['AES_CM_128_HMAC_SHA1_80', 30],
    ['AES_CM_128_HMAC_SHA1_32', 30],
    ['AES_192_CM_HMAC_SHA1_80', 38],
    ['AES_192_CM_HMAC_SHA1_32', 38],
    ['AES_256_CM_HMAC_SHA1_80', 46],
    ['AES_256_CM_HMAC_SHA1_32', 46],
    ['AEAD_AES_128_GCM', 28],
    ['AEAD_AES_256_GCM', 44],
  ];
  for (const [suite, bytes] of lengths) {
    it(`${suite} needs ${bytes} bytes of key and salt`, () => {
      assert.equal(CRYPTO_SUITES[suite as keyof typeof CRYPTO_SUITES], bytes);
      const ok = checkCryptoAttribute(`1 ${suite} inline:${key(bytes)}`, 0);
      assert.deepEqual(ok, { ok: true, tag: '1', suite, known: true });
      const short = checkCryptoAttribute(`1 ${suite} inline:${key(bytes - 1)}`, 0);
      assert.equal(short.ok ? 'ok' : short.reason, 'bad-key-length');
    });
  }

  it('allows the six default suites and not AES_192', () => {
    assert.deepEqual([...DEFAULT_ALLOWED_SUITES].sort(), [
      'AEAD_AES_128_GCM',
      'AEAD_AES_256_GCM',
      'AES_256_CM_HMAC_SHA1_32',
      'AES_256_CM_HMAC_SHA1_80',
      'AES_CM_128_HMAC_SHA1_32',
      'AES_CM_128_HMAC_SHA1_80',
    ]);
  });

  it('names a suite only when it cannot be a key', () => {
    assert.equal(describeSuite('AES_CM_128_HMAC_SHA1_80'), 'AES_CM_128_HMAC_SHA1_80');
    assert.match(describeSuite(key(30)), /unrecognisable crypto-suite \(40 characters\)/);
    assert.match(describeSuite('inline:abc'), /unrecognisable/);
  });
});

describe('checkCryptoAttribute', () => {
  it('leaves unknown suites unchecked beyond the tag', () => {
    assert.deepEqual(checkCryptoAttribute('9 AEAD_AES_256_GCM_8 inline:short', 0), { ok: true, tag: '9', suite: 'AEAD_AES_256_GCM_8', known: false });
  });

  it('accepts the maximum tag and the RFC 4568 §3.1 example shape', () => {
    const r = checkCryptoAttribute(`999999999 AES_CM_128_HMAC_SHA1_80 inline:${key(30)}|2^20|1:32`, 0);
    assert.equal(r.ok, true);
  });

  it('accepts MKI values that need BigInt (length 8)', () => {
    assert.equal(checkCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${key(30)}|18446744073709551615:8`, 0).ok, true);
    const r = checkCryptoAttribute(`1 AES_CM_128_HMAC_SHA1_80 inline:${key(30)}|18446744073709551616:8`, 0);
    assert.equal(r.ok ? 'ok' : r.reason, 'bad-mki');
  });

  it('names the line by position when its tag is unusable', () => {
    const r = checkCryptoAttribute('x AES_CM_128_HMAC_SHA1_80 inline:AAAA', 3);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.detail, 'a=crypto #3: tag is not 1 to 9 digits (RFC 4568 §9.1)');
  });

  it('reads tag and suite for answer matching', () => {
    assert.deepEqual(readTagAndSuite(' 12  AES_CM_128_HMAC_SHA1_32 inline:x'), { tag: '12', suite: 'AES_CM_128_HMAC_SHA1_32' });
    assert.equal(readTagAndSuite('x AES'), null);
    assert.equal(readTagAndSuite('1'), null);
  });
});
