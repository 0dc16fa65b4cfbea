/** Issue 11 items 12 and 13: bodies judged by content, unreadable bodies refused or redacted whole. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { judgeBody, looksLikeSdp } from '../../../src/sdp/extract-sdp.js';
import { redactSipMessage } from '../../../src/sdp/redact-sdp-keys.js';

const KEY = Buffer.from('tlssdp-secret-master-key-salt!').toString('base64');
const SDP = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 2000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}\r\n`;

function reason(r: ReturnType<typeof judgeBody>): string {
  if (r === null) return 'none';
  return typeof r === 'string' ? 'sdp' : r.error.reason;
}

describe('judgeBody', () => {
  const cases: [string, string | Buffer, Parameters<typeof judgeBody>[1], string][] = [
    ['application/sdp', SDP, { contentType: 'application/sdp' }, 'sdp'],
    ['SDP without Content-Type', SDP, { contentType: undefined }, 'sdp'],
    ['SDP labelled text/plain', SDP, { contentType: 'text/plain' }, 'sdp'],
    ['SDP labelled with an unknown type', SDP, { contentType: 'application/x-foo' }, 'sdp'],
    ['SDP with LF lines and a leading blank line', `\n${SDP.replaceAll('\r\n', '\n')}`, { contentType: 'text/plain' }, 'sdp'],
    ['plain text', 'hello', { contentType: 'text/plain' }, 'none'],
    ['ISUP', Buffer.from([1, 0, 0x49]), { contentType: 'application/isup; version=itu-t92+' }, 'none'],
    ['unknown type', 'opaque', { contentType: 'application/x-foo' }, 'unknown-body'],
    ['no Content-Type, not SDP', 'opaque', { contentType: undefined }, 'unknown-body'],
    ['gzip', gzipSync(SDP), { contentType: 'application/sdp', contentEncoding: 'gzip' }, 'encoded-body'],
    ['identity Content-Encoding', SDP, { contentType: 'application/sdp', contentEncoding: 'identity' }, 'sdp'],
    ['base64 CTE', Buffer.from(SDP).toString('base64'), { contentType: 'application/sdp', contentTransferEncoding: 'base64' }, 'encoded-body'],
    ['quoted-printable CTE', SDP, { contentType: 'application/sdp', contentTransferEncoding: 'quoted-printable' }, 'encoded-body'],
    ['8bit CTE', SDP, { contentType: 'application/sdp', contentTransferEncoding: '8bit' }, 'sdp'],
    ['multipart with a base64 SDP part', `--b\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n`, { contentType: 'multipart/mixed;boundary=b' }, 'encoded-body'],
    ['multipart with an unknown part', `--b\r\nContent-Type: application/x-foo\r\n\r\nAAAA\r\n--b--\r\n`, { contentType: 'multipart/mixed;boundary=b' }, 'unknown-body'],
    ['multipart with SDP in a text/plain part', `--b\r\nContent-Type: text/plain\r\n\r\n${SDP}\r\n--b--\r\n`, { contentType: 'multipart/mixed;boundary=b' }, 'sdp'],
    ['multipart ISUP + SDP', `--b\r\nContent-Type: application/isup\r\n\r\nxx\r\n--b\r\nContent-Type: application/sdp\r\n\r\n${SDP}\r\n--b--\r\n`, { contentType: 'multipart/mixed;boundary=b' }, 'sdp'],
    ['empty body', '', { contentType: 'application/x-foo', contentEncoding: 'gzip' }, 'none'],
  ];
  for (const [name, body, h, want] of cases) {
    it(`${name}: ${want}`, () => assert.equal(reason(judgeBody(body, h)), want));
  }

  it('error messages carry no body bytes and name the encoding', () => {
    const r = judgeBody('x', { contentType: 'application/sdp', contentEncoding: 'gzip' });
    assert.ok(r !== null && typeof r === 'object');
    assert.equal(r.error.code, 'SIPS_ERR_SDP_ENCODED_BODY');
    assert.match(r.error.message, /Content-Encoding: gzip/);
    const u = judgeBody(`opaque ${KEY}`, { contentType: 'application/x-"evil' });
    assert.ok(u !== null && typeof u === 'object');
    assert.ok(!u.error.message.includes(KEY) && !u.error.message.includes('"'));
  });

  it('looksLikeSdp does not take ordinary text for SDP', () => {
    assert.equal(looksLikeSdp('hello v=0 world'), false);
    assert.equal(looksLikeSdp('v=0\r\n'), true);
  });
});

describe('redactSipMessage', () => {
  const msg = (headers: string[], body: string): string => `INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\n${headers.join('\r\n')}${headers.length ? '\r\n' : ''}Content-Length: ${body.length}\r\n\r\n${body}`;

  it('readable SDP: keys redacted, the rest kept', () => {
    const out = redactSipMessage(msg(['Content-Type: text/plain'], SDP));
    assert.ok(!out.includes(KEY));
    assert.match(out, /inline:\[redacted\]/);
    assert.match(out, /m=audio 2000 RTP\/SAVP 0/);
  });

  for (const [name, headers, body] of [
    ['base64 CTE', ['Content-Type: application/sdp', 'Content-Transfer-Encoding: base64'], Buffer.from(SDP).toString('base64')],
    ['gzip (compact e)', ['c: application/sdp', 'e: gzip'], gzipSync(SDP).toString('latin1')],
    ['unknown type', ['Content-Type: application/x-foo'], `opaque ${KEY}`],
    ['multipart with a quoted-printable part', ['Content-Type: multipart/mixed; boundary=q'], `--q\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${SDP}\r\n--q--\r\n`],
  ] as const) {
    it(`${name}: body replaced whole, headers kept`, () => {
      const out = redactSipMessage(msg([...headers], body));
      assert.ok(!out.includes(body.slice(0, 16)), out);
      assert.ok(!out.includes(KEY));
      assert.match(out, /\[body redacted: \d+ bytes, (encoded|unknown)-body\]$/);
      assert.match(out, /^INVITE sip:a@b SIP\/2\.0\r\nCall-ID: x\r\n/);
    });
  }

  it('no body: unchanged', () => {
    const m = msg([], '');
    assert.equal(redactSipMessage(m), m);
  });
});
