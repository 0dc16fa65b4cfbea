import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeRtp, encodeRtp, isRtcp, rtpHeaderLength } from '../../../src/lab/media/rtp-packet.js';

describe('RTP header (RFC 3550 §5.1)', () => {
  it('encode then decode gives back every field and the payload', () => {
    const payload = randomBytes(160);
    const b = encodeRtp({ marker: true, payloadType: 101, sequence: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef }, payload);
    const p = decodeRtp(b);
    assert.ok(p);
    assert.equal(p.marker, true);
    assert.equal(p.payloadType, 101);
    assert.equal(p.sequence, 65535);
    assert.equal(p.timestamp, 0xfffffff0);
    assert.equal(p.ssrc, 0xdeadbeef);
    assert.equal(p.headerLength, 12);
    assert.deepEqual(p.payload, payload);
  });

  it('skips CSRCs and a header extension; removes padding', () => {
    const b = Buffer.concat([
      Buffer.from([0xb2, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]), // V=2 P=1 X=1 CC=2
      Buffer.alloc(8, 0x11), // two CSRCs
      Buffer.from([0xbe, 0xde, 0x00, 0x01]), Buffer.alloc(4, 0x22), // extension, 1 word
      Buffer.from('hello'),
      Buffer.from([0, 0, 3]), // 3 octets of padding
    ]);
    const p = decodeRtp(b);
    assert.ok(p);
    assert.equal(p.csrcCount, 2);
    assert.equal(p.hasExtension, true);
    assert.equal(p.headerLength, 12 + 8 + 8);
    assert.equal(p.payload.toString(), 'hello');
  });

  it('returns null, never throws, on garbage', () => {
    assert.equal(decodeRtp(Buffer.alloc(0)), null);
    assert.equal(decodeRtp(Buffer.alloc(11, 0x80)), null);
    assert.equal(decodeRtp(Buffer.from('INVITE sip:x SIP/2.0')), null); // version 1
    assert.equal(decodeRtp(Buffer.from([0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2])), null); // CC=15, too short
    assert.equal(decodeRtp(Buffer.from([0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 9])), null); // ext too long
    assert.equal(decodeRtp(Buffer.from([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), null); // padding 0
    assert.equal(decodeRtp(Buffer.from([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50])), null); // padding past header
    for (let i = 0; i < 2000; i++) {
      const b = randomBytes(i % 64);
      const p = decodeRtp(b);
      if (p !== null) assert.ok(p.headerLength <= b.length && rtpHeaderLength(b) === p.headerLength);
    }
  });

  it('isRtcp: second octet 192..223 with rtcp-mux (RFC 5761 §4), RTP otherwise', () => {
    const sr = Buffer.from([0x80, 200, 0, 6]);
    assert.equal(isRtcp(sr), true);
    assert.equal(isRtcp(Buffer.from([0x81, 201, 0, 1])), true);
    assert.equal(isRtcp(encodeRtp({ marker: false, payloadType: 0, sequence: 1, timestamp: 1, ssrc: 1 }, Buffer.alloc(4))), false);
    assert.equal(isRtcp(encodeRtp({ marker: true, payloadType: 101, sequence: 1, timestamp: 1, ssrc: 1 }, Buffer.alloc(4))), false);
    assert.equal(isRtcp(Buffer.from([0x40, 200])), false);
  });
});
