import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAndDescribe } from '../../src/message/describe.js';
import { rawErrorResponse } from '../../src/message/raw-error-response.js';
import { parseMessage } from '../../src/message/parse-message.js';
import { StreamFramer } from '../../src/message/stream-framer.js';
import type { SipParseError } from '../../src/message/parse-error.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { RFC4475, tortureBytes } from '../helpers/rfc4475.js';

const BIN = join(process.cwd(), 'dist/cli/main.js');

test('the suite holds every RFC 4475 message of §3.1.1, §3.1.2, §3.2, §3.3 and §3.4 (49), CRLF kept', () => {
  assert.equal(RFC4475.length, 49);
  assert.equal(new Set(RFC4475.map((c) => c.name)).size, 49);
  const count = (prefix: string) => RFC4475.filter((c) => c.section.startsWith(prefix)).length;
  assert.deepEqual([count('3.1.1.'), count('3.1.2.'), count('3.2.'), count('3.3.'), count('3.4.')], [13, 19, 1, 15, 1]);
  for (const c of RFC4475) {
    const head = tortureBytes(c.name).toString('latin1').split('\r\n\r\n')[0]!;
    assert.ok(!/[^\r]\n/.test(head), `${c.name}: bare LF (checked out without -text?)`);
  }
});

test('sips-edge parse: each RFC 4475 message parses, or fails with the code the RFC calls for', () => {
  for (const c of RFC4475) {
    const r = spawnSync(process.execPath, [BIN, 'parse', join(FIXTURES, 'rfc4475', `${c.name}.sip`)], { encoding: 'utf8', timeout: 20_000 });
    const out = JSON.parse(r.stdout) as { error?: string; status?: number; reason?: string };
    if (c.parse === 'ok') {
      assert.equal(r.status, 0, `${c.name} (§${c.section}) refused: ${r.stdout.slice(0, 300)}`);
      assert.equal(out.error, undefined);
    } else {
      assert.equal(r.status, 1, `${c.name} (§${c.section}) accepted`);
      assert.equal(out.error, c.parse, `${c.name} (§${c.section}): ${out.reason ?? ''}`);
    }
  }
});

test('over a stream (parse and framer alike): the same verdicts, but no Content-Length or a bad one loses the framing', () => {
  for (const c of RFC4475) {
    let data = tortureBytes(c.name);
    if (c.streamSuffix !== undefined) data = Buffer.concat([data, Buffer.from(c.streamSuffix, 'latin1')]);
    const frames: Buffer[] = [];
    let lost: SipParseError | null = null;
    new StreamFramer({ onMessage: (m) => frames.push(m), onKeepAlive: () => undefined, onError: (e) => { lost = e; } }).push(data);
    if (c.tcp.kind === 'closed') {
      assert.ok(lost !== null, `${c.name}: framing should be lost`);
      continue;
    }
    if (c.tcp.kind === 'waits') {
      assert.equal(frames.length, 0, `${c.name}: framed before its body came`);
      continue;
    }
    assert.equal(lost, null, `${c.name}: ${String(lost)}`);
    assert.equal(frames.length, 1, c.name);
    const r = parseAndDescribe(frames[0]!, { framing: 'stream' });
    assert.equal(r.ok ? 'ok' : r.error.code, c.parse, c.name);
  }
});

test('valid messages are forwarded canonically: wsinv unfolded, every field kept in order with its value', () => {
  const data = tortureBytes('wsinv');
  const r = parseMessage(data);
  assert.ok(r.ok);
  const out = r.value.serialize();
  const head = out.toString('latin1', 0, out.indexOf('\r\n\r\n'));
  assert.ok(!/\r\n[ \t]/.test(head), 'no continuation line');
  assert.ok(out.subarray(out.indexOf('\r\n\r\n') + 4).equals(r.value.body), 'body untouched');
  const again = parseMessage(out);
  assert.ok(again.ok);
  assert.deepEqual(again.value.headers.map((h) => [h.name, h.value]), r.value.headers.map((h) => [h.name, h.value]));
  assert.equal(again.value.maxForwards(), 68);
  assert.equal(again.value.cseq().seq, 9);
  assert.equal(again.value.get('unknownheaderwithunusualvalue'), ';;,,;;,;', 'unknown header forwarded unchanged');
  // Unfolded and written `name: value`: "Via: SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw" on one line.
  assert.match(head, /\r\nVia: SIP {2}\/ {3}2\.0 \/UDP 192\.0\.2\.2;branch=390skdjuw\r\n/);
});

test('lowercase sip/2.0 is accepted and written SIP/2.0; canonical bytes still pass through untouched (the same Buffer)', () => {
  const canonical = Buffer.from('OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n', 'latin1');
  const same = parseMessage(canonical);
  assert.ok(same.ok && same.value.pristine);
  assert.equal(same.value.serialize().buffer, canonical.buffer, 'no copy on the common path');
  const lower = Buffer.from(canonical.toString('latin1').replace(' SIP/2.0\r\n', ' sip/2.0\r\n'), 'latin1');
  const r = parseMessage(lower);
  assert.ok(r.ok);
  assert.ok(r.value.serialize().equals(canonical));
  const resp = parseMessage(Buffer.from('sip/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n', 'latin1'));
  assert.ok(resp.ok);
  assert.ok(resp.value.serialize().toString('latin1').startsWith('SIP/2.0 200 OK\r\n'));
});

test('a folded Content-Length frames on a stream and is forwarded unfolded', () => {
  const msg = 'OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Type: text/plain\r\nContent-Length:\r\n 5\r\n\r\nhello';
  const frames: Buffer[] = [];
  new StreamFramer({ onMessage: (m) => frames.push(m), onKeepAlive: () => undefined, onError: (e) => assert.fail(e.message) }).push(Buffer.from(msg + msg, 'latin1'));
  assert.equal(frames.length, 2);
  const r = parseMessage(frames[0]!, { framing: 'stream' });
  assert.ok(r.ok);
  assert.equal(r.value.body.toString(), 'hello');
  assert.match(r.value.serialize().toString('latin1'), /\r\nContent-Length: 5\r\n\r\nhello$/);
});

test('the relaxations open no holes: genuinely malformed input is still refused', () => {
  const base = (over: Record<string, string>) => {
    const h: Record<string, string> = {
      Via: 'SIP/2.0/UDP h;branch=z9hG4bK1', From: '<sip:b@example.com>;tag=1', To: '<sip:a@example.com>', 'Call-ID': 'c1', CSeq: '1 OPTIONS', 'Max-Forwards': '70', 'Content-Length': '0', ...over,
    };
    return Buffer.from(`OPTIONS sip:a@example.com SIP/2.0\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`, 'latin1');
  };
  const code = (b: Buffer) => {
    const r = parseAndDescribe(b);
    return r.ok ? 'ok' : r.error.code;
  };
  // Quoted-pairs of control octets are legal (RFC 3261 §25.1)...
  assert.equal(code(base({ To: '"a\\\x00b\\\x07\\\x7f" <sip:a@example.com>' })), 'ok');
  // ...but not outside a quoted-string, not unescaped inside one, and never CR or LF.
  assert.equal(code(base({ To: 'a\\\x00 <sip:a@example.com>' })), 'SIPS_ERR_PARSE_BINARY');
  assert.equal(code(base({ To: '"a\x00" <sip:a@example.com>' })), 'SIPS_ERR_PARSE_BINARY');
  assert.equal(code(base({ 'X-A': 'x\x01' })), 'SIPS_ERR_PARSE_BINARY');
  const reason = parseMessage(Buffer.from('SIP/2.0 200 "\\\x00"\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\n', 'latin1'));
  assert.ok(!reason.ok && reason.error.code === 'SIPS_ERR_PARSE_BINARY', 'no control octet in a Reason-Phrase, quoted or not');
  assert.equal(code(base({ To: '"a\\\rb" <sip:a@example.com>' })), 'SIPS_ERR_PARSE_BINARY');
  assert.equal(code(base({ To: '"a\\"\x00" <sip:a@example.com>' })), 'SIPS_ERR_PARSE_BINARY');
  // Leading zeros are legal; the values' ranges still hold.
  assert.equal(code(base({ 'Max-Forwards': '0000070', CSeq: '000000000001 OPTIONS', 'Content-Length': '0000000000' })), 'ok');
  assert.equal(code(base({ 'Max-Forwards': '0256' })), 'SIPS_ERR_PARSE_MAX_FORWARDS');
  assert.equal(code(base({ 'Max-Forwards': '-1' })), 'SIPS_ERR_PARSE_MAX_FORWARDS');
  assert.equal(code(base({ CSeq: '02147483648 OPTIONS' })), 'SIPS_ERR_PARSE_CSEQ');
  assert.equal(code(base({ 'Content-Length': '0001000000000' })), 'SIPS_ERR_PARSE_CONTENT_LENGTH');
  // A URI with headers: only inside <> in a header, never in the Request-URI.
  assert.equal(code(base({ Contact: '<sip:a@h?Subject=x>' })), 'ok');
  assert.equal(code(base({ Contact: 'sip:a@h?Subject=x' })), 'SIPS_ERR_PARSE_NAME_ADDR');
  // A stream Content-Length must still be one number, fold or not.
  const framed = (cl: string) => {
    let err = '';
    new StreamFramer({ onMessage: () => undefined, onKeepAlive: () => undefined, onError: (e) => { err = e.code; } })
      .push(Buffer.from(`OPTIONS sip:a SIP/2.0\r\nContent-Length:${cl}\r\n\r\n`, 'latin1'));
    return err;
  };
  assert.equal(framed('\r\n 0'), '');
  assert.equal(framed(' 00'), '');
  assert.equal(framed('\r\n'), 'SIPS_ERR_PARSE_CONTENT_LENGTH');
  assert.equal(framed(' 0\r\n 1'), 'SIPS_ERR_PARSE_CONTENT_LENGTH');
  assert.equal(framed(' -0'), 'SIPS_ERR_PARSE_CONTENT_LENGTH');
});

test('Via limit: 100 by default; a response may carry one more (the edge\'s own)', () => {
  const withVias = (n: number, response: boolean) => {
    const vias = Array.from({ length: n }, (_, i) => `Via: SIP/2.0/UDP 10.0.${i >> 8}.${i & 255};branch=z9hG4bK${i}`).join('\r\n');
    const start = response ? 'SIP/2.0 200 OK' : 'OPTIONS sip:a@example.com SIP/2.0';
    return Buffer.from(`${start}\r\n${vias}\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`, 'latin1');
  };
  const req100 = parseMessage(withVias(100, false));
  assert.ok(req100.ok);
  assert.equal(req100.value.viaRoom, 0, 'no room for the edge\'s own Via: the proxy refuses it');
  assert.equal(parseMessage(withVias(70, false)).ok && parseMessage(withVias(70, false)).ok, true);
  const r101 = parseMessage(withVias(101, false));
  assert.ok(!r101.ok && r101.error.code === 'SIPS_ERR_PARSE_TOO_MANY_VIAS' && r101.error.status === 483);
  assert.ok(parseMessage(withVias(101, true)).ok);
  assert.ok(!parseMessage(withVias(102, true)).ok);
});

test('the raw 400 path: malformed request lines are answered, folded lines copied unfolded; responses, ACKs and Via-less bytes are not', () => {
  const err = (name: string) => {
    const r = parseAndDescribe(tortureBytes(name));
    assert.ok(!r.ok);
    return r.error;
  };
  for (const name of ['lwsruri', 'lwsstart', 'trws', 'multi01', 'insuf', 'badvers']) {
    const answer = rawErrorResponse(tortureBytes(name), err(name), 'sips-edge');
    assert.ok(answer !== null, `${name} unanswered`);
    const text = answer.toString('latin1');
    assert.match(text, /^SIP\/2\.0 (400|505) /, name);
    assert.match(text, /\r\nWarning: 399 sips-edge "SIPS_ERR_PARSE_/, name);
    // insuf has no From/To/Call-ID to copy: its answer cannot be complete, the others must be.
    if (name !== 'insuf') assert.ok(parseMessage(answer).ok, `${name}: the answer itself parses`);
  }
  // A folded Via (as wsinv writes it) is copied as one line.
  const folded = Buffer.from('INVITE  sip:a@example.com SIP/2.0\r\nVia  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n', 'latin1');
  const fa = rawErrorResponse(folded, err('lwsstart'), 'sips-edge')!.toString('latin1');
  assert.match(fa, /\r\nVia  : SIP  \/   2\.0 \/UDP 192\.0\.2\.2;branch=390skdjuw\r\n/);
  for (const name of ['bigcode', 'scalarlg']) assert.equal(rawErrorResponse(tortureBytes(name), err(name), 'sips-edge'), null, name);
  const ack = Buffer.from(tortureBytes('lwsstart').toString('latin1').replace(/^INVITE/, 'ACK').replace(/CSeq: (\d+) INVITE/, 'CSeq: $1 ACK'), 'latin1');
  assert.equal(rawErrorResponse(ack, err('lwsstart'), 'sips-edge'), null);
  assert.equal(rawErrorResponse(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), err('lwsstart'), 'sips-edge'), null);
});
