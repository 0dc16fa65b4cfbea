import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SEPARATORS, TOKEN_BYTES, TOKEN_RE, isTokenByte, skipLws, skipWsp } from '../../../src/message/grammar.js';

// RFC 3261 §25.1, spelled out independently of the module under test.
const RFC_TOKEN = new Set([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~"].map((c) => c.charCodeAt(0)));

test('the token table, the token regex and the RFC 3261 §25.1 list agree on every octet', () => {
  for (let b = 0; b < 256; b++) {
    const expected = RFC_TOKEN.has(b);
    assert.equal(TOKEN_BYTES[b] === 1, expected, `octet 0x${b.toString(16)} in TOKEN_BYTES`);
    assert.equal(isTokenByte(b), expected);
    assert.equal(TOKEN_RE.test(String.fromCharCode(b)), expected, `octet 0x${b.toString(16)} in TOKEN_RE`);
  }
  assert.equal(TOKEN_RE.test(''), false);
  assert.equal(TOKEN_RE.test('INVITE'), true);
  assert.equal(TOKEN_RE.test('IN VITE'), false);
});

test('no separator is a token character; SP and HTAB are separators', () => {
  for (const c of SEPARATORS) assert.equal(isTokenByte(c.charCodeAt(0)), false, `separator ${JSON.stringify(c)}`);
  assert.ok(SEPARATORS.includes(' ') && SEPARATORS.includes('\t') && SEPARATORS.includes('"'));
  assert.equal(SEPARATORS.length, 19);
});

test('skipWsp stops at anything but SP/HTAB; skipLws also crosses a fold, never a bare line end', () => {
  const b = Buffer.from(': \t 419\r\n', 'latin1');
  assert.equal(skipWsp(b, 1, b.length), 4);
  const folded = Buffer.from(':\r\n 419\r\n', 'latin1');
  assert.equal(skipLws(folded, 1, folded.length), 4);
  const ended = Buffer.from(':\r\nX', 'latin1');
  assert.equal(skipLws(ended, 1, ended.length), 1);
  assert.equal(skipWsp(b, 2, 3), 3);
});
