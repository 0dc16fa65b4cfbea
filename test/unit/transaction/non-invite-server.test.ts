import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildResponse } from '../../../src/message/build-response.js';
import { harness, settle, tlsSource, udpSource } from '../../helpers/transaction-fakes.js';
import { request } from '../../helpers/transaction-messages.js';

function register(transport: 'UDP' | 'TLS' = 'UDP') {
  return request({ method: 'REGISTER', transport, branch: 'z9hG4bK-reg-1', ruri: 'sip:edge.example.com' });
}

test('non-INVITE server: Trying absorbs retransmissions silently; 1xx -> Proceeding and is resent on retransmission', () => {
  const h = harness();
  const reg = register();
  h.layer.receive(reg, udpSource());
  const tx = h.requests[0]!.tx;
  assert.equal(tx.kind, 'non-invite-server');
  assert.equal(tx.state, 'Trying');
  h.layer.receive(register(), udpSource());
  assert.equal(h.transport.sent.length, 0);
  assert.equal(h.requests.length, 1);
  tx.respond(buildResponse(reg, 100));
  assert.equal(tx.state, 'Proceeding');
  h.layer.receive(register(), udpSource());
  assert.deepEqual(h.transport.labels(), ['100', '100']);
});

test('non-INVITE server over UDP: final -> Completed, retransmissions get the final, later finals dropped, Timer J = 64*T1', () => {
  const h = harness();
  const reg = register();
  h.layer.receive(reg, udpSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(reg, 200, { toTag: 'r' }));
  assert.equal(tx.state, 'Completed');
  h.clock.advance(10_000);
  assert.deepEqual(h.transport.labels(), ['200'], 'no retransmission of its own (§17.2.2)');
  h.layer.receive(register(), udpSource());
  assert.deepEqual(h.transport.labels(), ['200', '200']);
  tx.respond(buildResponse(reg, 500));
  assert.deepEqual(h.transport.labels(), ['200', '200']);
  h.clock.advance(32_000 - 10_001);
  assert.equal(tx.state, 'Completed');
  h.clock.advance(1);
  assert.equal(tx.state, 'Terminated');
  assert.deepEqual(tx.terminationCause, { kind: 'completed' });
  assert.equal(h.layer.activeCounts().nonInviteServer, 0);
  // After Terminated a retransmission is a new request.
  h.layer.receive(register(), udpSource());
  assert.equal(h.requests.length, 2);
});

test('non-INVITE server: final straight from Trying', () => {
  const h = harness();
  const reg = register();
  h.layer.receive(reg, udpSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(reg, 403));
  assert.equal(tx.state, 'Completed');
});

test('non-INVITE server over TLS: Timer J = 0, Terminated when the final is sent', () => {
  const h = harness();
  const reg = register('TLS');
  h.layer.receive(reg, tlsSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(reg, 200));
  assert.equal(tx.state, 'Terminated');
  assert.equal(h.ended.length, 1);
  assert.equal(h.clock.pending, 0);
});

test('non-INVITE server: a failed send in Proceeding and in Completed terminates with the failure', async () => {
  const h = harness();
  const reg = register();
  h.layer.receive(reg, udpSource());
  const tx = h.requests[0]!.tx;
  h.transport.rejectNext();
  tx.respond(buildResponse(reg, 100));
  await settle();
  assert.equal(tx.terminationCause?.kind, 'transport-error');

  const opt = request({ method: 'OPTIONS', branch: 'z9hG4bK-opt-2' });
  h.layer.receive(opt, udpSource());
  const tx2 = h.requests[1]!.tx;
  h.transport.rejectNext();
  tx2.respond(buildResponse(opt, 200));
  await settle();
  assert.equal(tx2.state, 'Terminated');
  assert.equal(tx2.terminationCause?.kind, 'transport-error');
  assert.equal(h.clock.pending, 0);
});
