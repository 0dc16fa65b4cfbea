import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/message/parse-message.js';
import { buildResponse } from '../../../src/message/build-response.js';
import { parseSipUriOrThrow } from '../../../src/message/uri.js';
import { sipFixture } from '../../helpers/fixtures.js';

function load(name: string) {
  const r = parseMessage(sipFixture(`valid/${name}`));
  if (!r.ok) throw r.error;
  return r.value;
}

test('a proxy edit changes exactly R-URI, Via, Record-Route and Max-Forwards; everything else stays byte-identical', () => {
  const m = load('invite-pbx-srtp.sip');
  const original = m.serialize().toString('latin1');
  const target = parseSipUriOrThrow('sip:+4969123456789;tgrp=frankfurt-pbx;trunk-context=byoc.euc1.pure.cloud@lb01.voice.euc1.pure.cloud:5061;transport=tls');
  m.setRequestUri(target);
  m.prepend('via', 'SIP/2.0/TLS edge.example.com:5061;branch=z9hG4bK-se-1');
  m.prepend('record-route', '<sip:edge.example.com:5061;transport=tls;lr;r2=on>', m.indexAfter('via'));
  m.set('max-forwards', String(m.maxForwards()! - 1));
  assert.equal(m.pristine, false);
  const out = m.serialize().toString('latin1');
  const reparsed = parseMessage(Buffer.from(out, 'latin1'));
  assert.ok(reparsed.ok);
  const r = reparsed.value;
  assert.equal(r.requestUriText, target.toString());
  assert.equal(r.vias().length, 2);
  assert.equal(r.via().branch, 'z9hG4bK-se-1');
  assert.equal(r.maxForwards(), 69);
  assert.equal(r.recordRoutes().length, 1);
  assert.ok(r.body.equals(load('invite-pbx-srtp.sip').body));
  // Every original header line other than Max-Forwards is still there, in order.
  const origLines = original.split('\r\n\r\n')[0]!.split('\r\n').slice(1).filter((l) => !l.startsWith('Max-Forwards'));
  const outLines = out.split('\r\n\r\n')[0]!.split('\r\n').slice(1);
  let j = 0;
  for (const line of outLines) if (line === origLines[j]) j++;
  assert.equal(j, origLines.length, 'untouched headers kept in order and byte-identical');
  assert.equal(outLines[0], 'Via: SIP/2.0/TLS edge.example.com:5061;branch=z9hG4bK-se-1');
  assert.equal(outLines[2], 'Record-Route: <sip:edge.example.com:5061;transport=tls;lr;r2=on>');
});

test('removing the top Via from a comma-joined Via header keeps the rest', () => {
  const m = load('folded-headers.sip');
  assert.equal(m.shift('via'), 'SIP/2.0/UDP 10.20.0.15:5060;branch=z9hG4bK-fold-1');
  assert.equal(m.vias().length, 1);
  assert.equal(m.via().branch, 'z9hG4bK-fold-0');
  assert.equal(m.shift('via'), 'SIP/2.0/UDP 10.20.0.14:5060;branch=z9hG4bK-fold-0');
  assert.equal(m.has('via'), false);
});

test('popping the top Route and Record-Route', () => {
  const m = load('ack.sip');
  assert.equal(m.routes().length, 2);
  assert.equal(m.shift('route'), '<sip:10.20.0.1;lr;r2=on>');
  assert.equal(m.routes().length, 1);
  assert.match(m.serialize().toString(), /\r\nRoute: <sip:edge\.example\.com:5061;transport=tls;lr;r2=on>\r\n/);
});

test('shiftValues(n) removes what n shifts would, across Route fields, and keeps the rest in place', () => {
  const text = [
    'BYE sip:pbx@10.20.0.15:5060 SIP/2.0',
    'Via: SIP/2.0/UDP 10.20.0.1:5060;branch=z9hG4bK-shift-1',
    'Route: <sip:a.example.com;lr>, <sip:b.example.com;lr>',
    'Route: <sip:c.example.com;lr>, <sip:d.example.com;lr>',
    'From: <sip:a@example.com>;tag=1',
    'To: <sip:b@example.com>;tag=2',
    'Call-ID: shift-1',
    'CSeq: 2 BYE',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
  for (let n = 0; n <= 5; n++) {
    const parsed = parseMessage(Buffer.from(text, 'latin1'));
    if (!parsed.ok) throw parsed.error;
    const byShift = parsed.value.clone();
    const byCount = parsed.value.clone();
    for (let i = 0; i < n; i++) byShift.shift('route');
    byCount.shiftValues('route', n);
    assert.equal(byCount.serialize().toString('latin1'), byShift.serialize().toString('latin1'), `n=${n}`);
    assert.deepEqual(byCount.values('route'), ['<sip:a.example.com;lr>', '<sip:b.example.com;lr>', '<sip:c.example.com;lr>', '<sip:d.example.com;lr>'].slice(n));
  }
});

test('Content-Length is recomputed from the body on a modified message', () => {
  const m = load('invite-pbx-srtp.sip');
  m.setBody(Buffer.from('v=0\r\n'), 'application/sdp');
  const out = m.serialize().toString();
  assert.match(out, /\r\nContent-Length: 5\r\n\r\nv=0\r\n$/);
  const noLen = load('invite-tel-uri.sip');
  noLen.remove('content-length');
  assert.match(noLen.serialize().toString(), /\r\nContent-Length: 0\r\n\r\n$/);
});

test('compact Content-Length keeps its spelling when the value still holds', () => {
  const m = load('compact-forms.sip');
  m.set('max-forwards', '69');
  assert.match(m.serialize().toString(), /\r\nl: \d+\r\n/);
});

test('buildResponse copies Via list untouched, adds a To-tag (not on 100)', () => {
  const req = load('invite-vendor-tgrp.sip');
  const trying = buildResponse(req, 100);
  const t = trying.serialize().toString();
  assert.match(t, /^SIP\/2\.0 100 Trying\r\n/);
  assert.equal(trying.vias().length, 3);
  assert.equal(trying.to().tag, null);
  const busy = buildResponse(req, 486, { toTag: 'abc', headers: [['Retry-After', '30']] });
  assert.equal(busy.to().tag, 'abc');
  assert.equal(busy.get('retry-after'), '30');
  assert.equal(busy.cseq().method, 'INVITE');
  const s = busy.serialize().toString();
  assert.ok(s.includes('Via: SIP/2.0/TLS 10.128.4.17:5061;received=10.128.4.17;branch=z9hG4bK-d8754z-1c7e0a2f;rport=49152\r\n'));
  assert.match(s, /Content-Length: 0\r\n\r\n$/);
  const reparsed = parseMessage(busy.serialize(), { framing: 'stream' });
  assert.ok(reparsed.ok);
});

test('the received/rport view the edge keeps after stamping equals parsing the stamped Via (RFC 3581 §4)', async () => {
  const { parseVia, receivedVia, stampReceived } = await import('../../../src/message/headers.js');
  for (const value of [
    'SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-1;rport',
    'SIP/2.0/UDP pbx.example.net;branch=z9hG4bK-2',
    'SIP/2.0/UDP 192.0.2.7:5060;rport;branch=z9hG4bK-3;received=10.9.9.9',
    'SIP/2.0/TCP [2001:db8::5]:5060;branch=z9hG4bK-4',
  ]) {
    const via = parseVia(value);
    const view = receivedVia(via, '198.51.100.20', 31337);
    assert.deepEqual(view, parseVia(stampReceived(via, '198.51.100.20', 31337)), value);
  }
});
