import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/message/parse-message.js';
import type { SipMessage } from '../../../src/message/message.js';
import { parseAndDescribe } from '../../../src/message/describe.js';
import { SipUri, TelUri } from '../../../src/message/uri.js';
import { SipParseError, PARSE_ERRORS } from '../../../src/message/parse-error.js';
import { invalidSipFixtures, sipFixture, validSipFixtures } from '../../helpers/fixtures.js';

function parse(name: string) {
  const r = parseMessage(sipFixture(`valid/${name}`));
  if (!r.ok) throw r.error;
  return r.value;
}

test('fixtures keep CRLF line ends (checked out byte-exact)', () => {
  for (const { name, data } of validSipFixtures()) {
    const text = data.toString('latin1');
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    assert.ok(!/[^\r]\n/.test(head), `${name} has bare LF in its header section`);
  }
});

test('every golden fixture parses, describes, and serializes byte-identical when untouched', () => {
  for (const { name, data } of validSipFixtures()) {
    const r = parseAndDescribe(data);
    assert.ok(r.ok, `${name}: ${r.ok ? '' : r.error.message}`);
    const out = r.value.message.serialize();
    const text = data.toString('latin1');
    if (/\r\n[ \t]/.test(text.slice(0, text.indexOf('\r\n\r\n')))) {
      // Folded lines are forwarded unfolded (issue 11 §10): the same fields, no continuation line.
      const head = out.toString('latin1', 0, out.indexOf('\r\n\r\n'));
      assert.ok(!/\r\n[ \t]/.test(head), `${name} was not unfolded`);
      const again = parseMessage(out);
      assert.ok(again.ok);
      assert.deepEqual(again.value.headers.map((h) => [h.name, h.value]), r.value.message.headers.map((h) => [h.name, h.value]));
      continue;
    }
    assert.ok(out.equals(data), `${name} did not round-trip`);
  }
});

test('vendor INVITE: TGRP Request-URI, three Vias, Record-Route, SDP body', () => {
  const m = parse('invite-vendor-tgrp.sip');
  assert.equal(m.method, 'INVITE');
  const ruri = m.requestUri();
  assert.ok(ruri instanceof SipUri);
  assert.equal(ruri.userNumber, '+4969123456789');
  assert.equal(ruri.userParam('tgrp'), 'frankfurt-pbx');
  assert.equal(ruri.userParam('trunk-context'), 'byoc.euc1.pure.cloud');
  assert.equal(ruri.host, 'edge.example.com');
  assert.equal(ruri.port, 5061);
  assert.equal(ruri.transport, 'tls');
  assert.equal(String(ruri), m.requestUriText);
  const vias = m.vias();
  assert.equal(vias.length, 3);
  assert.equal(vias[0]!.transport, 'TLS');
  assert.equal(vias[0]!.rport, null);
  assert.equal(vias[1]!.rport, 49152);
  assert.equal(vias[1]!.received, '10.128.4.17');
  assert.equal(vias[2]!.rfc3261, true);
  const rr = m.recordRoutes();
  assert.equal(rr.length, 2);
  assert.ok(rr[0]!.uri instanceof SipUri && rr[0]!.uri.lr);
  assert.equal(m.from().tag, '9a1b2c3d');
  assert.equal(m.to().tag, null);
  assert.equal(m.cseq().seq, 1);
  assert.equal(m.maxForwards(), 67);
  assert.equal(m.contentType()?.mediaType, 'application/sdp');
  assert.equal(m.body.length, Number(m.get('content-length')));
  assert.match(m.body.toString(), /^v=0\r\n/);
  const contact = m.contacts()[0];
  assert.ok(contact !== '*' && contact !== undefined && contact.uri instanceof SipUri);
  assert.equal(contact.uri.param('x-inin-cnv'), 'a1b2c3d4-e5f6');
});

test('responses: status line, CSeq method, To-tag', () => {
  const m = parse('200-ok-invite.sip');
  assert.equal(m.isRequest, false);
  assert.equal(m.status, 200);
  assert.equal(m.method, 'INVITE');
  assert.equal(m.to().tag, '0b1e7d4c');
  assert.equal(m.via().received, '10.20.0.15');
  assert.equal(m.via().rport, 5060);
});

test('compact forms map to long names and keep their spelling on the wire', () => {
  const m = parse('compact-forms.sip');
  assert.equal(m.callId(), '9f8e7d6c5b4a@10.20.0.16');
  assert.equal(m.from().tag, 'c0mp4ct');
  assert.equal(m.get('Supported'), 'timer, replaces');
  assert.deepEqual(m.values('k'), ['timer', 'replaces']);
  assert.equal(m.get('subject'), 'compact forms');
  assert.equal(m.contentType()?.mediaType, 'application/sdp');
  assert.equal(m.headers[0]!.name, 'v');
  assert.equal(m.body.length, Number(m.get('l')));
});

test('folded headers are unfolded; a folded Via list splits into two entries', () => {
  const m = parse('folded-headers.sip');
  assert.equal(m.vias().length, 2);
  assert.equal(m.vias()[1]!.branch, 'z9hG4bK-fold-0');
  assert.equal(m.from().tag, 'f01d3d');
  assert.equal(m.get('subject'), 'a subject that is folded onto a tab-indented second line');
});

test('IPv6 hosts in Request-URI, Via and Contact', () => {
  const m = parse('ipv6.sip');
  const ruri = m.requestUri();
  assert.ok(ruri instanceof SipUri);
  assert.equal(ruri.host, '[2001:db8::10]');
  assert.equal(ruri.hostType, 'ipv6');
  assert.equal(m.via().host, '[2001:db8::15]');
  assert.equal(m.via().port, 5060);
});

test('escaped user parts are kept as written', () => {
  const m = parse('escaped-user.sip');
  const ruri = m.requestUri();
  assert.ok(ruri instanceof SipUri);
  assert.equal(ruri.user, '%61lice%20smith');
  assert.equal(m.body.toString(), 'hello\r\n');
});

test('tel: Request-URI', () => {
  const ruri = parse('invite-tel-uri.sip').requestUri();
  assert.ok(ruri instanceof TelUri);
  assert.equal(ruri.isGlobal, true);
  assert.equal(ruri.digits, '+13175550100');
  assert.equal(ruri.param('phone-context'), '+1');
});

test('multipart body: boundary is parsed, binary part survives', () => {
  const data = sipFixture('valid/invite-multipart.sip');
  const m = parse('invite-multipart.sip');
  assert.equal(m.contentType()?.boundary, 'unique-boundary-1');
  assert.equal(m.contentType()?.type, 'multipart');
  assert.ok(m.body.includes(Buffer.from([0x01, 0x00, 0x49])));
  assert.ok(m.serialize().equals(data));
});

test('each invalid fixture fails with its own code and a 400-family status', () => {
  const codes = new Set<string>();
  for (const f of invalidSipFixtures()) {
    const r = parseAndDescribe(f.data, { framing: f.framing });
    assert.equal(r.ok, false, `${f.name} parsed`);
    if (r.ok) continue;
    assert.ok(r.error instanceof SipParseError);
    assert.equal(r.error.code, f.code, `${f.name}: ${r.error.message}`);
    assert.ok([400, 483, 505, 513].includes(r.error.status));
    codes.add(r.error.code);
  }
  assert.ok(codes.size >= 18, `only ${codes.size} distinct codes covered`);
});

test('SIP/3.0 answers 505, not 400', () => {
  const r = parseMessage(sipFixture('invalid/version-sip3.sip'));
  assert.ok(!r.ok && r.error.status === 505);
});

test('a UDP datagram longer than Content-Length is truncated to it', () => {
  const base = sipFixture('valid/escaped-user.sip');
  const r = parseMessage(Buffer.concat([base, Buffer.from('garbage after the body')]));
  assert.ok(r.ok);
  assert.equal(r.value.body.toString(), 'hello\r\n');
  assert.ok(r.value.serialize().equals(base));
});

test('UDP without Content-Length takes the rest of the datagram as body; stream framing refuses it', () => {
  const text = 'MESSAGE sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:x@y.example>;tag=1\r\nTo: <sip:a@b.example>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n\r\nbody';
  const udp = parseMessage(Buffer.from(text));
  assert.ok(udp.ok);
  assert.equal(udp.value.body.toString(), 'body');
  const stream = parseMessage(Buffer.from(text), { framing: 'stream' });
  assert.ok(!stream.ok && stream.error.code === 'SIPS_ERR_PARSE_NO_CONTENT_LENGTH');
});

test('limits: message size, header section, header count, line length', () => {
  const big = Buffer.concat([sipFixture('valid/options-vendor-ping.sip'), Buffer.alloc(70_000, 0x41)]);
  const r1 = parseMessage(big);
  assert.ok(!r1.ok && r1.error.code === 'SIPS_ERR_PARSE_TOO_LARGE' && r1.error.status === 513);
  const many = 'OPTIONS sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:x@y.example>;tag=1\r\nTo: <sip:a@b.example>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n' + 'X-Pad: 1\r\n'.repeat(20) + '\r\n';
  const r2 = parseMessage(Buffer.from(many), { limits: { maxHeaders: 10 } });
  assert.ok(!r2.ok && r2.error.code === 'SIPS_ERR_PARSE_TOO_MANY_HEADERS');
  const r3 = parseMessage(Buffer.from(many), { limits: { maxHeaderSection: 100 } });
  assert.ok(!r3.ok && r3.error.code === 'SIPS_ERR_PARSE_HEADER_SECTION_TOO_LARGE');
  const longLine = many.replace('X-Pad: 1', 'X-Pad: ' + 'a'.repeat(300));
  const r4 = parseMessage(Buffer.from(longLine), { limits: { maxLineLength: 200 } });
  assert.ok(!r4.ok && r4.error.code === 'SIPS_ERR_PARSE_LINE_TOO_LONG');
});

test('bare LF and bare CR in the header section are refused', () => {
  const ok = 'OPTIONS sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:x@y.example>;tag=1\r\nTo: <sip:a@b.example>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\n';
  assert.ok(parseMessage(Buffer.from(ok)).ok);
  for (const bad of [ok.replace('Call-ID: c1\r\n', 'Call-ID: c1\n'), ok.replace('tag=1', 'tag=\r1')]) {
    const r = parseMessage(Buffer.from(bad));
    assert.ok(!r.ok && r.error.code === 'SIPS_ERR_PARSE_BINARY', r.ok ? 'parsed' : r.error.message);
  }
});

test('every octet 0x00-0xff, at every position of a header and every buffer alignment, is judged as the grammar says', () => {
  // The parser scans the header bytes four at a time (parse-message.ts scanHeaderBytes): a control
  // octet, a bare CR or a bare LF must be found wherever it falls in a word and whatever the
  // Buffer's byteOffset is. Reference: the grammar (RFC 3261 §25.1, §7.3.1) written as RegExps.
  const line = 'Subject: abcdefghij';
  const base = (subject: string): string => `OPTIONS sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n${subject}\r\nFrom: <sip:x@y.example>;tag=1\r\nTo: <sip:a@b.example>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\n`;
  const expectBinary = (head: string): boolean => /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(head) || /\r(?!\n)/.test(head) || /(?<!\r)\n/.test(head);
  let refused = 0;
  let checked = 0;
  for (let octet = 0; octet < 256; octet++) {
    for (let at = 'Subject: '.length; at <= line.length; at++) {
      const subject = line.slice(0, at) + String.fromCharCode(octet) + line.slice(at);
      const text = base(subject);
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      for (let shift = 0; shift < 4; shift++) {
        const backing = Buffer.alloc(text.length + 8, 0x41);
        backing.write(text, shift, 'latin1');
        const r = parseMessage(backing.subarray(shift, shift + text.length));
        const binary = !r.ok && r.error.code === 'SIPS_ERR_PARSE_BINARY';
        // A bare CR or LF inside the value may also split the line: some other parse error is then
        // as good a refusal, but an octet the grammar allows must parse.
        if (expectBinary(head)) {
          assert.ok(!r.ok, `0x${octet.toString(16)} at ${at} (shift ${shift}) parsed`);
          assert.ok(binary || octet === 0x0a || octet === 0x0d, `0x${octet.toString(16)} at ${at}: ${r.ok ? '' : r.error.code}`);
          refused++;
        } else {
          assert.ok(r.ok, `0x${octet.toString(16)} at ${at} (shift ${shift}): ${r.ok ? '' : r.error.message}`);
        }
        checked++;
      }
    }
  }
  // 31 controls besides HTAB (CR and LF among them) and DEL, everywhere.
  assert.equal(refused, 32 * 11 * 4);
  assert.equal(checked, 256 * 11 * 4);
});

test('a bare CR or LF right before the blank line, or in the start line, is refused', () => {
  const ok = 'OPTIONS sip:a@b.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:x@y.example>;tag=1\r\nTo: <sip:a@b.example>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS';
  for (const [bad, why] of [
    [ok + '\r\r\n\r\n', 'bare CR in header section'],
    [ok + '\n\r\n\r\n', 'bare LF in header section'],
    [ok.replace(' SIP/2.0\r\n', ' SIP/2.0\r\r\n') + '\r\n\r\n', 'bare CR or LF in start line'],
    [ok.replace('OPTIONS sip', 'OPTIONS\nsip') + '\r\n\r\n', 'bare CR or LF in start line'],
  ] as const) {
    const r = parseMessage(Buffer.from(bad, 'latin1'));
    assert.ok(!r.ok && r.error.code === 'SIPS_ERR_PARSE_BINARY', r.ok ? 'parsed' : r.error.message);
    assert.match(r.error.message, new RegExp(why));
  }
});

test('every parse error code has a status and reason', () => {
  for (const [code, def] of Object.entries(PARSE_ERRORS)) {
    assert.match(code, /^SIPS_ERR_PARSE_[A-Z_]+$/);
    assert.ok(def.status >= 400 && def.status < 600);
    assert.ok(def.reason.length > 3);
  }
});

test('WWW-Authenticate and other non-list headers are not split on commas', () => {
  const text = 'SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:x@y.example>;tag=1\r\nTo: <sip:a@b.example>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: Digest realm="a, b", nonce="x", qop="auth,auth-int"\r\nDate: Sat, 13 Nov 2010 23:29:00 GMT\r\nContent-Length: 0\r\n\r\n';
  const r = parseMessage(Buffer.from(text));
  assert.ok(r.ok);
  assert.equal(r.value.values('www-authenticate').length, 1);
  assert.equal(r.value.values('date').length, 1);
  const allow = parseMessage(Buffer.from(text.replace('Date:', 'Allow: INVITE, "odd,value", BYE\r\nX-Date:')));
  assert.ok(allow.ok);
  assert.deepEqual(allow.value.values('allow'), ['INVITE', '"odd,value"', 'BYE']);
});

test('hasSeveral: one value, two fields, two values in one field, a comma inside one value', () => {
  const at = (vias: string[]): SipMessage => {
    const r = parseMessage(Buffer.from(['SIP/2.0 200 OK', ...vias.map((v) => `Via: ${v}`), 'From: <sip:a@x>;tag=1', 'To: <sip:b@x>;tag=2', 'Call-ID: hs', 'CSeq: 1 INVITE', 'Content-Length: 0', '', ''].join('\r\n'), 'latin1'));
    assert.ok(r.ok);
    return r.value;
  };
  assert.equal(at(['SIP/2.0/TLS edge.example.com;branch=z9hG4bK1']).hasSeveral('via'), false);
  assert.equal(at(['SIP/2.0/TLS edge.example.com;branch=z9hG4bK1', 'SIP/2.0/UDP pbx;branch=z9hG4bK2']).hasSeveral('via'), true);
  assert.equal(at(['SIP/2.0/TLS edge.example.com;branch=z9hG4bK1, SIP/2.0/UDP pbx;branch=z9hG4bK2']).hasSeveral('via'), true);
  assert.equal(at(['SIP/2.0/TLS edge.example.com;branch=z9hG4bK1;x="a,b"']).hasSeveral('via'), false, 'a quoted comma is not a second value');
  assert.equal(at(['SIP/2.0/TLS edge.example.com;branch=z9hG4bK1']).hasSeveral('route'), false);
});
