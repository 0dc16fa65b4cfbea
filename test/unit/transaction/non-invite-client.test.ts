import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TLS_DEST, UDP_DEST, harness, recordClient, settle } from '../../helpers/transaction-fakes.js';
import { request, responseTo } from '../../helpers/transaction-messages.js';
import type { PeerAddress } from '../../../src/transaction/types.js';

const SRC: PeerAddress = { transport: 'udp', address: '198.51.100.7', port: 5060, localAddress: '203.0.113.1', localPort: 5060 };

function options(branch = 'z9hG4bK-nic-1', transport: 'UDP' | 'TLS' = 'UDP') {
  return request({ method: 'OPTIONS', viaHost: 'edge.example.com', transport, branch, ruri: 'sip:lb01.euc1.example.com' });
}

test('non-INVITE client over UDP: Timer E doubles from T1 up to T2, Timer F times out at 64*T1', () => {
  const h = harness();
  const rec = recordClient();
  const tx = h.layer.createClient(options(), UDP_DEST, rec.handlers);
  assert.equal(tx.state, 'Trying');
  assert.equal(tx.kind, 'non-invite-client');
  h.clock.advance(31_999);
  // 500, +1000, +2000, +4000 (capped at T2), +4000 ...
  assert.deepEqual(h.transport.times('OPTIONS'), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  assert.equal(rec.timeouts, 0);
  h.clock.advance(1);
  assert.equal(rec.timeouts, 1);
  assert.equal(tx.state, 'Terminated');
  assert.equal(rec.terminated, 1);
  h.clock.advance(10_000);
  assert.equal(h.transport.sent.length, 11);
  assert.equal(h.clock.pending, 0);
});

test('non-INVITE client: a 1xx -> Proceeding, passed up; Timer E then paces at T2; F still times out', () => {
  const h = harness();
  const rec = recordClient();
  const req = options();
  const tx = h.layer.createClient(req, UDP_DEST, rec.handlers);
  h.clock.advance(100);
  h.layer.receive(responseTo(req, 100), SRC);
  assert.equal(tx.state, 'Proceeding');
  assert.equal(rec.responses.length, 1);
  h.clock.advance(13_000 - 100);
  // E fires at 500 (the running timer, now in Proceeding) and is reset to T2 from then on.
  assert.deepEqual(h.transport.times('OPTIONS'), [0, 500, 4500, 8500, 12500]);
  h.layer.receive(responseTo(req, 183), SRC);
  assert.equal(rec.responses.length, 2);
  h.clock.advance(19_000);
  assert.equal(rec.timeouts, 1, 'Timer F fires in Proceeding too');
  assert.equal(tx.state, 'Terminated');
});

test('non-INVITE client: a final response -> Completed, retransmissions absorbed, Timer K = T4 over UDP', () => {
  const h = harness();
  const rec = recordClient();
  const req = options();
  const tx = h.layer.createClient(req, UDP_DEST, rec.handlers);
  h.clock.advance(700);
  h.layer.receive(responseTo(req, 200), SRC);
  assert.equal(tx.state, 'Completed');
  h.layer.receive(responseTo(req, 200), SRC);
  assert.equal(rec.responses.length, 1);
  h.clock.advance(4_999);
  assert.equal(tx.state, 'Completed');
  assert.deepEqual(h.transport.times('OPTIONS'), [0, 500], 'no retransmission after the final');
  h.clock.advance(1);
  assert.equal(tx.state, 'Terminated');
  assert.equal(rec.terminated, 1);
  assert.equal(rec.timeouts, 0);
});

test('non-INVITE client: a final from Proceeding -> Completed', () => {
  const h = harness();
  const rec = recordClient();
  const req = options();
  const tx = h.layer.createClient(req, UDP_DEST, rec.handlers);
  h.layer.receive(responseTo(req, 100), SRC);
  h.layer.receive(responseTo(req, 404), SRC);
  assert.equal(tx.state, 'Completed');
  assert.deepEqual(rec.responses.map((r) => r.status), [100, 404]);
});

test('non-INVITE client over TLS: no Timer E, Timer K = 0 (Terminated at the final)', () => {
  const h = harness();
  const rec = recordClient();
  const req = options('z9hG4bK-nic-tls', 'TLS');
  const tx = h.layer.createClient(req, TLS_DEST, rec.handlers);
  h.clock.advance(10_000);
  assert.deepEqual(h.transport.times('OPTIONS'), [0]);
  h.layer.receive(responseTo(req, 200), SRC);
  assert.equal(tx.state, 'Terminated');
  assert.equal(rec.responses.length, 1);
  assert.equal(rec.terminated, 1);
  assert.equal(h.clock.pending, 0);
});

test('non-INVITE client: transport error -> onTransportError once, in Trying and in Proceeding', async () => {
  const h = harness();
  const rec = recordClient();
  h.transport.rejectNext();
  const tx = h.layer.createClient(options(), UDP_DEST, rec.handlers);
  await settle();
  assert.equal(tx.state, 'Terminated');
  assert.deepEqual(rec.failures.map((f) => f.reason), ['connect-refused']);
  assert.equal(rec.terminated, 1);

  const rec2 = recordClient();
  const req2 = options('z9hG4bK-nic-2');
  const tx2 = h.layer.createClient(req2, UDP_DEST, rec2.handlers);
  h.layer.receive(responseTo(req2, 100), SRC);
  h.transport.rejectAll = true;
  h.clock.advance(500); // E fires in Proceeding, the retransmission fails
  await settle();
  assert.equal(tx2.state, 'Terminated');
  assert.equal(rec2.failures.length, 1);
  h.clock.advance(64_000);
  await settle();
  assert.equal(rec2.failures.length, 1);
  assert.equal(rec2.timeouts, 0);
});

test('CANCEL client transaction shares the INVITE branch and matches its own responses by CSeq method', () => {
  const h = harness();
  const inv = recordClient();
  const can = recordClient();
  const invite = request({ viaHost: 'edge.example.com', branch: 'z9hG4bK-shared' });
  h.layer.createClient(invite, UDP_DEST, inv.handlers);
  h.layer.receive(responseTo(invite, 180), SRC);
  const cancel = request({ method: 'CANCEL', viaHost: 'edge.example.com', branch: 'z9hG4bK-shared' });
  const ctx = h.layer.createClient(cancel, UDP_DEST, can.handlers);
  assert.equal(ctx.kind, 'non-invite-client');
  h.layer.receive(responseTo(cancel, 200), SRC);
  h.layer.receive(responseTo(invite, 487), SRC);
  assert.deepEqual(can.responses.map((r) => r.status), [200]);
  assert.deepEqual(inv.responses.map((r) => r.status), [180, 487]);
  assert.deepEqual(h.layer.activeCounts(), { inviteClient: 1, nonInviteClient: 1, inviteServer: 0, nonInviteServer: 0 });
});
