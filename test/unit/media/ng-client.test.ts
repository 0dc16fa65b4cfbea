import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { decodeBencode, encodeBencode, type BDict } from '../../../src/media/bencode.js';
import { NgClient, NgCommandError } from '../../../src/media/ng-client.js';
import { MediaError } from '../../../src/media/types.js';

interface Received { readonly cookie: string; readonly raw: Buffer; readonly dict: BDict; readonly from: RemoteInfo }

/** A fake ng server on loopback: records every datagram, answers as the test says. */
async function fakeServer(answer: (r: Received, nth: number, server: Socket) => void): Promise<{ port: number; got: Received[]; close(): Promise<void> }> {
  const s = createSocket('udp4');
  const got: Received[] = [];
  s.on('message', (raw, from) => {
    const sp = raw.indexOf(0x20);
    const r = { cookie: raw.toString('latin1', 0, sp), raw, dict: decodeBencode(raw.subarray(sp + 1)) as BDict, from };
    got.push(r);
    answer(r, got.length, s);
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  return { port: s.address().port, got, close: () => new Promise((resolve) => s.close(() => resolve())) };
}

function reply(s: Socket, r: Received, dict: BDict, cookie = r.cookie): void {
  s.send(Buffer.concat([Buffer.from(cookie + ' '), encodeBencode(dict)]), r.from.port, r.from.address);
}

test('a command is one datagram: cookie, space, bencoded dict; the reply is matched by cookie', async () => {
  const srv = await fakeServer((r, _n, s) => reply(s, r, { result: r.dict['command'] === 'ping' ? 'pong' : 'ok', sdp: 'v=0' }));
  const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 2000, retries: 2 });
  try {
    const [a, b] = await Promise.all([c.command({ command: 'ping' }), c.command({ command: 'offer', 'call-id': 'x' })]);
    assert.equal(a.result, 'pong');
    assert.equal(b.result, 'ok');
    assert.equal(b.dict['sdp'], 'v=0');
    assert.equal(srv.got.length, 2);
    assert.match(srv.got[0]!.cookie, /^[0-9a-f]{16}$/);
    assert.notEqual(srv.got[0]!.cookie, srv.got[1]!.cookie, 'a random cookie per command');
    assert.equal(srv.got[0]!.from.address, '127.0.0.1');
    assert.equal(c.inFlight, 0);
  } finally {
    await c.close();
    await srv.close();
  }
});

test('a lost datagram is sent again: the same bytes, the same cookie', async () => {
  // Answers only the third copy.
  const srv = await fakeServer((r, n, s) => { if (n === 3) reply(s, r, { result: 'ok' }); });
  const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 3000, retries: 2 });
  try {
    const r = await c.command({ command: 'offer', 'call-id': 'lost', sdp: 'v=0' });
    assert.equal(r.sends, 3);
    assert.equal(srv.got.length, 3);
    assert.deepEqual(srv.got[1]!.raw, srv.got[0]!.raw);
    assert.deepEqual(srv.got[2]!.raw, srv.got[0]!.raw);
    assert.equal(srv.got[0]!.from.port, srv.got[2]!.from.port, 'one socket per instance');
  } finally {
    await c.close();
    await srv.close();
  }
});

test('no reply after retries+1 sends: UNAVAILABLE (timeout)', async () => {
  const srv = await fakeServer(() => undefined);
  const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 300, retries: 2 });
  try {
    await assert.rejects(c.command({ command: 'ping' }), (e) => {
      assert.ok(e instanceof NgCommandError && e instanceof MediaError);
      assert.equal(e.kind, 'timeout');
      assert.equal(e.code, 'SIPS_ERR_MEDIA_UNAVAILABLE');
      return true;
    });
    assert.equal(srv.got.length, 3);
    assert.equal(new Set(srv.got.map((g) => g.cookie)).size, 1);
    assert.equal(c.inFlight, 0);
  } finally {
    await c.close();
    await srv.close();
  }
});

test('result error: REFUSED carrying error-reason; a warning of an ok reply is passed on', async () => {
  const srv = await fakeServer((r, _n, s) => reply(s, r, r.dict['call-id'] === 'bad'
    ? { result: 'error', 'error-reason': 'Incomplete SDP specification' }
    : { result: 'ok', warning: 'Unknown flag' }));
  const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 2000, retries: 1 });
  try {
    await assert.rejects(c.command({ command: 'offer', 'call-id': 'bad' }), (e) => {
      assert.ok(e instanceof NgCommandError);
      assert.equal(e.code, 'SIPS_ERR_MEDIA_REFUSED');
      assert.equal(e.errorReason, 'Incomplete SDP specification');
      return true;
    });
    const ok = await c.command({ command: 'offer', 'call-id': 'good' });
    assert.equal(ok.warning, 'Unknown flag');
  } finally {
    await c.close();
    await srv.close();
  }
});

test('a reply with an unknown cookie, or garbage, is ignored: the right reply still completes the command', async () => {
  const strays: string[] = [];
  const srv = await fakeServer((r, n, s) => {
    if (n > 1) return;
    reply(s, r, { result: 'ok', sdp: 'stray' }, 'deadbeefdeadbeef');
    s.send(Buffer.from(`${r.cookie} d6:result`), r.from.port, r.from.address); // truncated
    s.send(Buffer.from('nocookie'), r.from.port, r.from.address);
    setTimeout(() => reply(s, r, { result: 'ok', sdp: 'mine' }), 20);
  });
  const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 2000, retries: 0, onStray: (why) => strays.push(why) });
  try {
    const r = await c.command({ command: 'offer', 'call-id': 'x' });
    assert.equal(r.dict['sdp'], 'mine');
    assert.equal(r.sends, 1);
    assert.ok(strays.includes('unknown cookie'), strays.join());
    assert.ok(strays.includes('no cookie'), strays.join());
    assert.ok(strays.some((s) => s.startsWith('bencode')), strays.join());
  } finally {
    await c.close();
    await srv.close();
  }
});

test('a reply from another source with a pending cookie is ignored', async () => {
  const other = createSocket('udp4');
  await new Promise<void>((resolve) => other.bind(0, '127.0.0.1', () => resolve()));
  const strays: string[] = [];
  const srv = await fakeServer((r, _n, s) => {
    other.send(Buffer.concat([Buffer.from(r.cookie + ' '), encodeBencode({ result: 'ok', sdp: 'forged' })]), r.from.port, r.from.address);
    setTimeout(() => reply(s, r, { result: 'ok', sdp: 'real' }), 30);
  });
  const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 2000, retries: 0, onStray: (why) => strays.push(why) });
  try {
    assert.equal((await c.command({ command: 'offer' })).dict['sdp'], 'real');
    assert.ok(strays.some((s) => s.startsWith('datagram from')));
  } finally {
    await c.close();
    await srv.close();
    await new Promise<void>((resolve) => other.close(() => resolve()));
  }
});

test('the pending map is bounded: beyond maxPending a command fails at once, UNAVAILABLE', async () => {
  const srv = await fakeServer(() => undefined);
  const c = new NgClient({ address: '127.0.0.1', port: srv.port, timeoutMs: 5000, retries: 0, maxPending: 2 });
  try {
    const held = [c.command({ command: 'ping' }), c.command({ command: 'ping' })];
    await assert.rejects(c.command({ command: 'ping' }), (e) => e instanceof NgCommandError && e.kind === 'overload' && e.code === 'SIPS_ERR_MEDIA_UNAVAILABLE');
    assert.equal(c.inFlight, 2);
    await c.close();
    for (const h of held) await assert.rejects(h, (e) => e instanceof NgCommandError && e.kind === 'closed');
  } finally {
    await c.close();
    await srv.close();
  }
});
