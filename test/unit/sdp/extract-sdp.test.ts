import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractSdp } from '../../../src/sdp/extract-sdp.js';
import { AUDIO, crypto, fixtureBytes, sdp } from './fixtures.js';

const OFFER = sdp(AUDIO, crypto(1));

function multipart(boundary: string, parts: [string, string][], close = true): Buffer {
  let text = 'preamble is ignored\r\n';
  for (const [type, body] of parts) text += `--${boundary}\r\nContent-Type: ${type}\r\n\r\n${body}\r\n`;
  if (close) text += `--${boundary}--\r\n`;
  return Buffer.from(text, 'latin1');
}

function reasonOf(r: ReturnType<typeof extractSdp>): string {
  if (r === null) return 'null';
  if (typeof r === 'string') return 'sdp';
  return r.error.reason;
}

describe('extractSdp', () => {
  it('returns the whole body for application/sdp, whatever the case and parameters', () => {
    assert.equal(extractSdp(Buffer.from(OFFER), 'Application/SDP; charset=utf-8'), OFFER);
  });

  it('returns null for no body or a body that is not SDP', () => {
    assert.equal(extractSdp(Buffer.alloc(0), 'application/sdp'), null);
    assert.equal(extractSdp(Buffer.from('<xml/>'), 'application/pidf+xml'), null);
  });

  it('finds the SDP in a SIP-I multipart/mixed body (fixture), bytes intact', () => {
    const r = extractSdp(fixtureBytes('multipart-sip-i.body'), 'multipart/mixed;boundary=unique-boundary-1');
    assert.equal(typeof r, 'string');
    assert.ok((r as string).startsWith('v=0\r\n'));
    assert.ok((r as string).endsWith('a=sendrecv\r\n'));
  });

  it('handles a quoted boundary and a part that opens the body', () => {
    const body = Buffer.from(`--"odd"\r\n`.replace(/"/g, '') + `Content-Type: application/sdp\r\n\r\n${OFFER}\r\n--odd--`, 'latin1');
    assert.equal(extractSdp(body, 'multipart/mixed; boundary="odd"'), OFFER);
  });

  it('finds SDP in nested multipart', () => {
    const inner = multipart('in', [['application/sdp', OFFER]]).toString('latin1');
    const outer = multipart('out', [['text/plain', 'hi'], ['multipart/related; boundary=in', inner]]);
    assert.equal(extractSdp(outer, 'multipart/mixed;boundary=out'), OFFER);
  });

  it('returns null when no part is SDP', () => {
    assert.equal(extractSdp(multipart('b', [['application/isup', 'x']]), 'multipart/mixed;boundary=b'), null);
  });

  const broken: [string, Buffer, string][] = [
    ['no boundary parameter', multipart('b', [['application/sdp', OFFER]]), 'multipart/mixed'],
    ['no close delimiter', multipart('b', [['application/sdp', OFFER]], false), 'multipart/mixed;boundary=b'],
    ['a boundary that never occurs', multipart('b', [['application/sdp', OFFER]]), 'multipart/mixed;boundary=zzz'],
    ['two SDP parts (the edge must not check one while the peer uses the other)', multipart('b', [['application/sdp', OFFER], ['application/sdp', OFFER]]), 'multipart/mixed;boundary=b'],
    ['a part without the empty line after its headers', Buffer.from('--b\r\nContent-Type: application/sdp\r\n--b--\r\n'), 'multipart/mixed;boundary=b'],
    ['nesting too deep', nest(6), 'multipart/mixed;boundary=n0'],
  ];
  for (const [name, body, type] of broken) {
    it(`bad-multipart: ${name}`, () => {
      const r = extractSdp(body, type);
      assert.equal(reasonOf(r), 'bad-multipart');
      if (r !== null && typeof r === 'object') assert.equal(r.error.code, 'SIPS_ERR_SDP_BAD_MULTIPART');
    });
  }
});

function nest(depth: number): Buffer {
  let body = OFFER;
  let type = 'application/sdp';
  for (let i = depth - 1; i >= 0; i--) {
    body = multipart(`n${i}`, [[type, body]]).toString('latin1');
    type = `multipart/mixed;boundary=n${i}`;
  }
  return Buffer.from(body, 'latin1');
}
