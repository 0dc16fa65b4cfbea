import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/message/parse-message.js';
import { buildResponse } from '../../../src/message/build-response.js';
import { sipFixture } from '../../helpers/fixtures.js';

// SipMessage.compact(): what a lingering transaction keeps for RFC 6026's 32 s.

function load(name: string) {
  const r = parseMessage(sipFixture(`valid/${name}`));
  if (!r.ok) throw r.error;
  return r.value;
}

test('a compacted edited message serializes to the same bytes, and keeps no Buffer of them', () => {
  const m = load('invite-pbx-srtp.sip');
  m.prepend('via', 'SIP/2.0/TLS edge.example.com:5061;branch=z9hG4bKse0.abc.1');
  m.set('max-forwards', '69');
  const before = Buffer.from(m.serialize());
  const sent = m.compact();
  assert.deepEqual(sent, before);
  const after = m.serialize();
  assert.deepEqual(after, before);
  // The bytes are kept as text in the V8 heap: each serialize() is a fresh copy, no Buffer (native
  // memory freed only by a major GC) is held for the transaction's 32 s.
  assert.notStrictEqual(m.serialize(), after);
  assert.equal(m.pristine, true);
});

test('a compacted untouched message keeps its exact bytes, binary body included', () => {
  const bytes = Buffer.concat([
    Buffer.from('MESSAGE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKbin1\r\nFrom: <sip:b@example.com>;tag=1\r\n' +
      'To: <sip:a@example.com>\r\nCall-ID: bin1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: application/octet-stream\r\nContent-Length: 256\r\n\r\n', 'latin1'),
    Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  ]);
  const r = parseMessage(bytes);
  if (!r.ok) throw r.error;
  const m = r.value;
  assert.deepEqual(m.compact(), bytes);
  assert.deepEqual(m.serialize(), bytes);
  assert.deepEqual(m.body, bytes.subarray(bytes.length - 256));
  assert.equal(m.callId(), 'bin1');
  m.set('max-forwards', '69');
  const again = parseMessage(m.serialize());
  assert.ok(again.ok);
  assert.deepEqual(again.value.body, bytes.subarray(bytes.length - 256));
});

test('a compacted message still answers every view, read again from its bytes', () => {
  const m = load('invite-pbx-srtp.sip');
  const via = m.via();
  const callId = m.callId();
  const body = Buffer.from(m.body);
  m.compact();
  assert.equal(m.via().branch, via.branch);
  assert.equal(m.callId(), callId);
  assert.equal(m.cseq().method, 'INVITE');
  assert.deepEqual(m.body, body);
  assert.equal(m.contentType()?.type, 'application');
});

test('editing a compacted message keeps its body and other headers', () => {
  const m = load('invite-pbx-srtp.sip');
  const body = Buffer.from(m.body);
  m.compact();
  m.setRequestUri('sip:+4969123456789@lb01.voice.euc1.pure.cloud:5061;transport=tls');
  m.set('max-forwards', '10');
  const r = parseMessage(m.serialize());
  assert.ok(r.ok);
  assert.equal(r.value.requestUriText, 'sip:+4969123456789@lb01.voice.euc1.pure.cloud:5061;transport=tls');
  assert.equal(r.value.maxForwards(), 10);
  assert.deepEqual(r.value.body, body);
  assert.equal(r.value.callId(), m.callId());
});

test('a built response compacts too, and compacting twice changes nothing', () => {
  const req = load('bye.sip');
  const res = buildResponse(req, 200);
  const bytes = Buffer.from(res.serialize());
  res.compact();
  res.to();
  res.compact();
  assert.deepEqual(res.serialize(), bytes);
  assert.equal(res.status, 200);
});
