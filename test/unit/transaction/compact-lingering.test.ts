import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildResponse } from '../../../src/message/build-response.js';
import type { PeerAddress } from '../../../src/transaction/types.js';
import { TLS_DEST, harness, recordClient, tlsSource, udpSource } from '../../helpers/transaction-fakes.js';
import { ackFor, cancelFor, request, responseTo } from '../../helpers/transaction-messages.js';

// TransactionLayerOptions.compactLingering (lingering.ts): after the final response a transaction
// lingers as one record, which must behave on the wire as RFC 6026's states do.

const PBX_VIA = 'SIP/2.0/UDP pbx.example.net:5060;branch=z9hG4bK-pbx-cl;received=192.0.2.10;rport=5060';
const LB: PeerAddress = { transport: 'tls', address: '198.51.100.7', port: 5061, localAddress: '203.0.113.1', localPort: 40000, flowId: 'f-lb' };

function inboundInvite() {
  return request({ method: 'INVITE', via: PBX_VIA });
}

test('compact: an INVITE server in Accepted becomes a record; INVITE retransmissions absorbed, the TU told it ended, the record expires after 64*T1', () => {
  const h = harness({ compactLingering: true });
  const invite = inboundInvite();
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(invite, 100));
  assert.equal(h.ended.length, 0);
  tx.respond(buildResponse(invite, 200, { toTag: 'a' }));
  assert.equal(h.ended.length, 1, 'onServerTxTerminated once the record took over');
  assert.equal(h.layer.lingeringRecords, 1);
  assert.equal(h.layer.activeServerTransactions, 1, 'a record still counts (limits.maxTransactions)');
  assert.equal(h.clock.pending, 1, 'one queue timer, none of the driver');
  h.layer.receive(inboundInvite(), udpSource());
  assert.equal(h.requests.length, 1, 'the retransmission is not a new request');
  assert.deepEqual(h.transport.labels(), ['100', '200'], 'Accepted resends nothing itself');
  h.clock.advance(32_000 - 1);
  assert.equal(h.layer.activeServerTransactions, 1);
  h.clock.advance(100);
  assert.equal(h.layer.activeServerTransactions, 0, 'gone after Timer L (plus the queue slack)');
  assert.equal(h.layer.lingeringRecords, 0);
  h.layer.receive(inboundInvite(), udpSource());
  assert.equal(h.requests.length, 2, 'after Timer L the same INVITE is new again');
});

test('compact: an ACK with the INVITE branch in Accepted goes to the TU; a CANCEL then finds an answered INVITE', () => {
  const h = harness({ compactLingering: true });
  const invite = inboundInvite();
  h.layer.receive(invite, udpSource());
  const ok = buildResponse(invite, 200, { toTag: 'a' });
  h.requests[0]!.tx.respond(ok);
  h.layer.receive(ackFor(invite, ok), udpSource());
  assert.equal(h.acks.length, 1, 'RFC 6026 §8.5: passed to the TU, not absorbed');
  assert.equal(h.acks[0]!.tx, null, 'a record has no transaction object to hand over');
  const found = h.layer.findInvite(cancelFor(invite));
  assert.ok(found !== undefined, '§9.2: the CANCEL matches');
  assert.equal(found.state, 'Accepted');
  assert.equal(found.lastStatus, 200, 'already answered: the proxy sends 200 to the CANCEL and nothing else');
  assert.equal(found.branch, 'z9hG4bK-pbx-cl');
});

test('compact: a non-INVITE server over UDP answers each retransmission with the same final bytes until Timer J', () => {
  const h = harness({ compactLingering: true });
  const bye = request({ method: 'BYE', via: PBX_VIA, toTag: 'b' });
  h.layer.receive(bye, udpSource());
  const ok = buildResponse(bye, 200);
  const bytes = Buffer.from(ok.serialize());
  h.requests[0]!.tx.respond(ok);
  assert.equal(h.layer.lingeringRecords, 1);
  h.layer.receive(request({ method: 'BYE', via: PBX_VIA, toTag: 'b' }), udpSource());
  h.layer.receive(request({ method: 'BYE', via: PBX_VIA, toTag: 'b' }), udpSource());
  assert.deepEqual(h.transport.labels(), ['200', '200', '200']);
  assert.deepEqual(h.transport.sent[2]!.message.serialize(), bytes, 'the same bytes again');
  assert.deepEqual(h.transport.sent[2]!.dest, h.transport.sent[0]!.dest, 'to the same destination (§18.2.2)');
  h.clock.advance(32_100);
  assert.equal(h.layer.activeServerTransactions, 0);
});

test('compact: over TLS a non-INVITE final ends the transaction at once (Timer J = 0): no record', () => {
  const h = harness({ compactLingering: true });
  const bye = request({ method: 'BYE', transport: 'TLS', toTag: 'b' });
  h.layer.receive(bye, tlsSource());
  h.requests[0]!.tx.respond(buildResponse(bye, 200));
  assert.equal(h.layer.lingeringRecords, 0);
  assert.equal(h.layer.activeServerTransactions, 0);
});

test('compact: a non-2xx final keeps its driver (Timer G retransmits it until the ACK)', () => {
  const h = harness({ compactLingering: true });
  const invite = inboundInvite();
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(invite, 486, { toTag: 'busy' }));
  assert.equal(h.layer.lingeringRecords, 0);
  h.clock.advance(600);
  assert.deepEqual(h.transport.labels(), ['486', '486']);
  assert.equal(tx.state, 'Completed');
});

/** A UDP INVITE from the PBX forwarded over TLS: server transaction, client transaction, 2xx through both. */
function forwardedCall() {
  const h = harness({ compactLingering: true });
  const invite = inboundInvite();
  h.layer.receive(invite, udpSource());
  const server = h.requests[0]!.tx;
  const rec = recordClient();
  const out = request({ method: 'INVITE', transport: 'TLS', viaHost: 'edge.example.com', viaPort: 5061, branch: 'z9hG4bKse1.cl', lowerVias: [PBX_VIA] });
  const client = h.layer.createClient(out, TLS_DEST, rec.handlers, 'z9hG4bKse1.cl');
  const ok = responseTo(out, 200, { toTag: 'lb' });
  h.layer.receive(ok, LB);
  assert.equal(rec.responses.length, 1);
  const forwarded = responseTo(out, 200, { toTag: 'lb' });
  forwarded.shift('via');
  server.respond(forwarded);
  return { h, out, server, client, rec };
}

test('compact: relay2xx — 2xx retransmissions go without the edge Via to the PBX by the layer alone; the TU hears none', () => {
  const { h, out, server, client, rec } = forwardedCall();
  assert.equal(h.layer.relay2xx(client, server), true);
  assert.equal(h.layer.lingeringRecords, 2);
  assert.equal(h.layer.findClient('z9hG4bKse1.cl', 'INVITE'), undefined, 'the driver is gone from the table');
  h.transport.clear();
  h.layer.receive(responseTo(out, 200, { toTag: 'lb' }), LB);
  h.layer.receive(responseTo(out, 180, { toTag: 'lb' }), LB);
  assert.equal(rec.responses.length, 1, 'the TU hears no retransmission');
  assert.equal(h.strays.length, 0);
  assert.deepEqual(h.transport.labels(), ['200'], 'the 2xx relayed, the late 180 absorbed');
  const relayed = h.transport.sent[0]!;
  assert.equal(relayed.message.via().branch, 'z9hG4bK-pbx-cl', 'the edge Via is off (§16.7 step 3)');
  assert.deepEqual(relayed.dest, server.responseDest);
  assert.equal(rec.terminated, 0, 'a retired driver calls no TU callback');
  // §16.7 step 3: a retransmission carrying only the edge's Via has nowhere to go.
  const bare = responseTo(request({ method: 'INVITE', transport: 'TLS', viaHost: 'edge.example.com', viaPort: 5061, branch: 'z9hG4bKse1.cl' }), 200, { toTag: 'lb' });
  h.layer.receive(bare, LB);
  assert.deepEqual(h.transport.labels(), ['200'], 'not relayed Via-less');
  h.clock.advance(32_100);
  assert.equal(h.layer.size, 0, 'both records expire (Timers L and M)');
  assert.equal(h.clock.pending, 0);
  h.layer.receive(responseTo(out, 200, { toTag: 'lb' }), LB);
  assert.equal(h.strays.length, 1, 'after Timer M a retransmission is stray, as without records');
});

test('compact: relay2xx refuses when it cannot take over; without compactLingering the drivers linger as before', () => {
  const a = forwardedCall();
  assert.equal(a.h.layer.relay2xx(a.client, a.client as never), false, 'not a server transaction of this layer');
  const h = harness();
  const invite = inboundInvite();
  h.layer.receive(invite, udpSource());
  const server = h.requests[0]!.tx;
  const rec = recordClient();
  const out = request({ method: 'INVITE', transport: 'TLS', viaHost: 'edge.example.com', branch: 'z9hG4bKse1.off', lowerVias: [PBX_VIA] });
  const client = h.layer.createClient(out, TLS_DEST, rec.handlers, 'z9hG4bKse1.off');
  h.layer.receive(responseTo(out, 200, { toTag: 'lb' }), LB);
  server.respond(buildResponse(invite, 200, { toTag: 'lb' }));
  assert.equal(h.layer.relay2xx(client, server), false);
  assert.equal(h.layer.lingeringRecords, 0);
  assert.equal(server.state, 'Accepted');
  h.layer.receive(responseTo(out, 200, { toTag: 'lb' }), LB);
  assert.equal(rec.responses.length, 2, 'the TU still gets 2xx retransmissions');
  h.clock.advance(32_000);
  assert.equal(server.state, 'Terminated', 'Timer L on the driver');
});

test('compact: close() drops every record and its timers', () => {
  const { h, client, server } = forwardedCall();
  h.layer.relay2xx(client, server);
  h.layer.close();
  assert.equal(h.layer.size, 0);
  assert.equal(h.layer.activeServerTransactions, 0);
  assert.equal(h.clock.pending, 0);
});

test('holdsServer: a CANCEL whose own transaction lingers here is held, as a driver and as a record, until Timer J', () => {
  for (const compactLingering of [false, true]) {
    const h = harness({ compactLingering });
    const invite = inboundInvite();
    const cancel = cancelFor(invite);
    assert.equal(h.layer.holdsServer(cancel), false);
    h.layer.receive(cancel, udpSource());
    h.requests[0]!.tx.respond(buildResponse(cancel, 200));
    assert.equal(h.layer.holdsServer(cancelFor(invite)), true, `a retransmission would be absorbed here (compact ${compactLingering})`);
    assert.equal(h.layer.findInvite(cancel), undefined, 'no INVITE here');
    h.clock.advance(32_000 + 100);
    assert.equal(h.layer.holdsServer(cancelFor(invite)), false);
  }
});
