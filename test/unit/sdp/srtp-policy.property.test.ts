/**
 * Property tests (fast-check): generated well-formed a=crypto lines pass; the same lines with a key
 * that is 1..n bytes off fail with bad-key-length and never echo the key; redaction never lets a
 * generated key through; no input makes the checks throw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CRYPTO_SUITES, DEFAULT_ALLOWED_SUITES, type CryptoSuite } from '../../../src/sdp/crypto-attribute.js';
import { extractSdp } from '../../../src/sdp/extract-sdp.js';
import { redactSdpKeys } from '../../../src/sdp/redact-sdp-keys.js';
import { checkAnswer, checkOffer } from '../../../src/sdp/srtp-policy.js';
import { fixture, sdp } from './fixtures.js';

const RUNS = { numRuns: 300 };

const suite = fc.constantFrom(...DEFAULT_ALLOWED_SUITES);
const wsp = fc.stringMatching(/^[ \t]{1,3}$/);
const tag = fc.integer({ min: 0, max: 999_999_999 }).map(String);
const lifetime = fc.option(
  fc.oneof(fc.integer({ min: 0, max: 48 }).map((n) => `2^${n}`), fc.integer({ min: 1, max: 2 ** 48 }).map(String)),
  { nil: undefined },
);
const mki = fc.option(
  fc.integer({ min: 1, max: 128 }).chain((length) =>
    fc.integer({ min: 0, max: 2 ** Math.min(8 * length, 48) - 1 }).map((value) => `${value}:${length}`),
  ),
  { nil: undefined },
);

interface Line {
  readonly tag: string;
  readonly suite: CryptoSuite;
  readonly keyB64: string;
  readonly text: string;
}

function line(t: string, s: CryptoSuite, bytes: Uint8Array, gap1: string, gap2: string, life?: string, m?: string, pad = true): Line {
  let keyB64 = Buffer.from(bytes).toString('base64');
  if (!pad) keyB64 = keyB64.replace(/=+$/, '');
  const params = [`inline:${keyB64}`, life, m].filter((x) => x !== undefined).join('|');
  return { tag: t, suite: s, keyB64, text: `a=crypto:${t}${gap1}${s}${gap2}${params}` };
}

const wellFormed = fc
  .record({ t: tag, s: suite, gap1: wsp, gap2: wsp, life: lifetime, m: mki, pad: fc.boolean() })
  .chain((r) =>
    fc
      .uint8Array({ minLength: CRYPTO_SUITES[r.s], maxLength: CRYPTO_SUITES[r.s] })
      .map((bytes) => line(r.t, r.s, bytes, r.gap1, r.gap2, r.life, r.m, r.pad)),
  );

describe('properties', () => {
  it('any well-formed crypto line with an allowed suite passes', () => {
    fc.assert(
      fc.property(wellFormed, (l) => {
        const v = checkOffer(sdp('m=audio 49170 RTP/SAVP 0', l.text));
        assert.equal(v.ok, true, v.ok ? '' : `${v.reason}: ${v.message} <- ${l.text}`);
      }),
      RUNS,
    );
  });

  it('an answer echoing the generated tag and suite passes', () => {
    fc.assert(
      fc.property(
        wellFormed.chain((offered) =>
          fc.uint8Array({ minLength: CRYPTO_SUITES[offered.suite], maxLength: CRYPTO_SUITES[offered.suite] }).map((bytes) => ({ offered, bytes })),
        ),
        ({ offered, bytes }) => {
          const answerLine = `a=crypto:${offered.tag} ${offered.suite} inline:${Buffer.from(bytes).toString('base64')}`;
          const v = checkAnswer(sdp('m=audio 49170 RTP/SAVP 0', offered.text), sdp('m=audio 6000 RTP/SAVP 0', answerLine));
          assert.equal(v.ok, true, v.ok ? '' : `${v.reason}: ${v.message}`);
        },
      ),
      RUNS,
    );
  });

  it('a key 1..n bytes too short or too long fails with bad-key-length and is never echoed', () => {
    const mutated = fc
      .record({ t: tag, s: suite, gap: wsp, life: lifetime, m: mki, delta: fc.integer({ min: 1, max: 40 }), longer: fc.boolean() })
      .chain((r) => {
        const need = CRYPTO_SUITES[r.s];
        const length = r.longer ? need + r.delta : Math.max(0, need - r.delta);
        return fc.uint8Array({ minLength: length, maxLength: length }).map((bytes) => ({ need, l: line(r.t, r.s, bytes, r.gap, ' ', r.life, r.m) }));
      });
    fc.assert(
      fc.property(mutated, ({ need, l }) => {
        const v = checkOffer(sdp('m=audio 49170 RTP/SAVP 0', l.text));
        assert.equal(v.ok, false);
        if (v.ok) return;
        assert.equal(v.reason, 'bad-key-length', v.message);
        assert.match(v.message, new RegExp(`needs ${need}$`));
        if (l.keyB64.length >= 4) assert.ok(!v.message.includes(l.keyB64));
      }),
      RUNS,
    );
  });

  it('redactSdpKeys output never contains the generated key, whatever the case and spacing', () => {
    const spelled = fc.tuple(fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), fc.stringMatching(/^[ \t]{0,3}$/), fc.stringMatching(/^[ \t]{0,3}$/));
    fc.assert(
      fc.property(wellFormed, spelled, (l, [upper, before, after]) => {
        const word = [...'inline'].map((c, i) => (upper[i] === true ? c.toUpperCase() : c)).join('');
        const odd = l.text.replace('inline:', `${word}${before}:${after}`);
        const message = `INVITE sip:a@b SIP/2.0\r\nContent-Type: application/sdp\r\n\r\n${sdp('m=audio 49170 RTP/SAVP 0', odd)}`;
        const out = redactSdpKeys(message);
        assert.ok(!out.includes(l.keyB64), out);
        assert.ok(out.includes('inline:[redacted]'));
      }),
      RUNS,
    );
  });

  it('checkOffer, checkAnswer and extractSdp never throw (random text and mutated fixtures)', () => {
    const base = fixture('offer-asterisk-audio-video.sdp');
    const mutatedFixture = fc
      .tuple(fc.nat({ max: base.length }), fc.nat({ max: 40 }), fc.string({ unit: 'binary-ascii', maxLength: 40 }))
      .map(([at, cut, insert]) => base.slice(0, at) + insert + base.slice(Math.min(base.length, at + cut)));
    const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), mutatedFixture);
    fc.assert(
      fc.property(anyText, anyText, fc.string({ maxLength: 40 }), (a, b, contentType) => {
        const v1 = checkOffer(a);
        const v2 = checkAnswer(a, b);
        assert.equal(typeof v1.ok, 'boolean');
        assert.equal(typeof v2.ok, 'boolean');
        extractSdp(Buffer.from(a, 'latin1'), `multipart/mixed;boundary=${contentType}`);
        extractSdp(Buffer.from(b, 'latin1'), contentType);
        redactSdpKeys(a);
      }),
      { numRuns: 1000 },
    );
  });
});
