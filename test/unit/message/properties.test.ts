import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseMessage } from '../../../src/message/parse-message.js';
import { parseAndDescribe } from '../../../src/message/describe.js';
import { StreamFramer } from '../../../src/message/stream-framer.js';
import { SipParseError } from '../../../src/message/parse-error.js';
import { parseUri, SipUri } from '../../../src/message/uri.js';
import { validSipFixtures } from '../../helpers/fixtures.js';

const RUNS = 300;
// A fixed seed keeps CI deterministic; FC_SEED=<n> (or FC_SEED=random) explores further by hand.
const seedEnv = process.env.FC_SEED;
fc.configureGlobal({ seed: seedEnv === 'random' ? Date.now() | 0 : Number(seedEnv ?? 20261127) });
const alnum = fc.stringMatching(/^[a-z0-9]{1,8}$/);
const token = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,10}$/);
const hostname = fc.array(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?$/), { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((t) => t.join('.'));
const ipv6 = fc.ipV6().map((a) => `[${a}]`);
const host = fc.oneof(hostname, ipv4, ipv6);
const pname = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.!*_+`'~-]{0,10}$/);
// fast-check records have a null prototype; spread them so deepEqual compares like with like.
const param = fc.record({ name: pname, value: fc.option(alnum, { nil: null }) }).map((p) => ({ ...p }));
const number = fc.stringMatching(/^\+?[0-9]{3,15}$/);
const userPart = fc.oneof(
  alnum,
  fc.tuple(number, fc.array(param, { maxLength: 3 })).map(([n, ps]) => n + ps.map((p) => (p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`)).join('')),
);

const sipUri = fc.record({
  scheme: fc.constantFrom('sip' as const, 'sips' as const),
  user: fc.option(userPart, { nil: null }),
  password: fc.constant(null),
  host,
  port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null }),
  params: fc.array(param, { maxLength: 4 }),
  headers: fc.array(fc.record({ name: pname, value: fc.option(alnum, { nil: null }) }).map((h) => ({ ...h })), { maxLength: 2 }),
}).map((p) => new SipUri(p));

test('property: generated URIs round-trip (parse(serialize(x)) equals x)', () => {
  fc.assert(fc.property(sipUri, (u) => {
    const text = u.toString();
    const back = parseUri(text);
    assert.ok(back instanceof SipUri);
    assert.equal(back.toString(), text);
    assert.equal(back.scheme, u.scheme);
    assert.equal(back.user, u.user);
    assert.equal(back.host, u.host);
    assert.equal(back.port, u.port);
    assert.deepEqual(back.params, u.params);
    assert.deepEqual(back.headers, u.headers);
    assert.deepEqual(back.userParams, u.userParams);
  }), { numRuns: RUNS });
});

const extraHeader = fc.record({
  name: fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/),
  value: fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/),
});

const generatedMessage = fc.record({
  method: fc.constantFrom('INVITE', 'OPTIONS', 'BYE', 'MESSAGE', 'INFO', 'UPDATE'),
  // RFC 3261 §19.1.1: a Request-URI carries no headers.
  uri: sipUri.map((u) => (u.headers.length ? u.with({ headers: [] }) : u)),
  viaHost: host,
  branch: alnum,
  tag: alnum,
  callId: fc.stringMatching(/^[A-Za-z0-9.@-]{1,30}$/),
  seq: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  extras: fc.array(extraHeader, { maxLength: 6 }),
  body: fc.uint8Array({ maxLength: 200 }),
}).map((g) => {
  const head = [
    `${g.method} ${g.uri.toString()} SIP/2.0`,
    `Via: SIP/2.0/TCP ${g.viaHost};branch=z9hG4bK${g.branch}`,
    'Max-Forwards: 70',
    `From: <sip:a@example.com>;tag=${g.tag}`,
    `To: <${g.uri.toString()}>`,
    `Call-ID: ${g.callId}`,
    `CSeq: ${g.seq} ${g.method}`,
    ...g.extras.map((h) => `${h.name}: ${h.value}`),
    `Content-Length: ${g.body.length}`,
  ].join('\r\n');
  return { g, bytes: Buffer.concat([Buffer.from(head + '\r\n\r\n', 'latin1'), Buffer.from(g.body)]) };
});

test('property: generated messages parse to what was generated and serialize byte-identical', () => {
  fc.assert(fc.property(generatedMessage, ({ g, bytes }) => {
    const r = parseAndDescribe(bytes, { framing: 'stream' });
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    const m = r.value.message;
    assert.equal(m.method, g.method);
    assert.equal(m.requestUriText, g.uri.toString());
    assert.equal(m.cseq().seq, g.seq);
    assert.equal(m.callId(), g.callId);
    assert.ok(m.body.equals(Buffer.from(g.body)));
    assert.ok(m.serialize().equals(bytes));
    // Edited and re-serialized, it parses back to the same values.
    m.set('max-forwards', '69');
    const again = parseMessage(m.serialize(), { framing: 'stream' });
    assert.ok(again.ok);
    assert.equal(again.value.maxForwards(), 69);
    assert.deepEqual(again.value.headers.filter((h) => h.key !== 'max-forwards').map((h) => [h.name, h.value]),
      m.headers.filter((h) => h.key !== 'max-forwards').map((h) => [h.name, h.value]));
  }), { numRuns: RUNS });
});

const fixtures = validSipFixtures();
const stream = Buffer.concat(fixtures.flatMap((f, i) => (i % 3 === 0 ? [f.data, Buffer.from('\r\n\r\n')] : [f.data])));

function frame(chunks: Buffer[]): string[] {
  const out: string[] = [];
  const f = new StreamFramer({
    onMessage: (m) => out.push('M:' + m.toString('latin1')),
    onKeepAlive: (k) => out.push('K:' + k),
    onError: (e) => out.push('E:' + e.code),
  });
  for (const c of chunks) f.push(c);
  return out;
}

test('property: random chunking of a byte stream yields the same messages and keep-alives', () => {
  const whole = frame([stream]);
  assert.equal(whole.filter((x) => x.startsWith('M:')).length, fixtures.length);
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }), (cuts) => {
    const points = [...new Set(cuts)].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let prev = 0;
    for (const p of points) {
      chunks.push(stream.subarray(prev, p));
      prev = p;
    }
    chunks.push(stream.subarray(prev));
    assert.deepEqual(frame(chunks), whole);
  }), { numRuns: RUNS });
});

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insertText' as const), at: fc.nat(), text: fc.constantFrom(';', ',', '<', '>', '"', '\r\n', '\r\n ', ':', '@', '[', ']', '%', '=', ' ', '\t', '\\') }),
);

test('property: mutated real messages either parse or fail with SipParseError — never another exception', () => {
  fc.assert(fc.property(fc.constantFrom(...fixtures), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.constantFrom('udp' as const, 'stream' as const), (f, muts, framing) => {
    let b = Buffer.from(f.data);
    for (const m of muts) {
      const at = m.at % (b.length + 1);
      if (m.kind === 'flip' && b.length) b[at % b.length] = m.byte;
      else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
      else if (m.kind === 'insertText') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.text, 'latin1'), b.subarray(at)]);
      else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
      else if (m.kind === 'truncate') b = b.subarray(0, at);
    }
    const r = parseAndDescribe(b, { framing });
    if (!r.ok) {
      assert.ok(r.error instanceof SipParseError);
      assert.ok(r.error.status >= 400);
    } else {
      // Whatever parsed must serialize and parse again.
      const again = parseMessage(r.value.message.serialize(), { framing });
      assert.ok(again.ok);
    }
    const out = frame([b]);
    for (const e of out) if (e.startsWith('E:')) assert.match(e, /^E:SIPS_ERR_PARSE_/);
  }), { numRuns: 2000 });
});
