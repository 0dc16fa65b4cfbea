import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../../src/clock.js';
import { Flow } from '../../../src/transport/flow.js';
import { ConnectionCaps, FlowTable } from '../../../src/transport/flow-table.js';
import { classifyConnectError } from '../../../src/transport/transport-error.js';
import { TransportEvents } from '../../../src/transport/transport-events.js';
import { endpoint } from '../../../src/transport/types.js';
import { FakeSocket } from '../../helpers/transport-fake-socket.js';

describe('ConnectionCaps', () => {
  it('admits up to the per-address cap, then rejects and counts', () => {
    const caps = new ConnectionCaps(10, 2);
    assert.equal(caps.admitInbound('10.0.0.1'), null);
    assert.equal(caps.admitInbound('10.0.0.1'), null);
    assert.equal(caps.admitInbound('10.0.0.1'), 'max-per-address');
    assert.equal(caps.admitInbound('10.0.0.2'), null);
    caps.release('10.0.0.1');
    assert.equal(caps.admitInbound('10.0.0.1'), null);
    assert.equal(caps.connections, 3);
    assert.equal(caps.rejected['max-per-address'], 1);
  });

  it('applies the global cap to inbound and outbound alike', () => {
    const caps = new ConnectionCaps(2, 100);
    assert.equal(caps.admitOutbound(), true);
    assert.equal(caps.admitInbound('10.0.0.1'), null);
    assert.equal(caps.admitInbound('10.0.0.3'), 'max-connections');
    assert.equal(caps.admitOutbound(), false);
    caps.release(null);
    assert.equal(caps.admitOutbound(), true);
    assert.equal(caps.rejected['max-connections'], 2);
  });
});

describe('FlowTable', () => {
  it('hands out prefixed ids and counts flows by direction and transport', () => {
    const table = new FlowTable('w1-');
    const clock = new VirtualClock();
    const hooks = { onMessage: () => {}, onFramingError: () => {}, onClose: () => {} };
    const settings = { idleTimeoutMs: 0, keepAliveIntervalMs: 0, keepAlivePongTimeoutMs: 0, writeHighWaterBytes: 1, writeCloseBytes: 2, endGraceMs: 1 };
    const mk = (transport: 'tcp' | 'tls', direction: 'inbound' | 'outbound'): Flow =>
      new Flow(new FakeSocket(), { id: table.nextId(transport), transport, direction, local: endpoint('127.0.0.1', 1), remote: endpoint('127.0.0.1', 2), tls: null }, hooks, settings, clock);
    const a = mk('tcp', 'inbound');
    const b = mk('tls', 'outbound');
    table.add(a);
    table.add(b);
    assert.deepEqual([a.id, b.id], ['w1-tcp-1', 'w1-tls-2']);
    assert.deepEqual(table.counts(), { total: 2, inbound: { tcp: 1, tls: 0 }, outbound: { tcp: 0, tls: 1 } });
    table.delete(a);
    assert.equal(table.get('w1-tcp-1'), undefined);
    assert.equal(table.size, 1);
  });
});

describe('endpoint', () => {
  it('shows IPv4-mapped IPv6 addresses as IPv4 and tags the family', () => {
    assert.deepEqual(endpoint('::ffff:10.1.2.3', 5061), { address: '10.1.2.3', port: 5061, family: 'IPv4' });
    assert.deepEqual(endpoint('::1', 5060), { address: '::1', port: 5060, family: 'IPv6' });
  });
});

describe('classifyConnectError', () => {
  it('maps OS error codes to short reasons', () => {
    const e = (code: string): Error => Object.assign(new Error(code), { code });
    assert.equal(classifyConnectError(e('ECONNREFUSED')), 'connect-refused');
    assert.equal(classifyConnectError(e('ENOTFOUND')), 'dns-failure');
    assert.equal(classifyConnectError(e('EWHATEVER')), 'connect-failed');
  });
});

describe('TransportEvents', () => {
  it('calls listeners in order, supports once and off', () => {
    const ev = new TransportEvents();
    const seen: string[] = [];
    const off = (): void => {
      seen.push('off');
    };
    ev.on('connectionRejected', (e) => seen.push(`a:${e.reason}`));
    ev.once('connectionRejected', (e) => seen.push(`once:${e.reason}`));
    ev.on('connectionRejected', off);
    ev.off('connectionRejected', off);
    const remote = endpoint('127.0.0.1', 1);
    ev.emit('connectionRejected', { reason: 'max-per-address', transport: 'tcp', remote });
    ev.emit('connectionRejected', { reason: 'max-connections', transport: 'tcp', remote });
    assert.deepEqual(seen, ['a:max-per-address', 'once:max-per-address', 'a:max-connections']);
  });
});
