import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamFramer } from '../../../src/message/stream-framer.js';
import type { SipParseError } from '../../../src/message/parse-error.js';
import { sipFixture } from '../../helpers/fixtures.js';

type Event = { msg: string } | { ka: 'ping' | 'pong' } | { err: string };

function run(chunks: Buffer[], opts: { expectPongs?: boolean; limits?: { maxMessageSize?: number; maxHeaderSection?: number } } = {}): Event[] {
  const events: Event[] = [];
  const f = new StreamFramer({
    onMessage: (m) => events.push({ msg: m.toString('latin1') }),
    onKeepAlive: (k) => events.push({ ka: k }),
    onError: (e: SipParseError) => events.push({ err: e.code }),
  }, opts);
  for (const c of chunks) f.push(c);
  return events;
}

const invite = sipFixture('valid/invite-pbx-srtp.sip');
const bye = sipFixture('valid/bye.sip');

test('several messages in one chunk', () => {
  const ev = run([Buffer.concat([invite, bye, invite])]);
  assert.deepEqual(ev, [{ msg: invite.toString('latin1') }, { msg: bye.toString('latin1') }, { msg: invite.toString('latin1') }]);
});

test('a body split across chunks, and byte-by-byte delivery', () => {
  const cut = invite.length - 40;
  assert.deepEqual(run([invite.subarray(0, cut), invite.subarray(cut)]), [{ msg: invite.toString('latin1') }]);
  const bytes = [...Buffer.concat([bye, invite])].map((b) => Buffer.from([b]));
  assert.deepEqual(run(bytes), [{ msg: bye.toString('latin1') }, { msg: invite.toString('latin1') }]);
});

test('RFC 5626 keep-alives: double CRLF is a ping, single CRLF a pong', () => {
  const ev = run([Buffer.concat([Buffer.from('\r\n\r\n'), bye, Buffer.from('\r\n'), bye])]);
  assert.deepEqual(ev, [{ ka: 'ping' }, { msg: bye.toString('latin1') }, { ka: 'pong' }, { msg: bye.toString('latin1') }]);
});

test('a ping split in two chunks is still one ping on an accepted connection', () => {
  assert.deepEqual(run([Buffer.from('\r\n'), Buffer.from('\r\n')]), [{ ka: 'ping' }]);
  assert.deepEqual(run([Buffer.from('\r\n')]), [], 'undecided until more bytes');
});

test('on an outbound connection a lone CRLF is a pong at once', () => {
  assert.deepEqual(run([Buffer.from('\r\n')], { expectPongs: true }), [{ ka: 'pong' }]);
});

test('missing Content-Length loses framing: fatal error, nothing after it', () => {
  const noLen = Buffer.from(bye.toString('latin1').replace(/Content-Length: 0\r\n/, ''), 'latin1');
  const ev = run([Buffer.concat([noLen, bye])]);
  assert.deepEqual(ev, [{ err: 'SIPS_ERR_PARSE_NO_CONTENT_LENGTH' }]);
});

test('bad or conflicting Content-Length is fatal', () => {
  const bad = Buffer.from(bye.toString('latin1').replace('Content-Length: 0', 'Content-Length: x1'), 'latin1');
  assert.deepEqual(run([bad]), [{ err: 'SIPS_ERR_PARSE_CONTENT_LENGTH' }]);
  const two = Buffer.from(bye.toString('latin1').replace('Content-Length: 0', 'Content-Length: 0\r\nl: 5'), 'latin1');
  assert.deepEqual(run([two]), [{ err: 'SIPS_ERR_PARSE_CONTENT_LENGTH' }]);
});

test('header section and body over the limits are fatal', () => {
  assert.deepEqual(run([Buffer.alloc(300, 0x41)], { limits: { maxHeaderSection: 256 } }), [{ err: 'SIPS_ERR_PARSE_HEADER_SECTION_TOO_LARGE' }]);
  assert.deepEqual(run([invite], { limits: { maxMessageSize: 500 } }), [{ err: 'SIPS_ERR_PARSE_TOO_LARGE' }]);
});

test('the compact form l: frames too', () => {
  const c = sipFixture('valid/compact-forms.sip');
  assert.deepEqual(run([Buffer.concat([c, c])]), [{ msg: c.toString('latin1') }, { msg: c.toString('latin1') }]);
});
