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

test('a compacted edited message serializes to the same bytes, in a buffer of its own', () => {
  const m = load('invite-pbx-srtp.sip');
  m.prepend('via', 'SIP/2.0/TLS edge.example.com:5061;branch=z9hG4bKse0.abc.1');
  m.set('max-forwards', '69');
  const before = Buffer.from(m.serialize());
  m.compact();
  const after = m.serialize();
  assert.deepEqual(after, before);
  // Not a slice of a shared pool: the buffer is exactly the message.
  assert.equal(after.byteOffset, 0);
  assert.equal(after.buffer.byteLength, after.length);
  assert.equal(m.pristine, true);
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
