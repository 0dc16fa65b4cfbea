import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { DIVIDED_AMONG_WORKERS, DEFAULT_LIMITS, limitsPerWorker, type Limits } from '../../../src/config/limits.js';
import { aggregatedMetrics, createMetrics } from '../../../src/observability/metrics.js';
import { newBranch, setBranchWorker, workerOfBranch } from '../../../src/proxy/branch.js';
import type { ReceivedMessage } from '../../../src/transport/types.js';
import { endpoint } from '../../../src/transport/types.js';
import { WorkerHandoff, workerOfFlow } from '../../../src/transport/worker-handoff.js';

import { systemClock as clock } from '../../../src/clock.js';

test('branches carry the worker slot; workerOfBranch reads it back, null for other elements\' branches', () => {
  setBranchWorker(7);
  assert.equal(workerOfBranch(newBranch('0123456789ab')), 7);
  setBranchWorker(0);
  assert.equal(workerOfBranch(newBranch('0123456789ab')), 0);
  assert.equal(workerOfBranch('z9hG4bK776asdhds'), null);
  assert.equal(workerOfBranch('z9hG4bKse.x.y'), null);
  assert.equal(workerOfBranch(null), null);
});

test('flow ids name their worker: w2-tls-7 -> 2; ids without a prefix -> null', () => {
  assert.equal(workerOfFlow('w2-tls-7'), 2);
  assert.equal(workerOfFlow('w64-tcp-1'), 64);
  assert.equal(workerOfFlow('tls-7'), null);
  assert.equal(workerOfFlow('w-tls-7'), null);
});

test('a handed message arrives at its owner with the same bytes, remote, listener and flow id; datagrams from a non-worker port are refused', async () => {
  const got: ReceivedMessage[] = [];
  const sent: [string, Buffer][] = [];
  const a = new WorkerHandoff({ self: 1, clock, deliver: (m) => got.push(m), sendOnFlow: () => undefined });
  const b = new WorkerHandoff({ self: 2, clock, deliver: (m) => got.push(m), sendOnFlow: (id, d) => sent.push([id, Buffer.from(d)]) });
  const pa = await a.start();
  const pb = await b.start();
  a.setPeers([[1, pa], [2, pb]]);
  b.setPeers([[1, pa], [2, pb]]);
  const data = Buffer.from('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKse1.x.y\r\n\r\n', 'latin1');
  const m: ReceivedMessage = { data, flow: null, transport: 'udp', remote: endpoint('127.0.0.9', 5090), local: endpoint('127.0.0.1', 5060), receivedAt: 0 };
  assert.equal(b.passReceived(1, 'response', m), true);
  assert.equal(a.passFlowSend(2, 'w2-tls-3', Buffer.from('BYE')), true);
  assert.equal(a.passReceived(3, 'request', m), false, 'no such worker: processed where it is');
  const stranger = dgram.createSocket('udp4');
  await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
  stranger.send(Buffer.concat([Buffer.from([1, 0, 0, 1, 0, 1, 1, 1, 0]), Buffer.from('xy'), data]), pa, '127.0.0.1');
  for (let i = 0; i < 100 && (got.length < 1 || sent.length < 1 || a.failed < 1); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.data, data);
  assert.deepEqual([got[0]!.remote, got[0]!.local, got[0]!.transport, got[0]!.flow], [m.remote, m.local, 'udp', null]);
  assert.deepEqual(sent, [['w2-tls-3', Buffer.from('BYE')]]);
  assert.equal(a.failed, 1, 'the stranger\'s datagram was refused');
  assert.deepEqual([b.sent.response, a.sent['flow-send'], a.received.response], [1, 1, 1]);
  stranger.close();
  await a.close();
  await b.close();
});

test('limits: global budgets are divided among the workers (ceil, 0 stays 0), per-source and per-connection limits are not', () => {
  const l: Limits = { ...DEFAULT_LIMITS };
  const w = limitsPerWorker(l, 3);
  assert.equal(w.maxTransactions, Math.ceil(500_000 / 3));
  assert.equal(w.maxPendingPerTrunk, Math.ceil(2_500 / 3));
  assert.equal(w.unknownSourceConnectionsPerListener, 0);
  assert.equal(w.knownSourceRequestRate, l.knownSourceRequestRate);
  assert.equal(w.maxMessageSize, l.maxMessageSize);
  assert.equal(w.maxWriteBuffer, l.maxWriteBuffer);
  for (const k of DIVIDED_AMONG_WORKERS) assert.ok(w[k] <= l[k]);
  assert.equal(limitsPerWorker(l, 1), l);
});

test('aggregated /metrics: counters sum over workers, upstream_up takes the max (never 2), certificate expiry the min', async () => {
  const parts = [];
  for (const days of [10, 20]) {
    const m = createMetrics({ processMetrics: false, now: () => 0 });
    m.requests.inc({ method: 'INVITE', direction: 'outbound' }, 3);
    m.setUpstreamUp('euc1', 'lb01', true);
    m.setCertificateExpiry('edge', 'edge.pem', new Date(days * 86_400_000));
    parts.push(await m.json());
  }
  const text = await aggregatedMetrics(parts);
  assert.match(text, /^sips_edge_requests_total\{method="INVITE",direction="outbound"\} 6$/m);
  assert.match(text, /^sips_edge_upstream_up\{region="euc1",host="lb01"\} 1$/m);
  assert.match(text, new RegExp(`^sips_edge_certificate_expiry_seconds\\{name="edge",file="edge.pem"\\} ${10 * 86_400}$`, 'm'));
});
