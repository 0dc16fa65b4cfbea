import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactSdpKeys } from '../../../src/sdp/redact-sdp-keys.js';
import { fixture, inlineKeys, key } from './fixtures.js';

const K = key(30, 0x5a);

describe('redactSdpKeys', () => {
  const cases: [string, string, string][] = [
    ['plain', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${K}`, 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[redacted]'],
    ['with lifetime and MKI', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${K}|2^20|1:4`, 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[redacted]'],
    ['upper case', `a=crypto:1 X INLINE:${K}`, 'a=crypto:1 X inline:[redacted]'],
    ['mixed case and blanks around the colon', `a=crypto:1 X InLiNe \t: \t${K} KDR=1`, 'a=crypto:1 X inline:[redacted] KDR=1'],
    ['several keys', `inline:${K}|1:1;inline:${key(30, 1)}|2:1`, 'inline:[redacted];inline:[redacted]'],
    ['FEC_KEY', `inline:${K} FEC_KEY=inline:${key(30, 2)}`, 'inline:[redacted] FEC_KEY=inline:[redacted]'],
    ['k= line', `v=0\r\nk=base64:${K}\r\nm=audio 1 RTP/AVP 0`, 'v=0\r\nk=[redacted]\r\nm=audio 1 RTP/AVP 0'],
    ['k= line first', `k=clear:${K}\r\n`, 'k=[redacted]\r\n'],
    ['a=key-mgmt (MIKEY)', `m=audio 1 RTP/SAVP 0\r\na=key-mgmt:mikey ${K}\r\n`, 'm=audio 1 RTP/SAVP 0\r\na=key-mgmt:[redacted]\r\n'],
  ];
  for (const [name, input, output] of cases) it(name, () => assert.equal(redactSdpKeys(input), output));

  it('leaves text without keys alone, including Content-Disposition: inline', () => {
    const text = 'INVITE sip:a@b SIP/2.0\r\nContent-Disposition: inline\r\nk: timer\r\n\r\n';
    assert.equal(redactSdpKeys(text), text);
  });

  it('redacts a whole SIP message with SDP, keeping everything else byte-exact', () => {
    const body = fixture('offer-baresip.sdp');
    const message = `INVITE sip:+13175550100@lb01.voice.use1.pure.cloud SIP/2.0\r\nContent-Type: application/sdp\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const out = redactSdpKeys(message);
    for (const k of inlineKeys(message)) assert.ok(!out.includes(k));
    assert.equal(out.split('\r\n').length, message.split('\r\n').length);
    assert.equal(out.replace(/inline:\[redacted\]/g, ''), message.replace(/inline:[^\s;]*/g, ''));
  });
});
