/** Issue 11 #6, #7, #14 at unit level: the caps' reserve and shares, and a flow's guard timers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../../src/clock.js';
import { Flow, type FlowSettings } from '../../../src/transport/flow.js';
import { ConnectionCaps, ListenerSlots } from '../../../src/transport/flow-table.js';
import type { FlowCloseReason } from '../../../src/transport/types.js';
import { endpoint } from '../../../src/transport/types.js';
import { FakeSocket } from '../../helpers/transport-fake-socket.js';
import { sipRequest } from '../../helpers/transport-util.js';

describe('ConnectionCaps: listener, side and reserve', () => {
  it('unknown sources are refused when the listener admits none, and never take the reserve', () => {
    const closedCaps = new ConnectionCaps(100, 100, { unknownPerListener: 0 });
    const l = new ListenerSlots('outside-tls', 'outside');
    assert.equal(closedCaps.admitInbound('10.0.0.9', l, false), 'unknown-source');
    assert.equal(closedCaps.admitInbound('10.0.0.1', l, true), null);

    const caps = new ConnectionCaps(100, 100, { maxPerListener: 10, maxPerSide: { outside: 100, inside: 100 }, reserved: 3, unknownPerListener: 50 });
    const out = new ListenerSlots('outside-tls', 'outside');
    for (let i = 0; i < 7; i++) assert.equal(caps.admitInbound(`10.0.0.${10 + i}`, out, false), null);
    assert.equal(caps.admitInbound('10.0.0.99', out, false), 'reserved');
    for (let i = 0; i < 3; i++) assert.equal(caps.admitInbound('192.0.2.1', out, true), null);
    assert.equal(caps.admitInbound('192.0.2.1', out, true), 'max-per-listener');
    caps.release('10.0.0.10', out, false);
    assert.equal(out.connections, 9);
    assert.equal(out.unknown, 6);
    assert.equal(caps.admitInbound('10.0.0.99', out, false), 'reserved', 'one slot free, but it is in the reserve');
    assert.equal(caps.admitInbound('192.0.2.1', out, true), null);
    assert.equal(caps.rejected.reserved, 2);
  });

  it('a side\'s cap spans its listeners; the other side is untouched', () => {
    const caps = new ConnectionCaps(100, 100, { maxPerListener: 10, maxPerSide: { outside: 4, inside: 10 }, reserved: 0, unknownPerListener: 10 });
    const a = new ListenerSlots('inside-tcp', 'inside');
    const o1 = new ListenerSlots('outside-tls', 'outside');
    const o2 = new ListenerSlots('outside-tls6', 'outside');
    assert.equal(caps.admitInbound('1.1.1.1', o1), null);
    assert.equal(caps.admitInbound('1.1.1.2', o1), null);
    assert.equal(caps.admitInbound('1.1.1.3', o2), null);
    assert.equal(caps.admitInbound('1.1.1.4', o2), null);
    assert.equal(caps.admitInbound('1.1.1.5', o2), 'max-per-side');
    assert.equal(caps.admitInbound('1.1.1.5', a), null);
    assert.equal(caps.onSide('outside'), 4);
    assert.equal(caps.onSide('inside'), 1);
  });
});

const SETTINGS: FlowSettings = {
  idleTimeoutMs: 600_000,
  keepAliveIntervalMs: 0,
  keepAlivePongTimeoutMs: 0,
  writeHighWaterBytes: 100,
  writeCloseBytes: 10_000,
  endGraceMs: 1_000,
  firstMessageTimeoutMs: 5_000,
  writeStallMs: 2_000,
  halfOpenLingerMs: 30_000,
};

function inbound(settings: Partial<FlowSettings> = {}) {
  const clock = new VirtualClock();
  const socket = new FakeSocket();
  const closes: FlowCloseReason[] = [];
  const flow = new Flow(socket, { id: 'tcp-1', transport: 'tcp', direction: 'inbound', local: endpoint('127.0.0.1', 5060), remote: endpoint('127.0.0.1', 40000), tls: null }, {
    onMessage: () => {},
    onFramingError: () => {},
    onClose: (_f, reason) => closes.push(reason),
  }, { ...SETTINGS, ...settings }, clock);
  return { clock, socket, flow, closes };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Flow guards', () => {
  it('first-message timeout: pings do not count, a message does', async () => {
    const quiet = inbound();
    quiet.socket.receive('\r\n\r\n');
    quiet.clock.advance(5_000);
    await tick();
    assert.deepEqual(quiet.closes, ['first-message-timeout']);

    const talker = inbound();
    talker.socket.receive(sipRequest('a'));
    talker.clock.advance(5_000);
    await tick();
    assert.deepEqual(talker.closes, []);
  });

  it('write stall: paused and not drained within writeStallMs closes; a drain in time keeps it', async () => {
    const t = inbound();
    t.socket.receive(sipRequest('a'));
    t.socket.writableLength = 500;
    t.flow.send(Buffer.from('SIP/2.0 200 OK\r\n\r\n'));
    assert.equal(t.flow.paused, true);
    t.clock.advance(2_000);
    await tick();
    assert.deepEqual(t.closes, ['write-stalled']);

    const d = inbound();
    d.socket.receive(sipRequest('a'));
    d.socket.writableLength = 500;
    d.flow.send(Buffer.from('SIP/2.0 200 OK\r\n\r\n'));
    d.socket.writableLength = 0;
    d.socket.emit('drain');
    assert.equal(d.flow.paused, false);
    d.clock.advance(2_000);
    await tick();
    assert.deepEqual(d.closes, []);
  });

  it('one pong in flight; skipped pongs count toward the queue', async () => {
    const t = inbound({ writeHighWaterBytes: 10 });
    t.socket.receive(sipRequest('a'));
    t.socket.receive('\r\n\r\n'.repeat(3));
    assert.equal(t.socket.writes.filter((w) => w.toString() === '\r\n').length, 1);
    t.socket.receive('\r\n\r\n'.repeat(10));
    assert.equal(t.flow.paused, true, '2 bytes per skipped pong passed the high-water mark');
    await tick(); // the pong flushes: the peer reads, reading resumes
    assert.equal(t.flow.paused, false);
    t.socket.receive('\r\n\r\n');
    assert.equal(t.socket.writes.filter((w) => w.toString() === '\r\n').length, 2);
  });

  it('half-close: FIN with an answer owed waits for the final response, then ends', async () => {
    const t = inbound();
    t.socket.receive(sipRequest('a'));
    t.socket.emit('end');
    assert.equal(t.socket.ended, false);
    assert.equal(t.flow.send(Buffer.from('SIP/2.0 100 Trying\r\n\r\n')), true);
    assert.equal(t.socket.ended, false, 'a provisional response is not the answer owed');
    assert.equal(t.flow.send(Buffer.from('SIP/2.0 200 OK\r\n\r\n')), true);
    // Both answers are written, then FIN once that write completed.
    assert.equal(t.socket.writes.map((w) => w.toString('latin1')).join(''), 'SIP/2.0 100 Trying\r\n\r\nSIP/2.0 200 OK\r\n\r\n');
    await tick();
    assert.equal(t.socket.ended, true);
    assert.deepEqual(t.closes, ['half-closed']);

    const none = inbound();
    none.socket.emit('end');
    assert.equal(none.socket.ended, true, 'nothing owed: ends at once');
  });
});
