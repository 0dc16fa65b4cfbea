import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildResponse } from '../../../src/message/build-response.js';
import { TimerSet } from '../../../src/transaction/fsm.js';
import { VirtualClock } from '../../../src/clock.js';
import { TLS_DEST, harness, recordClient, udpSource } from '../../helpers/transaction-fakes.js';
import { request, responseTo } from '../../helpers/transaction-messages.js';

// What a transaction holds through RFC 6026's lingering states (up to 32 s after the final):
// the response bytes it may resend, not the request.

test('INVITE server: after the 2xx (Accepted) the request is released; the response and its status stay', () => {
  const h = harness();
  const invite = request({ method: 'INVITE', branch: 'z9hG4bK-is-linger' });
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(invite, 100));
  assert.equal(tx.request.method, 'INVITE', 'held while the transaction can still answer');
  assert.equal(tx.lastStatus, 100);
  tx.respond(buildResponse(invite, 200, { toTag: 'a' }));
  assert.equal(tx.state, 'Accepted');
  assert.equal(tx.lastStatus, 200);
  assert.equal(tx.lastResponse?.to().tag, 'a');
  assert.throws(() => tx.request, /released once the final response is sent/);
  // A retransmitted INVITE is still matched and absorbed (RFC 6026 §7.1), nothing resent.
  h.layer.receive(request({ method: 'INVITE', branch: 'z9hG4bK-is-linger' }), udpSource());
  assert.equal(h.requests.length, 1);
  assert.deepEqual(h.transport.labels(), ['100', '200']);
});

test('non-INVITE server over UDP: Completed resends its final to a retransmission without the request', () => {
  const h = harness();
  const bye = request({ method: 'BYE', branch: 'z9hG4bK-bye-linger', toTag: 'b' });
  h.layer.receive(bye, udpSource());
  const tx = h.requests[0]!.tx;
  const ok = buildResponse(bye, 200);
  const sent = Buffer.from(ok.serialize());
  tx.respond(ok);
  assert.equal(tx.state, 'Completed');
  assert.throws(() => tx.request, /released/);
  h.layer.receive(request({ method: 'BYE', branch: 'z9hG4bK-bye-linger', toTag: 'b' }), udpSource());
  assert.deepEqual(h.transport.labels(), ['200', '200']);
  assert.deepEqual(h.transport.sent[1]!.message.serialize(), sent, 'the same bytes again');
});

test('INVITE client: a 2xx (Accepted) releases the request; 2xx retransmissions still reach the TU', () => {
  const h = harness();
  const rec = recordClient();
  const invite = request({ method: 'INVITE', viaHost: 'edge.example.com', transport: 'TLS', branch: 'z9hG4bK-ic-linger' });
  const tx = h.layer.createClient(invite, TLS_DEST, rec.handlers, 'z9hG4bK-ic-linger');
  assert.equal(tx.branch, 'z9hG4bK-ic-linger');
  assert.equal(tx.request.method, 'INVITE');
  const ok = responseTo(invite, 200, { toTag: 'c' });
  h.layer.receive(ok, { transport: 'tls', address: '198.51.100.7', port: 5061, localAddress: '203.0.113.1', localPort: 40000, flowId: 'f' });
  assert.equal(tx.state, 'Accepted');
  assert.throws(() => tx.request, /released once a final response arrived/);
  h.layer.receive(responseTo(invite, 200, { toTag: 'c' }), { transport: 'tls', address: '198.51.100.7', port: 5061, localAddress: '203.0.113.1', localPort: 40000, flowId: 'f' });
  assert.equal(rec.responses.length, 2);
});

test('TimerSet runs at most two timers per transaction and restarts a running one in place', () => {
  const clock = new VirtualClock();
  const fired: string[] = [];
  const timers = new TimerSet<'A' | 'B' | 'C'>(clock, (t) => fired.push(t));
  timers.start('A', 10);
  timers.start('B', 20);
  timers.start('A', 30);
  assert.deepEqual(timers.running().sort(), ['A', 'B']);
  assert.throws(() => timers.start('C', 5), /at most two timers/);
  clock.advance(25);
  assert.deepEqual(fired, ['B']);
  timers.cancel('A');
  clock.advance(100);
  assert.deepEqual(fired, ['B']);
  assert.deepEqual(timers.running(), []);
});
