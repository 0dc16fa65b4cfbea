import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildResponse } from '../../../src/message/build-response.js';
import { DEFAULT_TIMERS, type TimerConfig } from '../../../src/transaction/types.js';
import { harness, settle, tlsSource, udpSource } from '../../helpers/transaction-fakes.js';
import { ackFor, request } from '../../helpers/transaction-messages.js';

function inbound(transport: 'UDP' | 'TLS' = 'UDP', branch = 'z9hG4bK-pbx-1') {
  return request({ transport, branch, viaHost: 'pbx.example.net', viaPort: 5060 });
}

test('INVITE server: 100 Trying from the TU, request retransmission gets the last provisional', () => {
  const h = harness();
  const invite = inbound();
  h.layer.receive(invite, udpSource());
  assert.equal(h.requests.length, 1);
  const tx = h.requests[0]!.tx;
  assert.equal(tx.kind, 'invite-server');
  assert.equal(tx.state, 'Proceeding');
  assert.equal(h.transport.sent.length, 0, 'the transaction does not send 100 on its own');
  h.layer.receive(inbound(), udpSource());
  assert.equal(h.transport.sent.length, 0, 'retransmission before any provisional: nothing to resend');
  tx.respond(buildResponse(invite, 100));
  tx.respond(buildResponse(invite, 180, { toTag: 't1' }));
  h.layer.receive(inbound(), udpSource());
  assert.deepEqual(h.transport.labels(), ['100', '180', '180']);
  assert.equal(h.requests.length, 1, 'retransmission not passed up');
  assert.equal(tx.lastResponse?.status, 180);
  assert.deepEqual(h.transport.sent[0]!.dest, { transport: 'udp', address: '192.0.2.10', port: 5060 });
});

// RFC 3261 §17.2.1: "MUST generate a 100 (Trying) response unless it knows that the TU will generate a
// provisional or final response within 200 ms". timers.trying holds the TU's 100 back that long.
const HELD = { ...DEFAULT_TIMERS, trying: 100 };

/** A layer with these timers, one INVITE received and its transaction asked for the 100 Trying. */
function tryingAsked(timers: TimerConfig = HELD) {
  const h = harness({ timers });
  const invite = inbound();
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  tx.trying();
  return { h, invite, tx };
}

test('INVITE server, timers.trying 100: the 100 Trying goes when nothing else was sent by then, once', () => {
  const { h, invite, tx } = tryingAsked();
  tx.trying();
  h.clock.advance(99);
  assert.equal(h.transport.sent.length, 0, 'held back');
  h.clock.advance(1);
  assert.deepEqual(h.transport.times('100'), [100]);
  const sent = h.transport.sent[0]!.message;
  assert.equal(sent.status, 100);
  assert.equal(sent.to().tag, null, 'no To-tag on a 100 (§17.2.1)');
  assert.equal(sent.callId(), invite.callId());
  h.layer.receive(inbound(), udpSource());
  assert.deepEqual(h.transport.labels(), ['100', '100'], 'a retransmission gets the 100 as the last provisional');
  tx.respond(buildResponse(invite, 180, { toTag: 't1' }));
  h.clock.advance(1000);
  assert.deepEqual(h.transport.labels(), ['100', '100', '180']);
});

test('INVITE server, timers.trying 100: a response sent first makes the 100 moot (provisional or final)', () => {
  for (const status of [180, 200, 486]) {
    const { h, invite, tx } = tryingAsked();
    h.clock.advance(40);
    tx.respond(buildResponse(invite, status, { toTag: 't1' }));
    h.clock.advance(200);
    assert.equal(h.transport.times('100').length, 0, `no 100 after a ${status}`);
    assert.deepEqual(h.transport.times(String(status)).slice(0, 1), [40]);
  }
});

test('INVITE server, timers.trying 100: a retransmission of the INVITE releases the held 100 at once, and only once', () => {
  const { h } = tryingAsked();
  h.clock.advance(30);
  h.layer.receive(inbound(), udpSource());
  assert.deepEqual(h.transport.times('100'), [30]);
  h.clock.advance(500);
  assert.deepEqual(h.transport.times('100'), [30], 'the timer was cancelled');
  assert.equal(h.requests.length, 1);
});

test('INVITE server, timers.trying 0 (the layer default): the 100 Trying goes at once, once, with no timer', () => {
  const { h, tx } = tryingAsked(DEFAULT_TIMERS);
  assert.deepEqual(h.transport.labels(), ['100']);
  tx.trying();
  assert.deepEqual(h.transport.labels(), ['100'], 'once');
  assert.equal(h.clock.pending, 0, 'no timer');
});

test('non-INVITE server: trying() sends nothing (§16.2: SHOULD NOT)', () => {
  const h = harness({ timers: HELD });
  h.layer.receive(request({ method: 'OPTIONS', branch: 'z9hG4bK-opt-1' }), udpSource());
  h.requests[0]!.tx.trying();
  h.clock.advance(1000);
  assert.equal(h.transport.sent.length, 0);
});

test('INVITE server over UDP: 486 retransmitted by Timer G (T1 doubling, capped at T2), ACK -> Confirmed, Timer I = T4', () => {
  const h = harness();
  const invite = inbound();
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  const busy = buildResponse(invite, 486, { toTag: 'busy' });
  tx.respond(busy);
  assert.equal(tx.state, 'Completed');
  h.clock.advance(11_600);
  assert.deepEqual(h.transport.times('486'), [0, 500, 1500, 3500, 7500, 11500]);
  h.layer.receive(inbound(), udpSource());
  assert.equal(h.transport.times('486').length, 7, 'request retransmission gets the final');
  h.layer.receive(ackFor(invite, busy), udpSource());
  assert.equal(tx.state, 'Confirmed');
  assert.equal(h.acks.length, 0, 'the ACK for a non-2xx is absorbed');
  h.layer.receive(ackFor(invite, busy), udpSource());
  assert.equal(h.acks.length, 0, 'ACK retransmissions absorbed in Confirmed');
  h.clock.advance(20_000);
  assert.equal(h.transport.times('486').length, 7, 'Timer G stops in Confirmed');
  assert.equal(tx.state, 'Terminated', 'Timer I (5 s) fired');
  assert.deepEqual(tx.terminationCause, { kind: 'completed' });
  assert.equal(h.ended.length, 1);
  assert.equal(h.clock.pending, 0);
});

test('INVITE server: Timer I fires exactly at T4 after the ACK', () => {
  const h = harness();
  const invite = inbound();
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  const busy = buildResponse(invite, 486, { toTag: 'busy' });
  tx.respond(busy);
  h.clock.advance(100);
  h.layer.receive(ackFor(invite, busy), udpSource());
  h.clock.advance(4_999);
  assert.equal(tx.state, 'Confirmed');
  h.clock.advance(1);
  assert.equal(tx.state, 'Terminated');
});

test('INVITE server: Timer H (64*T1) without an ACK -> Terminated, TU told through the timeout cause', () => {
  const h = harness();
  const invite = inbound();
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(invite, 404));
  h.clock.advance(31_999);
  assert.equal(tx.state, 'Completed');
  h.clock.advance(1);
  assert.equal(tx.state, 'Terminated');
  assert.deepEqual(tx.terminationCause, { kind: 'timeout' });
  assert.deepEqual(h.ended, [tx]);
  // G: 500, 1500, 3500, 7500, then every 4 s up to 31500.
  assert.deepEqual(h.transport.times('404'), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  assert.equal(h.layer.activeCounts().inviteServer, 0);
  // A late ACK no longer matches anything: it is passed on as a stray ACK.
  h.layer.receive(ackFor(invite, tx.lastResponse!), udpSource());
  assert.equal(h.acks.length, 1);
  assert.equal(h.acks[0]!.tx, null);
});

test('INVITE server over TLS: no Timer G, the ACK ends it at once (Timer I = 0), responses go to the flow', () => {
  const h = harness();
  const invite = inbound('TLS');
  h.layer.receive(invite, tlsSource('flow-7'));
  const tx = h.requests[0]!.tx;
  const busy = buildResponse(invite, 486, { toTag: 'b' });
  tx.respond(busy);
  h.clock.advance(20_000);
  assert.deepEqual(h.transport.times('486'), [0]);
  assert.equal(h.transport.sent[0]!.dest.flowId, 'flow-7');
  assert.equal(h.transport.sent[0]!.dest.transport, 'tls');
  h.layer.receive(ackFor(invite, busy), tlsSource('flow-7'));
  assert.equal(tx.state, 'Terminated');
  assert.deepEqual(tx.terminationCause, { kind: 'completed' });
});

test('INVITE server over TLS: Timer H still 64*T1', () => {
  const h = harness();
  const invite = inbound('TLS');
  h.layer.receive(invite, tlsSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(invite, 603));
  h.clock.advance(32_000);
  assert.deepEqual(tx.terminationCause, { kind: 'timeout' });
});

test('INVITE server: 2xx -> Accepted; 2xx retransmissions from the TU sent; INVITE retransmissions absorbed; Timer L', () => {
  const h = harness();
  const invite = inbound();
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(invite, 180, { toTag: 'ok' }));
  const ok = buildResponse(invite, 200, { toTag: 'ok' });
  tx.respond(ok);
  assert.equal(tx.state, 'Accepted');
  h.clock.advance(2_000);
  assert.deepEqual(h.transport.labels(), ['180', '200'], 'the transaction does not retransmit 2xx itself');
  tx.respond(buildResponse(invite, 200, { toTag: 'ok' }));
  tx.respond(buildResponse(invite, 486, { toTag: 'ok' }));
  h.layer.receive(inbound(), udpSource());
  assert.deepEqual(h.transport.labels(), ['180', '200', '200'], '2xx from the TU sent; 486 and INVITE retransmission dropped');
  h.clock.advance(32_000 - 2_001);
  assert.equal(tx.state, 'Accepted');
  h.clock.advance(1);
  assert.equal(tx.state, 'Terminated');
  assert.deepEqual(tx.terminationCause, { kind: 'completed' });
});

test('INVITE server in Accepted: an ACK that matches the transaction is passed to the TU with it', () => {
  const h = harness();
  // RFC 2543 peer: the ACK for the 2xx matches the INVITE transaction by the fallback rules.
  const invite = request({ branch: null, viaHost: 'old-pbx.example.net' });
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  const ok = buildResponse(invite, 200, { toTag: 'ok-tag' });
  tx.respond(ok);
  h.layer.receive(ackFor(invite, ok), udpSource());
  assert.equal(h.acks.length, 1);
  assert.equal(h.acks[0]!.tx, tx);
  assert.equal(tx.state, 'Accepted');
});

test('INVITE server: an ACK for a 2xx with its own branch is passed on with no transaction', () => {
  const h = harness();
  const invite = inbound();
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  const ok = buildResponse(invite, 200, { toTag: 'ok' });
  tx.respond(ok);
  h.layer.receive(ackFor(invite, ok, { branch: 'z9hG4bK-new-ack' }), udpSource());
  assert.equal(h.acks.length, 1);
  assert.equal(h.acks[0]!.tx, null);
  assert.equal(tx.state, 'Accepted');
});

test('INVITE server: a failed response send terminates it and reports the failure', async () => {
  const h = harness();
  const invite = inbound('TLS');
  h.layer.receive(invite, tlsSource());
  const tx = h.requests[0]!.tx;
  h.transport.rejectNext();
  h.transport.reason = 'flow-gone';
  tx.respond(buildResponse(invite, 180, { toTag: 'x' }));
  await settle();
  assert.equal(tx.state, 'Terminated');
  assert.deepEqual(tx.terminationCause, { kind: 'transport-error', failure: { reason: 'flow-gone', message: 'send failed: flow-gone' } });
  assert.deepEqual(h.ended, [tx]);
  tx.respond(buildResponse(invite, 200, { toTag: 'x' }));
  assert.equal(h.transport.sent.length, 1, 'nothing sent after Terminated');
});

test('INVITE server: a failed send of the final in Completed (Timer G) terminates it', async () => {
  const h = harness();
  const invite = inbound();
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(invite, 486));
  h.transport.rejectAll = true;
  h.clock.advance(500);
  await settle();
  assert.equal(tx.terminationCause?.kind, 'transport-error');
  h.clock.advance(60_000);
  assert.equal(h.transport.times('486').length, 2);
});

test('INVITE server: terminate() by the TU stops everything', () => {
  const h = harness();
  const invite = inbound();
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(invite, 486));
  tx.terminate();
  h.clock.advance(60_000);
  assert.equal(h.transport.sent.length, 1);
  assert.deepEqual(tx.terminationCause, { kind: 'terminated-by-tu' });
  assert.equal(h.layer.size, 0);
});
