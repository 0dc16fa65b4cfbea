import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../../src/clock.js';
import type { SipParseError } from '../../../src/message/parse-error.js';
import { Flow } from '../../../src/transport/flow.js';
import type { FlowSettings } from '../../../src/transport/flow.js';
import type { FlowCloseReason, FlowDirection } from '../../../src/transport/types.js';
import { endpoint } from '../../../src/transport/types.js';
import { FakeSocket } from '../../helpers/transport-fake-socket.js';
import { sipRequest, tagOf } from '../../helpers/transport-util.js';

const SETTINGS: FlowSettings = {
  idleTimeoutMs: 60_000,
  keepAliveIntervalMs: 0,
  keepAlivePongTimeoutMs: 0,
  writeHighWaterBytes: 1_000,
  writeCloseBytes: 10_000,
  endGraceMs: 1_000,
};

function setup(direction: FlowDirection, settings: Partial<FlowSettings> = {}) {
  const clock = new VirtualClock();
  const socket = new FakeSocket();
  const messages: Buffer[] = [];
  const framing: SipParseError[] = [];
  const closes: FlowCloseReason[] = [];
  const flow = new Flow(
    socket,
    { id: 'tcp-1', transport: 'tcp', direction, local: endpoint('127.0.0.1', 5060), remote: endpoint('127.0.0.1', 40000), tls: null },
    {
      onMessage: (_f, data) => messages.push(Buffer.from(data)),
      onFramingError: (_f, e) => framing.push(e),
      onClose: (_f, reason) => closes.push(reason),
    },
    { ...SETTINGS, ...settings },
    clock,
  );
  return { clock, socket, flow, messages, framing, closes };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
/** The Call-ID tags of every message in one write. */
const tagsOf = (w: Buffer): string[] => [...w.toString('latin1').matchAll(/Call-ID: ([^@]+)@/g)].map((m) => m[1]!);

describe('Flow', () => {
  it('sends the messages of one loop turn in one write, each whole and in order; the next turn starts another', async () => {
    const { socket, flow } = setup('outbound');
    const sent = ['a', 'b', 'c'].map((t) => sipRequest(t));
    for (const m of sent) assert.equal(flow.send(m), true);
    assert.equal(socket.writes.length, 0, 'held until the turn ends');
    await tick();
    assert.deepEqual(socket.writes, [Buffer.concat(sent)]);
    flow.send(sipRequest('d'));
    await tick();
    assert.deepEqual(socket.writes.map(tagsOf), [['a', 'b', 'c'], ['d']]);
  });

  it('keeps each write within one TLS record: a message that would pass 16,000 bytes starts the next write; a bigger one goes alone', async () => {
    const { socket, flow } = setup('outbound', { writeHighWaterBytes: 100_000, writeCloseBytes: 1_000_000 });
    const big = sipRequest('d', 20_000);
    for (const m of [sipRequest('a', 9_000), sipRequest('b', 9_000), sipRequest('c'), big]) flow.send(m);
    await tick();
    assert.deepEqual(socket.writes.map(tagsOf), [['a'], ['b', 'c'], ['d']]);
    assert.ok(socket.writes.slice(0, 2).every((w) => w.length <= 16_000));
    assert.deepEqual(socket.writes[2], big, 'never split by the flow');
  });

  it('hands the socket one write at a time: what comes meanwhile waits for the last write to complete', async () => {
    const { socket, flow } = setup('outbound');
    const pending: (() => void)[] = [];
    socket.write = function (this: FakeSocket, data: Uint8Array, cb?: (err?: Error | null) => void): boolean {
      this.writes.push(Buffer.from(data));
      if (cb) pending.push(() => cb(null));
      return true;
    };
    flow.send(sipRequest('a'));
    await tick();
    // Sent over two turns while a is being written: they wait, and leave together.
    flow.send(sipRequest('b'));
    await tick();
    flow.send(sipRequest('c'));
    await tick();
    assert.deepEqual(socket.writes.map(tagsOf), [['a']], 'a is still being written');
    pending.shift()!();
    assert.deepEqual(socket.writes.map(tagsOf), [['a'], ['b', 'c']]);
    flow.send(sipRequest('d'));
    await tick();
    assert.deepEqual(socket.writes.map(tagsOf), [['a'], ['b', 'c']], 'b and c are still being written');
    pending.shift()!();
    assert.deepEqual(socket.writes.map(tagsOf), [['a'], ['b', 'c'], ['d']]);
  });

  it('writes what the turn queued before a close destroys the socket, and before end() sends FIN', async () => {
    const c = setup('inbound');
    c.flow.send(sipRequest('last'));
    c.flow.close('local-close');
    assert.deepEqual(c.socket.writes.map(tagsOf), [['last']]);
    assert.equal(c.socket.destroyed, true);
    const e = setup('inbound');
    e.flow.send(sipRequest('one'));
    e.flow.send(sipRequest('two'));
    e.flow.end();
    assert.deepEqual(e.socket.writes.map(tagsOf), [['one', 'two']]);
    await tick();
    assert.equal(e.socket.ended, true);
  });

  it('frames whole messages from arbitrary chunks (RFC 3261 §18.3)', () => {
    const { socket, messages } = setup('inbound');
    const both = Buffer.concat([sipRequest('a', 20), sipRequest('b')]);
    for (let i = 0; i < both.length; i += 7) socket.receive(both.subarray(i, i + 7));
    assert.deepEqual(messages.map(tagOf), ['a', 'b']);
  });

  it('answers a CRLFCRLF ping with one CRLF (RFC 5626 §3.5.1)', () => {
    const { socket } = setup('inbound');
    socket.receive('\r\n\r\n');
    assert.deepEqual(socket.writes.map((w) => w.toString('latin1')), ['\r\n']);
  });

  it('closes on a framing error and reports it once', async () => {
    const { socket, flow, framing, closes } = setup('inbound');
    socket.receive('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n');
    assert.equal(framing[0]?.code, 'SIPS_ERR_PARSE_NO_CONTENT_LENGTH');
    assert.equal(socket.destroyed, true);
    assert.equal(flow.send(sipRequest('late')), false);
    await tick();
    assert.deepEqual(closes, ['framing-error']);
  });

  it('pings an idle outbound flow and closes it when no pong comes (RFC 5626 §4.4.1)', async () => {
    const { clock, socket, closes } = setup('outbound', { keepAliveIntervalMs: 30_000, keepAlivePongTimeoutMs: 10_000 });
    clock.advance(29_999);
    assert.equal(socket.writes.length, 0);
    clock.advance(1);
    assert.deepEqual(socket.writes.map((w) => w.toString('latin1')), ['\r\n\r\n']);
    clock.advance(9_999);
    assert.equal(socket.destroyed, false);
    clock.advance(1);
    assert.equal(socket.destroyed, true);
    await tick();
    assert.deepEqual(closes, ['keepalive-timeout']);
  });

  it('keeps an outbound flow that answers pings, and pings again after the interval', () => {
    const { clock, socket } = setup('outbound', { keepAliveIntervalMs: 30_000, keepAlivePongTimeoutMs: 10_000 });
    clock.advance(30_000);
    clock.advance(5_000);
    socket.receive('\r\n');
    clock.advance(20_000);
    assert.equal(socket.destroyed, false);
    assert.equal(socket.writes.length, 1);
    clock.advance(10_000);
    assert.equal(socket.writes.length, 2);
  });

  it('does not ping while messages arrive', () => {
    const { clock, socket } = setup('outbound', { keepAliveIntervalMs: 30_000, keepAlivePongTimeoutMs: 10_000 });
    for (let i = 0; i < 5; i++) {
      clock.advance(20_000);
      socket.receive(sipRequest(`m${i}`));
    }
    assert.equal(socket.writes.length, 0);
  });

  it('never pings on accepted flows', () => {
    const { clock, socket } = setup('inbound', { idleTimeoutMs: 0 });
    clock.advance(10 * 3_600_000);
    assert.equal(socket.writes.length, 0);
    assert.equal(socket.destroyed, false);
  });

  it('closes an idle flow after the idle timeout; traffic postpones it', async () => {
    const { clock, socket, closes } = setup('inbound', { idleTimeoutMs: 60_000 });
    clock.advance(50_000);
    socket.receive(sipRequest('keep'));
    clock.advance(50_000);
    assert.equal(socket.destroyed, false);
    clock.advance(10_000);
    assert.equal(socket.destroyed, true);
    await tick();
    assert.deepEqual(closes, ['idle-timeout']);
  });

  it('pauses reading above the write high-water mark and resumes on drain', () => {
    const { socket, flow } = setup('inbound');
    socket.writableLength = 1_500;
    flow.send(sipRequest('x'));
    assert.equal(socket.paused, true);
    assert.equal(flow.paused, true);
    socket.writableLength = 0;
    socket.emit('drain');
    assert.equal(socket.paused, false);
    assert.equal(flow.paused, false);
  });

  it('pauses and resumes as often as writes back up, with one drain listener for the flow\'s life', async () => {
    const { socket, flow } = setup('inbound');
    const listeners = socket.listenerCount('drain');
    for (let i = 0; i < 5; i++) {
      socket.writableLength = 1_500;
      flow.send(sipRequest(`x${i}`));
      assert.equal(flow.paused, true);
      socket.writableLength = 0;
      await tick(); // the queued write completes: reading resumes without a 'drain'
      assert.equal(flow.paused, false);
    }
    assert.equal(socket.listenerCount('drain'), listeners);
  });

  it('closes a flow whose peer does not read (write-overflow)', async () => {
    const { socket, flow, closes } = setup('inbound');
    socket.writableLength = 20_000;
    flow.send(sipRequest('x'));
    assert.equal(socket.destroyed, true);
    await tick();
    assert.deepEqual(closes, ['write-overflow']);
  });

  it('reports a peer close as peer-closed and a socket error as socket-error', async () => {
    const a = setup('inbound');
    a.socket.emit('close');
    const b = setup('inbound');
    b.socket.emit('error', new Error('ECONNRESET'));
    b.socket.emit('close');
    assert.deepEqual([a.closes, b.closes], [['peer-closed'], ['socket-error']]);
  });

  it('end() flushes and destroys, with a grace timer as backstop', async () => {
    const ok = setup('inbound');
    ok.flow.end();
    await tick();
    assert.equal(ok.socket.destroyed, true);
    const stuck = setup('inbound');
    stuck.socket.end = function (this: FakeSocket): FakeSocket {
      this.ended = true; // never calls back: the peer is not reading
      return this;
    };
    stuck.flow.end();
    assert.equal(stuck.socket.ended, true);
    assert.equal(stuck.socket.destroyed, false);
    stuck.clock.advance(1_000);
    assert.equal(stuck.socket.destroyed, true);
    await tick();
    assert.deepEqual([ok.closes, stuck.closes], [['shutdown'], ['shutdown']]);
  });
});
