import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TLS_DEST, UDP_DEST, harness, recordClient, settle } from '../../helpers/transaction-fakes.js';
import { request, responseTo } from '../../helpers/transaction-messages.js';

function outboundInvite(transport: 'UDP' | 'TLS' = 'UDP') {
  return request({
    viaHost: 'edge.example.com',
    transport,
    branch: 'z9hG4bK-ic-1',
    lowerVias: ['SIP/2.0/UDP pbx.example.net:5060;branch=z9hG4bK-pbx-1'],
    routes: ['<sip:lb01.euc1.example.com;transport=tls;lr>'],
  });
}

test('INVITE client over UDP: Timer A retransmits at 500, 1500, 3500 ... ms, Timer B times out at 32 s', () => {
  const h = harness();
  const rec = recordClient();
  const tx = h.layer.createClient(outboundInvite(), UDP_DEST, rec.handlers);
  assert.equal(tx.state, 'Calling');
  assert.equal(tx.kind, 'invite-client');
  assert.deepEqual(h.transport.times('INVITE'), [0]);
  h.clock.advance(31_999);
  assert.deepEqual(h.transport.times('INVITE'), [0, 500, 1500, 3500, 7500, 15500, 31500]);
  assert.equal(rec.timeouts, 0);
  h.clock.advance(1);
  assert.equal(rec.timeouts, 1);
  assert.equal(tx.state, 'Terminated');
  assert.equal(rec.terminated, 1);
  assert.equal(h.layer.activeCounts().inviteClient, 0);
  h.clock.advance(100_000);
  assert.equal(h.transport.sent.length, 7);
  assert.equal(h.clock.pending, 0);
});

test('INVITE client: a 1xx stops Timer A and Timer B, goes to Proceeding and is passed up', () => {
  const h = harness();
  const rec = recordClient();
  const invite = outboundInvite();
  const tx = h.layer.createClient(invite, UDP_DEST, rec.handlers);
  h.clock.advance(600);
  h.layer.receive(responseTo(invite, 180), { transport: 'udp', address: '198.51.100.7', port: 5060, localAddress: '203.0.113.1', localPort: 5060 });
  assert.equal(tx.state, 'Proceeding');
  assert.equal(rec.responses.length, 1);
  h.clock.advance(60_000);
  assert.deepEqual(h.transport.times('INVITE'), [0, 500]);
  assert.equal(rec.timeouts, 0, 'no Timer B in Proceeding (the proxy runs Timer C)');
  h.layer.receive(responseTo(invite, 183), src());
  assert.equal(rec.responses.length, 2);
  assert.equal(tx.state, 'Proceeding');
});

test('INVITE client: 486 -> ACK built per §17.1.1.3, Completed; retransmitted 486 re-ACKed, not passed up; Timer D = 32 s', () => {
  const h = harness();
  const rec = recordClient();
  const invite = outboundInvite();
  const tx = h.layer.createClient(invite, UDP_DEST, rec.handlers);
  h.layer.receive(responseTo(invite, 100), src());
  const busy = responseTo(invite, 486, { toTag: 'busy-tag' });
  h.layer.receive(busy, src());
  assert.equal(tx.state, 'Completed');
  assert.deepEqual(rec.responses.map((r) => r.status), [100, 486]);
  const acks = h.transport.sent.filter((s) => s.label === 'ACK');
  assert.equal(acks.length, 1);
  const ack = acks[0]!.message;
  assert.equal(acks[0]!.dest, UDP_DEST);
  assert.equal(ack.requestUriText, invite.requestUriText);
  assert.deepEqual(ack.values('via'), ['SIP/2.0/UDP edge.example.com:5060;branch=z9hG4bK-ic-1'], 'only the top Via of the INVITE');
  assert.equal(ack.get('from'), invite.get('from'));
  assert.equal(ack.get('to'), busy.get('to'));
  assert.equal(ack.to().tag, 'busy-tag');
  assert.equal(ack.callId(), invite.callId());
  assert.deepEqual(ack.cseq(), { seq: 314159, method: 'ACK' });
  assert.deepEqual(ack.values('route'), ['<sip:lb01.euc1.example.com;transport=tls;lr>']);
  assert.equal(ack.maxForwards(), 69);
  assert.equal(ack.body.length, 0);

  h.clock.advance(1000);
  h.layer.receive(responseTo(invite, 486, { toTag: 'busy-tag' }), src());
  assert.equal(h.transport.times('ACK').length, 2, 'ACK resent on the retransmission');
  assert.equal(rec.responses.length, 2, 'retransmission not passed up');
  assert.deepEqual(h.transport.times('INVITE'), [0], 'no Timer A after the response');

  h.clock.advance(32_000 - 1001);
  assert.equal(tx.state, 'Completed');
  h.clock.advance(1);
  assert.equal(tx.state, 'Terminated');
  assert.equal(rec.terminated, 1);
  assert.equal(rec.timeouts, 0);
  // After Terminated the response is a stray (the proxy drops non-2xx strays).
  h.layer.receive(responseTo(invite, 486, { toTag: 'busy-tag' }), src());
  assert.equal(h.strays.length, 1);
});

test('INVITE client: 2xx -> Accepted, no ACK generated, 2xx retransmissions passed up, Timer M = 64*T1 ends it', () => {
  const h = harness();
  const rec = recordClient();
  const invite = outboundInvite();
  const tx = h.layer.createClient(invite, UDP_DEST, rec.handlers);
  h.clock.advance(200);
  h.layer.receive(responseTo(invite, 200), src());
  assert.equal(tx.state, 'Accepted');
  h.layer.receive(responseTo(invite, 200), src());
  h.layer.receive(responseTo(invite, 200, { toTag: 'other-fork' }), src());
  assert.deepEqual(rec.responses.map((r) => r.status), [200, 200, 200]);
  h.layer.receive(responseTo(invite, 180), src());
  h.layer.receive(responseTo(invite, 486), src());
  assert.equal(rec.responses.length, 3, 'non-2xx dropped in Accepted');
  assert.deepEqual(h.transport.labels(), ['INVITE'], 'no ACK and no retransmission');
  h.clock.advance(32_000 - 1);
  assert.equal(tx.state, 'Accepted');
  h.clock.advance(1);
  assert.equal(tx.state, 'Terminated');
  assert.equal(rec.timeouts, 0);
  h.layer.receive(responseTo(invite, 200), src());
  assert.equal(h.strays.length, 1, 'a 2xx after Timer M is a stray for the proxy to forward');
});

test('INVITE client: 2xx while Proceeding also goes to Accepted', () => {
  const h = harness();
  const rec = recordClient();
  const invite = outboundInvite();
  const tx = h.layer.createClient(invite, UDP_DEST, rec.handlers);
  h.layer.receive(responseTo(invite, 180), src());
  h.layer.receive(responseTo(invite, 200), src());
  assert.equal(tx.state, 'Accepted');
});

test('INVITE client over TLS: no Timer A, Timer B still 32 s, Timer D = 0', () => {
  const h = harness();
  const rec = recordClient();
  const invite = outboundInvite('TLS');
  const tx = h.layer.createClient(invite, TLS_DEST, rec.handlers);
  h.clock.advance(31_999);
  assert.deepEqual(h.transport.times('INVITE'), [0]);
  h.layer.receive(responseTo(invite, 503), src());
  assert.equal(h.transport.times('ACK').length, 1);
  assert.equal(tx.state, 'Terminated', 'Timer D is zero for reliable transports');
  assert.equal(rec.responses.length, 1);
  assert.equal(rec.terminated, 1);

  const rec2 = recordClient();
  const invite2 = request({ transport: 'TLS', viaHost: 'edge.example.com', branch: 'z9hG4bK-ic-2' });
  h.layer.createClient(invite2, TLS_DEST, rec2.handlers);
  h.clock.advance(32_000);
  assert.equal(rec2.timeouts, 1);
});

test('INVITE client: cancelTimers() stops Timer A but Timer B still ends it; terminate() ends it silently', () => {
  const h = harness();
  const rec = recordClient();
  const tx = h.layer.createClient(outboundInvite(), UDP_DEST, rec.handlers);
  h.clock.advance(600);
  tx.cancelTimers();
  h.clock.advance(20_000);
  assert.deepEqual(h.transport.times('INVITE'), [0, 500]);
  h.clock.advance(12_000);
  assert.equal(rec.timeouts, 1);

  const rec2 = recordClient();
  const tx2 = h.layer.createClient(request({ branch: 'z9hG4bK-ic-3' }), UDP_DEST, rec2.handlers);
  tx2.terminate();
  assert.equal(tx2.state, 'Terminated');
  assert.equal(rec2.terminated, 1);
  h.clock.advance(64_000);
  assert.equal(rec2.timeouts, 0);
  assert.equal(h.layer.size, 0);
});

test('INVITE client: a failed send -> onTransportError once, Terminated, no retransmissions', async () => {
  const h = harness();
  const rec = recordClient();
  h.transport.rejectAll = true;
  h.transport.reason = 'handshake-timeout';
  const tx = h.layer.createClient(outboundInvite('TLS'), TLS_DEST, rec.handlers);
  await settle();
  assert.equal(tx.state, 'Terminated');
  assert.equal(rec.failures.length, 1);
  assert.equal(rec.failures[0]!.reason, 'handshake-timeout');
  assert.match(rec.failures[0]!.message, /handshake-timeout/);
  assert.equal(rec.terminated, 1);
  h.clock.advance(64_000);
  await settle();
  assert.equal(rec.failures.length, 1);
  assert.equal(rec.timeouts, 0);
  assert.equal(h.transport.sent.length, 1);
});

test('INVITE client over UDP: several rejected retransmissions still report once', async () => {
  const h = harness();
  const rec = recordClient();
  const tx = h.layer.createClient(outboundInvite(), UDP_DEST, rec.handlers);
  h.transport.rejectAll = true;
  h.clock.advance(1500); // two retransmissions, both rejected
  await settle();
  assert.equal(tx.state, 'Terminated');
  assert.equal(rec.failures.length, 1);
});

test('createClient rejects ACK, requests without a branch and duplicate branches', () => {
  const h = harness();
  const rec = recordClient();
  assert.throws(() => h.layer.createClient(request({ method: 'ACK' }), UDP_DEST, rec.handlers), /ACK/);
  assert.throws(() => h.layer.createClient(request({ branch: null }), UDP_DEST, rec.handlers), /branch/);
  h.layer.createClient(request({ branch: 'z9hG4bK-dup' }), UDP_DEST, rec.handlers);
  assert.throws(() => h.layer.createClient(request({ branch: 'z9hG4bK-dup' }), UDP_DEST, rec.handlers), /exists/);
});

function src() {
  return { transport: 'udp', address: '198.51.100.7', port: 5060, localAddress: '203.0.113.1', localPort: 5060 } as const;
}
