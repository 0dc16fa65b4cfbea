import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { UDP_READS_PER_POLL, udpTurnTotals } from '../../../src/loop-load.js';
import { TransportError } from '../../../src/transport/transport-error.js';
import { Transport } from '../../../src/transport/transport.js';
import { Inbox, nextEvent, sipRequest, sipResponse, tagOf } from '../../helpers/transport-util.js';

/** Whether this machine can bind UDP on ::1 (containers sometimes have IPv6 off). */
async function ipv6LoopbackAvailable(): Promise<boolean> {
  const s = dgram.createSocket({ type: 'udp6', ipv6Only: true });
  s.on('error', () => {});
  const ok = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.bind({ address: '::1', port: 0 }, () => resolve(true));
  });
  try {
    s.close();
  } catch {
    // not bound
  }
  return ok;
}

async function pingPong(host: string): Promise<void> {
  const a = new Transport({ udp: [{ host, port: 0 }] });
  const b = new Transport({ udp: [{ host, port: 0 }] });
  const aIn = new Inbox(a);
  const bIn = new Inbox(b);
  const aAddr = (await a.start()).udp[0]!;
  const bAddr = (await b.start()).udp[0]!;
  assert.equal(aAddr.address, host);
  try {
    assert.equal(await a.send({ transport: 'udp', address: host, port: bAddr.port }, sipRequest('u1', 500)), null);
    const m = await bIn.next();
    assert.deepEqual(m.data, sipRequest('u1', 500));
    assert.deepEqual([m.transport, m.flow, m.remote.address, m.remote.port, m.local.port], ['udp', null, host, aAddr.port, bAddr.port]);
    // The reply goes to where the request came from, i.e. a's listening socket.
    await b.send({ transport: 'udp', address: m.remote.address, port: m.remote.port }, sipResponse('u1'));
    const r = await aIn.next();
    assert.equal(tagOf(r.data), 'u1');
    assert.equal(r.remote.port, bAddr.port);
  } finally {
    await a.stop();
    await b.stop();
  }
}

/** A transport listening on 127.0.0.1 (ephemeral port), its inbox, and a plain UDP socket to send from. */
async function withListener(fn: (t: Transport, inbox: Inbox, port: number, sender: dgram.Socket) => Promise<void>): Promise<void> {
  const t = new Transport({ udp: [{ host: '127.0.0.1', port: 0 }] });
  const inbox = new Inbox(t);
  const port = (await t.start()).udp[0]!.port;
  const sender = dgram.createSocket('udp4');
  try {
    await fn(t, inbox, port, sender);
  } finally {
    sender.close();
    await t.stop();
  }
}

describe('UDP', () => {
  it('with reusePort, port 0 never lands on a port another process\'s SO_REUSEPORT socket holds (its datagrams would be split with it)', async () => {
    // Another process of the same user (here: sockets of this one) holding 2,000 reuseport ports. The
    // kernel's UDP autobind would put about 1 in 14 of 200 such listeners on one of them (e^-14 to see none).
    const strangers: dgram.Socket[] = [];
    const held = new Set<number>();
    try {
      for (let i = 0; i < 2000; i++) {
        const s = dgram.createSocket({ type: 'udp4', reusePort: true });
        await new Promise<void>((r) => s.bind({ address: '127.0.0.1', port: 0, exclusive: true }, () => r()));
        strangers.push(s);
        held.add(s.address().port);
      }
      const landed: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t = new Transport({ udp: [{ host: '127.0.0.1', port: 0 }], reusePort: true });
        const port = (await t.start()).udp[0]!.port;
        await t.stop();
        if (held.has(port)) landed.push(port);
      }
      assert.deepEqual(landed, [], 'no listener on a port a stranger holds');
    } finally {
      for (const s of strangers) s.close();
    }
  });

  it('sends and receives both ways over IPv4 loopback, one datagram = one message', async () => {
    await pingPong('127.0.0.1');
  });

  it('does the same over ::1 when the machine has IPv6 loopback, else refuses to bind it', async () => {
    if (await ipv6LoopbackAvailable()) {
      await pingPong('::1');
    } else {
      // The chosen fallback: a configured IPv6 listener that cannot bind fails start() loudly.
      const t = new Transport({ udp: [{ host: '::1', port: 0 }] });
      await assert.rejects(t.start(), { code: 'SIPS_ERR_TRANSPORT_LISTEN' });
    }
  });

  it('refuses datagrams over the UDP size limit and destinations of a family it has no socket for', async () => {
    const t = new Transport({ udp: [{ host: '127.0.0.1', port: 0 }], limits: { maxDatagramSize: 1_300 } });
    await t.start();
    try {
      await assert.rejects(t.send({ transport: 'udp', address: '127.0.0.1', port: 9 }, sipRequest('big', 2_000)), (e: unknown) => {
        assert.ok(e instanceof TransportError);
        assert.deepEqual([e.code, e.reason], ['SIPS_ERR_TRANSPORT_TOO_LARGE', 'datagram-too-large']);
        return true;
      });
      await assert.rejects(t.send({ transport: 'udp', address: '::1', port: 9 }, sipRequest('v6')), { code: 'SIPS_ERR_TRANSPORT_NO_SOCKET' });
    } finally {
      await t.stop();
    }
  });

  it('sendNoWait: delivers like send, and reports what send would reject with, never synchronously', () =>
    withListener(async (t, inbox, port) => {
      const failures: unknown[] = [];
      const onFailure = (err: unknown): void => void failures.push(err);
      t.sendNoWait({ transport: 'udp', address: '127.0.0.1', port }, sipRequest('nowait'), onFailure);
      assert.equal(tagOf((await inbox.next()).data), 'nowait');
      // EACCES from the kernel (broadcast without SO_BROADCAST), a family with no socket, too large,
      // an unknown flow: each reported once, after this turn, as a TransportError with send's code.
      const big = Buffer.alloc(70_000, 0x41);
      t.sendNoWait({ transport: 'udp', address: '255.255.255.255', port: 9 }, sipRequest('bcast'), onFailure);
      t.sendNoWait({ transport: 'udp', address: '::1', port: 9 }, sipRequest('v6'), onFailure);
      t.sendNoWait({ transport: 'udp', address: '127.0.0.1', port: 9 }, big, onFailure);
      t.sendNoWait('no-such-flow', sipRequest('flow'), onFailure);
      assert.equal(failures.length, 0, 'a failure was reported synchronously');
      const deadline = Date.now() + 5_000;
      while (failures.length < 4 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      const codes = failures.map((e) => (e instanceof TransportError ? e.code : String(e))).sort();
      assert.deepEqual(codes, ['SIPS_ERR_TRANSPORT_NO_FLOW', 'SIPS_ERR_TRANSPORT_NO_SOCKET', 'SIPS_ERR_TRANSPORT_SEND', 'SIPS_ERR_TRANSPORT_TOO_LARGE']);
    }));

  it('drops CRLF keep-alive datagrams instead of handing them up', () =>
    withListener(async (t, inbox, port, raw) => {
      const dropped = nextEvent(t, 'datagramDropped');
      raw.send('\r\n\r\n', port, '127.0.0.1');
      assert.equal((await dropped).reason, 'keepalive');
      raw.send(sipRequest('after'), port, '127.0.0.1');
      assert.equal(tagOf((await inbox.next()).data), 'after');
      assert.equal(t.stats().datagramsDropped, 1);
    }));

  it('counts a loop turn that reads a full poll of queued datagrams (the loop-busy shed\'s sign of falling behind), and none while it keeps up', () =>
    withListener(async (_t, inbox, port, sender) => {
      // Kept up with: one datagram at a time, each read and its turn over before the next leaves
      // (sent from within the read callback, it would be read in the same turn: libuv keeps reading).
      const calm = udpTurnTotals();
      for (let i = 0; i < 40; i++) {
        await new Promise<void>((resolve, reject) => sender.send(sipRequest(`calm${i}`), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
        await inbox.next();
        await new Promise((resolve) => setImmediate(resolve));
      }
      const calmEnd = udpTurnTotals();
      assert.ok(calmEnd.turns - calm.turns >= 40, `${calmEnd.turns - calm.turns} turns for 40 datagrams`);
      assert.equal(calmEnd.fullTurns - calm.fullTurns, 0);
      // Fallen behind: 100 datagrams (well inside a default receive buffer) queue while this loop is
      // blocked (a child process sends them and exits before execFileSync returns); libuv then reads
      // them 32 per turn: three full turns and one of four.
      const script = `const s = require('node:dgram').createSocket('udp4'); let n = 0;
        for (let i = 0; i < 100; i++) s.send(Buffer.from(${JSON.stringify(sipRequest('burst').toString('latin1'))}, 'latin1'), ${port}, '127.0.0.1', () => { if (++n === 100) s.close(); });`;
      execFileSync(process.execPath, ['-e', script]);
      await inbox.take(100);
      const burst = udpTurnTotals();
      const full = burst.fullTurns - calmEnd.fullTurns;
      assert.equal(full, Math.floor(100 / UDP_READS_PER_POLL), `${full} full turns of ${burst.turns - calmEnd.turns}`);
    }));
});

