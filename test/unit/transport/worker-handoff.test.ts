import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { DIVIDED_AMONG_WORKERS, DEFAULT_LIMITS, limitsPerWorker, type Limits } from '../../../src/config/limits.js';
import { aggregatedMetrics, createMetrics } from '../../../src/observability/metrics.js';
import { newBranch, setBranchWorker, workerOfBranch } from '../../../src/proxy/branch.js';
import type { ReceivedMessage } from '../../../src/transport/types.js';
import { endpoint } from '../../../src/transport/types.js';
import { ringNext, WorkerHandoff, workerOfFlow } from '../../../src/transport/worker-handoff.js';
import { WorkerRouting } from '../../../src/worker-routing.js';
import type { SipMessage } from '../../../src/message/message.js';
import type { PeerAddress } from '../../../src/transport/types.js';

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

test('CANCEL ring: the next slot after self (wrapping), skipping unreachable ones, until every other worker has been asked', () => {
  // Two workers: one hop each way, then the second processes it.
  assert.equal(ringNext(1, [2], 0), 2);
  assert.equal(ringNext(2, [1], 0), 1);
  assert.equal(ringNext(2, [1], 1), null);
  // Three: 1 -> 2 -> 3 (stop), 3 -> 1 -> 2 (stop), 2 -> 3 -> 1 (stop).
  assert.deepEqual([ringNext(1, [2, 3], 0), ringNext(2, [1, 3], 1), ringNext(3, [1, 2], 2)], [2, 3, null]);
  assert.deepEqual([ringNext(3, [1, 2], 0), ringNext(1, [2, 3], 1), ringNext(2, [3, 1], 2)], [1, 2, null]);
  assert.deepEqual([ringNext(2, [3, 1], 0), ringNext(3, [1, 2], 1), ringNext(1, [2, 3], 2)], [3, 1, null]);
  // Slot 2 restarting (not in the map): 1 -> 3, which is the last.
  assert.equal(ringNext(1, [3], 0), 3);
  assert.equal(ringNext(3, [1], 1), null);
  // Alone, or self listed among the peers: no ring.
  assert.equal(ringNext(1, [], 0), null);
  assert.equal(ringNext(1, [1, 2], 1), null);
  // The hop count is one byte.
  const many = Array.from({ length: 299 }, (_, i) => i + 2);
  assert.equal(ringNext(1, many, 254), 2);
  assert.equal(ringNext(1, many, 255), null);
});

test('a CANCEL handed round three workers keeps its bytes, remote, listener and flow id; the hop count grows by one a worker and ends the ring', async () => {
  const arrived: { slot: number; m: ReceivedMessage; hops: number }[] = [];
  let wake = (): void => undefined;
  const workers = [1, 2, 3].map((slot) => new WorkerHandoff({
    self: slot,
    clock,
    deliver: (m, hops) => { arrived.push({ slot, m, hops }); wake(); },
    sendOnFlow: () => undefined,
  }));
  const ports = await Promise.all(workers.map((w) => w.start()));
  const map = ports.map((p, i) => [i + 1, p] as const);
  for (const w of workers) w.setPeers(map);
  const next = (n: number): Promise<void> => new Promise((r) => { wake = () => { if (arrived.length >= n) r(); }; wake(); });
  const data = Buffer.from('CANCEL sip:1@x SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKabc\r\n\r\n', 'latin1');
  const m: ReceivedMessage = {
    data, transport: 'tcp', remote: endpoint('10.0.0.1', 40123), local: endpoint('127.0.0.1', 5060), receivedAt: 0,
    flow: { id: 'w3-tcp-9', transport: 'tcp', direction: 'inbound', local: endpoint('127.0.0.1', 5060), remote: endpoint('10.0.0.1', 40123), tls: null, createdAt: 0, lastActivityAt: 0 },
  };
  // It arrived on worker 3, which does not hold the INVITE: 3 -> 1 -> 2.
  assert.equal(workers[2]!.passRing('cancel', m, 0), true);
  await next(1);
  assert.deepEqual([arrived[0]!.slot, arrived[0]!.hops], [1, 1]);
  assert.equal(workers[0]!.passRing('cancel', arrived[0]!.m, arrived[0]!.hops), true);
  await next(2);
  const last = arrived[1]!;
  assert.deepEqual([last.slot, last.hops], [2, 2]);
  assert.equal(workers[1]!.passRing('cancel', last.m, last.hops), false, 'every other worker has been asked: worker 2 answers it');
  assert.deepEqual(last.m.data, data);
  assert.deepEqual([last.m.remote, last.m.local, last.m.transport, last.m.flow?.id], [m.remote, m.local, 'tcp', 'w3-tcp-9']);
  assert.deepEqual(workers.map((w) => [w.sent.cancel, w.received.cancel]), [[1, 1], [0, 1], [1, 0]]);
  assert.deepEqual(workers.map((w) => w.failed), [0, 0, 0]);
  for (const w of workers) await w.close();
});

/**
 * Three WorkerRoutings on real handoff sockets, each knowing the others; `holds` says which worker
 * holds a CANCEL's or ACK's transaction. 127.0.0.9 is a stranger to access control. Messages come
 * in from 127.0.0.1:40999 (or `address`) on the UDP listener 5060.
 */
async function ringRig(holds: (slot: number, request: SipMessage) => boolean) {
  const delivered: { slot: number; msg: SipMessage; source: PeerAddress }[] = [];
  let wake = (): void => undefined;
  const routings = [1, 2, 3].map((slot) => new WorkerRouting({
    slot,
    clock,
    receiveBufferBytes: 65_536,
    insideListeners: [{ transport: 'udp', port: 5060 }],
    receiver: {
      messageLimits: {},
      agent: 'test',
      deliver: (msg, source) => { delivered.push({ slot, msg, source }); wake(); },
      reply: () => undefined,
      mayAnswerMalformed: () => false,
    },
    holds: (r) => holds(slot, r),
    knownSource: (source) => source.address !== '127.0.0.9',
    writeOnFlow: () => Promise.resolve(),
  }));
  const ports = await Promise.all(routings.map(async (r) => { await r.start(); return r.handoff.port; }));
  for (const r of routings) r.handoff.setPeers(ports.map((p, i) => [i + 1, p] as const));
  const next = (n: number): Promise<void> => new Promise((r) => { wake = () => { if (delivered.length >= n) r(); }; wake(); });
  const from = (data: Buffer, address = '127.0.0.1'): ReceivedMessage => ({ data, flow: null, transport: 'udp', remote: endpoint(address, 40999), local: endpoint('127.0.0.1', 5060), receivedAt: 0 });
  return { routings, delivered, next, from };
}

test('WorkerRouting: a CANCEL whose INVITE is on another worker goes round the ring to it and is delivered there stamped with its real source; one held nowhere is answered by the last worker asked', async () => {
  const cancel = (branch: string): Buffer => Buffer.from(
    `CANCEL sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=${branch};rport\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:1@x>\r\n`
    + 'Call-ID: c1\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n', 'latin1');
  // The INVITE z9hG4bKheld sits on worker 3 only; worker 2 holds only the CANCEL z9hG4bKdone's own
  // transaction (its INVITE has ended).
  const { routings, delivered, next, from } = await ringRig((slot, c) => (slot === 3 && c.via().branch === 'z9hG4bKheld') || (slot === 2 && c.via().branch === 'z9hG4bKdone'));

  routings[0]!.receive(from(cancel('z9hG4bKheld')));
  await next(1);
  assert.equal(delivered[0]!.slot, 3, 'delivered where the INVITE is (1 -> 2 -> 3)');
  assert.equal(delivered[0]!.source.port, 40999);
  assert.equal(delivered[0]!.msg.via().rport, 40999, 'Via stamped with the CANCEL\'s own source port (RFC 3581)');
  routings[1]!.receive(from(cancel('z9hG4bKnowhere')));
  await next(2);
  assert.equal(delivered[1]!.slot, 1, 'held nowhere: 2 -> 3 -> 1, which processes it (481)');
  // Held where it arrived: no handoff.
  routings[2]!.receive(from(cancel('z9hG4bKheld')));
  await next(3);
  assert.equal(delivered[2]!.slot, 3);
  assert.deepEqual(routings.map((r) => r.handoff.sent.cancel), [1, 2, 1]);
  // A stranger's CANCEL (its INVITE was never a call) costs no handoff: processed where it landed.
  routings[0]!.receive(from(cancel('z9hG4bKheld'), '127.0.0.9'));
  await next(4);
  assert.equal(delivered[3]!.slot, 1);
  assert.deepEqual(routings.map((r) => r.handoff.sent.cancel), [1, 2, 1], 'no cancel handoff for a stranger');
  // A retransmitted CANCEL whose INVITE has ended stops at the worker holding the CANCEL's own
  // transaction (1 -> 2), which resends its 200; it never goes on to 3 for a 481.
  routings[0]!.receive(from(cancel('z9hG4bKdone')));
  await next(5);
  assert.equal(delivered[4]!.slot, 2);
  assert.deepEqual(routings.map((r) => r.handoff.sent.cancel), [2, 2, 1]);
  for (const r of routings) await r.close();
});

test('WorkerRouting: a non-2xx ACK from another source than its INVITE goes round the ring to the worker holding the INVITE (§17.2.3); a 2xx ACK on the edge\'s route set never rings; a stranger\'s stays where it landed', async () => {
  const ack = (branch: string, route = ''): Buffer => Buffer.from(
    `ACK sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=${branch};rport\r\n${route}From: <sip:a@x>;tag=1\r\nTo: <sip:1@x>;tag=2\r\n`
    + 'Call-ID: c1\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n', 'latin1');
  let asked = 0;
  // The INVITE z9hG4bKrejected (486 sent, waiting for its ACK) sits on worker 2 only.
  const { routings, delivered, next, from } = await ringRig((slot, r) => { asked++; return slot === 2 && r.method === 'ACK' && r.via().branch === 'z9hG4bKrejected'; });

  routings[0]!.receive(from(ack('z9hG4bKrejected')));
  await next(1);
  assert.equal(delivered[0]!.slot, 2, 'absorbed where its INVITE server transaction is (1 -> 2)');
  assert.equal(delivered[0]!.source.port, 40999);
  routings[2]!.receive(from(ack('z9hG4bKstray')));
  await next(2);
  assert.equal(delivered[1]!.slot, 2, 'held nowhere: 3 -> 1 -> 2, which drops it');
  assert.deepEqual(routings.map((r) => r.handoff.sent.ack), [2, 0, 1]);
  // The ACK for a 2xx follows our Record-Route: processed where it landed, no lookup, no handoff.
  asked = 0;
  routings[0]!.receive(from(ack('z9hG4bKnew', 'Route: <sip:127.0.0.1:5060;transport=udp;lr;r2=on;se=i;sg=abc>\r\n')));
  await next(3);
  assert.equal(delivered[2]!.slot, 1);
  assert.equal(asked, 0, 'a 2xx ACK costs no transaction lookup');
  // A stranger's ACK: processed where it landed.
  routings[0]!.receive(from(ack('z9hG4bKrejected'), '127.0.0.9'));
  await next(4);
  assert.equal(delivered[3]!.slot, 1);
  assert.deepEqual(routings.map((r) => r.handoff.sent.ack), [2, 0, 1], 'no ack handoff for a 2xx ACK or a stranger');
  assert.deepEqual(routings.map((r) => r.handoff.failed), [0, 0, 0]);
  for (const r of routings) await r.close();
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
