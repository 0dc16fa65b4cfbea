import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { sipFixture } from '../../helpers/fixtures.js';

const BIN = join(process.cwd(), 'dist/cli/main.js');

function cli(args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('sips-edge parse FILE prints the message as JSON and exits 0', () => {
  const r = cli(['parse', join(process.cwd(), 'test/fixtures/sip/valid/invite-vendor-tgrp.sip')]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { startLine: { method: string; requestUri: { userParams: { name: string; value: string }[] } }; headers: { name: string }[]; typed: { via: unknown[]; cseq: { seq: number } }; bodyLength: number };
  assert.equal(j.startLine.method, 'INVITE');
  assert.deepEqual(j.startLine.requestUri.userParams.map((p) => p.name), ['tgrp', 'trunk-context']);
  assert.equal(j.headers[0]!.name, 'Via');
  assert.equal(j.typed.via.length, 3);
  assert.equal(j.typed.cseq.seq, 1);
  assert.ok(j.bodyLength > 100);
});

test('sips-edge parse - reads stdin; a malformed message prints the error JSON and exits 1', () => {
  const r = cli(['parse', '-'], sipFixture('invalid/version-sip3.sip'));
  assert.equal(r.code, 1);
  assert.deepEqual(Object.keys(JSON.parse(r.stdout) as object), ['error', 'status', 'reason']);
  assert.equal((JSON.parse(r.stdout) as { status: number }).status, 505);
});

test('--transport stream requires Content-Length; udp does not', () => {
  const data = sipFixture('invalid/stream-no-content-length.sip');
  const s = cli(['parse', '--transport', 'stream', '-'], data);
  assert.equal(s.code, 1);
  assert.equal((JSON.parse(s.stdout) as { error: string }).error, 'SIPS_ERR_PARSE_NO_CONTENT_LENGTH');
  const u = cli(['parse', '--transport', 'udp', '-'], data);
  assert.equal(u.code, 0, u.stdout);
});

test('--help and unknown options', () => {
  const h = cli(['parse', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--transport udp\|stream/);
  const bad = cli(['parse', '--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown option --bogus/);
  const top = cli(['--help']);
  assert.match(top.stdout, /parse/);
});

interface SdpView {
  ok: boolean;
  media: { type: string; protocol: string; crypto: { tag: number; suite: string; keyBytes: number | null }[] }[];
  lines: string[];
  reason?: string;
}

test('sips-edge parse shows the SDP (sdp-transform view and lines) with the crypto keys redacted', () => {
  const file = join(process.cwd(), 'test/fixtures/sip/valid/invite-pbx-srtp.sip');
  const r = cli(['parse', file]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { sdp: SdpView };
  assert.equal(j.sdp.ok, true);
  assert.equal(j.sdp.media[0]!.type, 'audio');
  assert.equal(j.sdp.media[0]!.protocol, 'RTP/SAVP');
  assert.deepEqual(j.sdp.media[0]!.crypto.map((c) => [c.tag, c.keyBytes]), [[1, 30], [2, 30]]);
  assert.ok(j.sdp.lines.includes('m=audio 16428 RTP/SAVP 0 8 101'), j.sdp.lines.join('\n'));
  assert.ok(j.sdp.lines.includes('a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[redacted]'), j.sdp.lines.join('\n'));
  assert.ok(j.sdp.lines.includes('a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:[redacted]'), j.sdp.lines.join('\n'));
  // Neither key appears anywhere in the output.
  assert.doesNotMatch(r.stdout, /WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|NzB4d1BINUAvLEw6UzF3WSJ\+PSdFcGdUJShpX1Zj/);
});

test('sips-edge parse finds the SDP part of a multipart body, key redacted; a message without a body has no sdp field', () => {
  const r = cli(['parse', join(process.cwd(), 'test/fixtures/sip/valid/invite-multipart.sip')]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { sdp: SdpView };
  assert.equal(j.sdp.ok, true);
  assert.equal(j.sdp.media.length, 1);
  assert.equal(j.sdp.lines[0], 'v=0');
  assert.ok(j.sdp.lines.includes('a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[redacted]'), j.sdp.lines.join('\n'));
  assert.ok(!r.stdout.includes('PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR'));
  const bye = cli(['parse', join(process.cwd(), 'test/fixtures/sip/valid/bye.sip')]);
  assert.equal(bye.code, 0, bye.stderr);
  assert.equal('sdp' in (JSON.parse(bye.stdout) as object), false);
});
