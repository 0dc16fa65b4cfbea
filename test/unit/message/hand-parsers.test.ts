import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHostText } from '../../../src/message/grammar.js';
import { parseCSeq, parseContentLength, parseVia } from '../../../src/message/headers.js';
import { SipParseError } from '../../../src/message/parse-error.js';
import { parseUri, SipUri } from '../../../src/message/uri.js';

// The hot readers (CSeq, Content-Length, the Via sent-protocol, host names) are loops written by
// hand; these tests hold them to the RegExp forms of the grammar they replaced (RFC 3261 §25.1,
// §20.16, §20.14, §20.42), over every short string of a small alphabet and over edge cases.

/** Every string of length 0..max over `alphabet` (alphabet^0 + ... + alphabet^max strings). */
function* strings(alphabet: string, max: number): Generator<string> {
  yield '';
  let level = [''];
  for (let n = 1; n <= max; n++) {
    const next: string[] = [];
    for (const s of level) for (const c of alphabet) next.push(s + c);
    yield* next;
    level = next;
  }
}

function outcome<T>(f: () => T): T | string {
  try {
    return f();
  } catch (e) {
    if (e instanceof SipParseError) return e.code;
    throw e;
  }
}

test('isHostText accepts exactly what ^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9.])?$ accepts', () => {
  const re = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9.])?$/;
  let n = 0;
  for (const s of strings('a9._-:[ \u00e9', 5)) {
    assert.equal(isHostText(s), re.test(s), JSON.stringify(s));
    n++;
  }
  assert.equal(n, (9 ** 6 - 1) / 8); // every string of up to 5 of those 9 characters
  for (const s of ['lb01.voice.euc1.pure.cloud', 'lb01.voice.euc1.pure.cloud.', '192.0.2.10', 'a', '-a', 'a-', 'a_b', '\u0100']) {
    assert.equal(isHostText(s), re.test(s), s);
  }
});

test('parseCSeq: the hand-read form gives what the RegExp form gives, number and method, or the same error', () => {
  const re = /^0*(\d{1,10})[ \t]+([A-Za-z0-9.!%*_+`'~-]+)$/;
  const reference = (v: string): { seq: number; method: string } | string => {
    const m = re.exec(v.trim());
    if (m === null) return 'SIPS_ERR_PARSE_CSEQ';
    const seq = Number(m[1]);
    return seq >= 2 ** 31 ? 'SIPS_ERR_PARSE_CSEQ' : { seq, method: m[2]! };
  };
  for (const s of strings('019 \tAB/', 6)) assert.deepEqual(outcome(() => parseCSeq(s)), reference(s), JSON.stringify(s));
  for (const s of ['1 INVITE', '0 ACK', '00000000000000000001 BYE', '2147483647 INVITE', '2147483648 INVITE', '9999999999 X', '12345678901 X', ' 1 INVITE', '1 INVITE ', '1  \t INVITE', '1INVITE', '1 INV ITE']) {
    assert.deepEqual(outcome(() => parseCSeq(s)), reference(s), s);
  }
});

test('parseContentLength: the hand-read form gives what ^0*\\d{1,9}$ gives', () => {
  const reference = (v: string): number | string => (/^0*\d{1,9}$/.test(v.trim()) ? Number(v.trim()) : 'SIPS_ERR_PARSE_CONTENT_LENGTH');
  for (const s of strings('019 x', 6)) assert.equal(outcome(() => parseContentLength(s)), reference(s), JSON.stringify(s));
  for (const s of ['0', '000000000000', '999999999', '1000000000', '0000123456789', ' 12 ', '']) {
    assert.equal(outcome(() => parseContentLength(s)), reference(s), s);
  }
});

test('parseVia: the common SIP/2.0/<transport> form reads as the general one does', () => {
  const cases = [
    'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport',
    'SIP/2.0/TLS lb01.voice.euc1.pure.cloud;branch=z9hG4bKse1.abc.def',
    'SIP/2.0/tcp pbx.example.com:5070;branch=z9hG4bK2',
    'SIP/2.0/UDP\t \t192.0.2.1;branch=z9hG4bK3',
    'SIP/2.0/WSS [2001:db8::1]:443;branch=z9hG4bK4',
  ];
  for (const v of cases) {
    const fast = parseVia(v);
    // The same value written so that only the general (RegExp) reader takes it: white space around the slashes.
    const general = parseVia(v.replace('SIP/2.0/', 'SIP / 2.0 / '));
    assert.deepEqual(fast, general, v);
  }
  for (const bad of ['SIP/2.0/UDP', 'SIP/2.0/ host', 'SIP/2.0/UDP/ host', 'SIP/2.0/UDP -host', 'SIP/2.0/UDP host-;branch=z9hG4bK1', 'SIP/2.0/UDP [zz::1]']) {
    assert.equal(outcome(() => parseVia(bad)), 'SIPS_ERR_PARSE_VIA', bad);
  }
});

test('SIP URIs: the sip/sips scheme compared in place, hosts and escapes checked as before', () => {
  const u = parseUri('sip:+4930123@lb01.voice.euc1.pure.cloud:5061;transport=tls;tgrp=t1;trunk-context=example.com');
  assert.ok(u instanceof SipUri);
  assert.deepEqual([u.scheme, u.host, u.port, u.param('tgrp')], ['sip', 'lb01.voice.euc1.pure.cloud', 5061, 't1']);
  const s = parseUri('SIPS:a@b.example');
  assert.ok(s instanceof SipUri && s.scheme === 'sips');
  assert.ok(parseUri('sips:a@b.example') instanceof SipUri);
  assert.equal(outcome(() => parseUri('sip:a@-b.example')), 'SIPS_ERR_PARSE_URI');
  assert.equal(outcome(() => parseUri('sip:a@b.example;x=%4')), 'SIPS_ERR_PARSE_URI');
  assert.ok(parseUri('sip:a@b.example;x%41=%42') instanceof SipUri);
  // pname and pvalue are separate: an escape cut in two by the "=" is no escape.
  assert.equal(outcome(() => parseUri('sip:a@b.example;x%4=1')), 'SIPS_ERR_PARSE_URI');
  assert.equal(outcome(() => parseUri('s1p:a@b')).constructor.name, 'OtherUri');
  assert.equal(outcome(() => parseUri('1sip:a@b')), 'SIPS_ERR_PARSE_URI');
});

test('Route entries: a value seen before is read from the cache, equal to a fresh parse; a bad one throws every time', async () => {
  const { parseMessage } = await import('../../../src/message/parse-message.js');
  const { parseNameAddr } = await import('../../../src/message/headers.js');
  const own = '<sip:edge.example.com:5061;transport=tls;lr;r2=on;se=o;t=lb01.voice.euc1.pure.cloud;f=w1-7;sg=AAAAAAAAAAAAAAAA>';
  const bye = (route: string): string => `BYE sip:pbx@192.0.2.5 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bK1\r\nRoute: ${route}\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: r1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n`;
  const read = (route: string) => {
    const r = parseMessage(Buffer.from(bye(route), 'latin1'));
    assert.ok(r.ok);
    return r.value;
  };
  const a = read(own).routes();
  const b = read(own).routes();
  assert.equal(a[0], b[0], 'the second message got the cached view');
  assert.notEqual(a, b, 'each message gets its own list');
  assert.deepEqual(JSON.parse(JSON.stringify(a[0])), JSON.parse(JSON.stringify(parseNameAddr(own))));
  const bad = read('<sip:edge.example.com;lr');
  assert.throws(() => bad.routes(), { code: 'SIPS_ERR_PARSE_NAME_ADDR' });
  assert.throws(() => read('<sip:edge.example.com;lr').routes(), { code: 'SIPS_ERR_PARSE_NAME_ADDR' });
  // Past the bound: still right for every value (the cache starts over).
  for (let i = 0; i < 1_500; i++) {
    const v = `<sip:hop${i}.example.com;lr>`;
    const got = read(v).routes()[0]!;
    assert.ok(got.uri instanceof SipUri && got.uri.host === `hop${i}.example.com`);
  }
  assert.equal((read(own).routes()[0]!.uri as SipUri).param('t'), 'lb01.voice.euc1.pure.cloud');
  // A long value (hundreds of parameters) is parsed each time, never kept.
  const long = `<sip:edge.example.com;lr${';p=1'.repeat(300)}>`;
  const l1 = read(long).routes()[0]!;
  const l2 = read(long).routes()[0]!;
  assert.notEqual(l1, l2);
  assert.equal(l1.uri instanceof SipUri && l1.uri.params.length, 301);
});

test('status line: `SIP/2.0 NNN reason` read by hand gives what ^(\\d{3})(?: (.*))?$ gives', async () => {
  const { parseMessage } = await import('../../../src/message/parse-message.js');
  const headers = '\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: s1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n';
  const reference = (rest: string): { status: number; reason: string } | string => {
    const m = /^(\d{3})(?: (.*))?$/.exec(rest);
    if (m === null) return 'SIPS_ERR_PARSE_STATUS';
    const status = Number(m[1]);
    return status < 100 || status > 699 ? 'SIPS_ERR_PARSE_STATUS' : { status, reason: m[2] ?? '' };
  };
  let n = 0;
  for (const rest of strings('0179 Ox\t', 6)) {
    const r = parseMessage(Buffer.from(`SIP/2.0 ${rest}${headers}`, 'latin1'));
    const got = r.ok ? { status: r.value.status, reason: (r.value.startLine as { reason: string }).reason } : r.error.code;
    assert.deepEqual(got, reference(rest), JSON.stringify(rest));
    n++;
  }
  assert.equal(n, (8 ** 7 - 1) / 7); // every string of up to 6 of those 8 characters
});
