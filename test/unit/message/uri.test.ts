import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OtherUri, parseUri, SipUri, TelUri } from '../../../src/message/uri.js';
import { SipParseError } from '../../../src/message/parse-error.js';

function sip(text: string): SipUri {
  const u = parseUri(text);
  assert.ok(u instanceof SipUri, text);
  return u;
}

test('RFC 4904 user-part parameters parse into number, tgrp, trunk-context and serialize back identically', () => {
  const text = 'sip:+15551234567;tgrp=TG-1;trunk-context=example.com@host.example.com';
  const u = sip(text);
  assert.equal(u.userNumber, '+15551234567');
  assert.equal(u.userParam('tgrp'), 'TG-1');
  assert.equal(u.userParam('trunk-context'), 'example.com');
  assert.equal(u.host, 'host.example.com');
  assert.equal(u.toString(), text);
  assert.deepEqual(u.params, []);
});

test('host-part params, lr without value, unknown params in order, headers', () => {
  const u = sip('sips:alice:secret@[2001:db8::1]:5061;transport=TLS;lr;x-foo=bar;maddr=192.0.2.9?Subject=hi&Priority=urgent');
  assert.equal(u.scheme, 'sips');
  assert.equal(u.user, 'alice');
  assert.equal(u.password, 'secret');
  assert.equal(u.host, '[2001:db8::1]');
  assert.equal(u.hostType, 'ipv6');
  assert.equal(u.port, 5061);
  assert.equal(u.transport, 'tls');
  assert.equal(u.lr, true);
  assert.deepEqual(u.params.map((p) => p.name), ['transport', 'lr', 'x-foo', 'maddr']);
  assert.equal(u.param('lr'), null);
  assert.equal(u.param('absent'), undefined);
  assert.deepEqual(u.headers, [{ name: 'Subject', value: 'hi' }, { name: 'Priority', value: 'urgent' }]);
});

test('builders set and remove params without string surgery', () => {
  const u = sip('sip:+4969123456789@edge.example.com;user=phone');
  const v = u.with({ host: 'lb01.voice.euc1.pure.cloud', port: 5061 })
    .withoutParam('user')
    .withParam('transport', 'tls')
    .withUserParam('tgrp', 'frankfurt-pbx')
    .withUserParam('trunk-context', 'byoc.euc1.pure.cloud');
  assert.equal(v.toString(), 'sip:+4969123456789;tgrp=frankfurt-pbx;trunk-context=byoc.euc1.pure.cloud@lb01.voice.euc1.pure.cloud:5061;transport=tls');
  assert.equal(v.withoutUserParam('tgrp').toString(), 'sip:+4969123456789;trunk-context=byoc.euc1.pure.cloud@lb01.voice.euc1.pure.cloud:5061;transport=tls');
  assert.equal(v.withUserNumber('+13175550100').userNumber, '+13175550100');
  assert.equal(u.toString(), 'sip:+4969123456789@edge.example.com;user=phone', 'original unchanged');
  assert.equal(u.withParam('user', 'phone').toString(), u.toString(), 'replace keeps position');
});

test('host types', () => {
  assert.equal(sip('sip:192.0.2.1:5060').hostType, 'ipv4');
  assert.equal(sip('sip:lb01.voice.euc1.pure.cloud').hostType, 'name');
  assert.equal(sip('sip:[::1]').hostType, 'ipv6');
});

test('tel: URIs (RFC 3966)', () => {
  const g = parseUri('tel:+1-201-555-0123;ext=1234');
  assert.ok(g instanceof TelUri && g.isGlobal && g.digits === '+12015550123' && g.param('ext') === '1234');
  const l = parseUri('tel:7042;phone-context=example.com');
  assert.ok(l instanceof TelUri && !l.isGlobal);
  assert.throws(() => parseUri('tel:7042'), SipParseError, 'local number needs phone-context');
});

test('other schemes are kept as text', () => {
  const u = parseUri('urn:service:sos');
  assert.ok(u instanceof OtherUri && u.scheme === 'urn' && u.toString() === 'urn:service:sos');
});

test('malformed URIs throw SipParseError with SIPS_ERR_PARSE_URI', () => {
  for (const bad of ['sip:', 'nocolon', 'sip:@host', 'sip:host:99999', 'sip:host:', 'sip:[2001:db8::1', 'sip:ho st', 'sip:a@b;=x', 'sip:a%zz@b', 'sip:host?', '1sip:host', 'sip:-bad-.example']) {
    assert.throws(() => parseUri(bad), (e: unknown) => e instanceof SipParseError && e.code === 'SIPS_ERR_PARSE_URI', bad);
  }
});
