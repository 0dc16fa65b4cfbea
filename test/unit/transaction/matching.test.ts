import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildResponse } from '../../../src/message/build-response.js';
import { serverKeys } from '../../../src/transaction/matching.js';
import { UDP_DEST, harness, recordClient, udpSource } from '../../helpers/transaction-fakes.js';
import { ackFor, cancelFor, request, responseTo } from '../../helpers/transaction-messages.js';

test('§17.1.3: a response matches by top Via branch and CSeq method; unknown branch or method is a stray', () => {
  const h = harness();
  const rec = recordClient();
  const req = request({ method: 'OPTIONS', viaHost: 'edge.example.com', branch: 'z9hG4bK-m-1' });
  h.layer.createClient(req, UDP_DEST, rec.handlers);
  h.layer.receive(responseTo(req, 200, { branch: 'z9hG4bK-other' }), udpSource());
  h.layer.receive(responseTo(req, 200, { cseqMethod: 'INFO' }), udpSource());
  assert.equal(rec.responses.length, 0);
  assert.equal(h.strays.length, 2);
  h.layer.receive(responseTo(req, 200), udpSource());
  assert.equal(rec.responses.length, 1);
  assert.equal(h.layer.findClient('z9hG4bK-m-1', 'OPTIONS')?.state, 'Completed');
});

test('§17.2.3: same branch but another sent-by is another transaction', () => {
  const h = harness();
  h.layer.receive(request({ branch: 'z9hG4bK-same', viaHost: 'pbx-a.example.net' }), udpSource());
  h.layer.receive(request({ branch: 'z9hG4bK-same', viaHost: 'pbx-b.example.net' }), udpSource());
  h.layer.receive(request({ branch: 'z9hG4bK-same', viaHost: 'pbx-a.example.net', viaPort: 5070 }), udpSource());
  assert.equal(h.requests.length, 3);
  h.layer.receive(request({ branch: 'z9hG4bK-same', viaHost: 'PBX-A.example.net' }), udpSource());
  assert.equal(h.requests.length, 3, 'host compared case-insensitively: a retransmission');
});

test('§17.2.3 / §9.2: CANCEL gets its own server transaction; findInvite finds the INVITE it cancels', () => {
  const h = harness();
  const invite = request({ branch: 'z9hG4bK-c-1' });
  h.layer.receive(invite, udpSource());
  const inviteTx = h.requests[0]!.tx;
  const cancel = cancelFor(invite);
  h.layer.receive(cancel, udpSource());
  assert.equal(h.requests.length, 2);
  const cancelTx = h.requests[1]!.tx;
  assert.notEqual(cancelTx, inviteTx);
  assert.equal(cancelTx.kind, 'non-invite-server');
  assert.equal(h.layer.findInvite(cancel), inviteTx);
  cancelTx.respond(buildResponse(cancel, 200));
  h.layer.receive(cancelFor(invite), udpSource());
  assert.equal(h.requests.length, 2, 'CANCEL retransmission absorbed by its own transaction');
  assert.deepEqual(h.transport.labels(), ['200', '200']);
  assert.equal(h.layer.findInvite(cancelFor(request({ branch: 'z9hG4bK-unknown' }))), undefined);
  assert.deepEqual(h.layer.activeCounts(), { inviteClient: 0, nonInviteClient: 0, inviteServer: 1, nonInviteServer: 1 });
});

test('§17.2.3: the ACK for a non-2xx matches the INVITE server transaction (ACK -> INVITE)', () => {
  const h = harness();
  const invite = request({ branch: 'z9hG4bK-a-1' });
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  const r = buildResponse(invite, 487, { toTag: 't' });
  tx.respond(r);
  h.layer.receive(ackFor(invite, r), udpSource());
  assert.equal(tx.state, 'Confirmed');
  assert.equal(h.acks.length, 0);
  assert.equal(h.requests.length, 1, 'an ACK never creates a transaction');
});

test('RFC 2543 fallback (no magic cookie): retransmission matched by R-URI, tags, Call-ID, CSeq, top Via', () => {
  const h = harness();
  const old = { branch: 'legacy-1', viaHost: 'old-pbx.example.net' } as const;
  const invite = request(old);
  assert.equal(invite.via().rfc3261, false);
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  tx.respond(buildResponse(invite, 180, { toTag: 'x' }));
  h.layer.receive(request(old), udpSource());
  assert.equal(h.requests.length, 1, 'retransmission');
  assert.deepEqual(h.transport.labels(), ['180', '180']);
  h.layer.receive(request({ ...old, cseq: 314160 }), udpSource());
  h.layer.receive(request({ ...old, callId: 'other@old-pbx' }), udpSource());
  h.layer.receive(request({ ...old, fromTag: 'other' }), udpSource());
  h.layer.receive(request({ ...old, ruri: 'sip:other@edge.example.com' }), udpSource());
  h.layer.receive(request({ ...old, toTag: 'in-dialog' }), udpSource());
  h.layer.receive(request({ ...old, viaPort: 5070 }), udpSource());
  assert.equal(h.requests.length, 7, 'each differing field makes a new transaction');
  // A non-INVITE with the same fields but its own method is its own transaction too.
  h.layer.receive(request({ ...old, method: 'OPTIONS' }), udpSource());
  assert.equal(h.requests.length, 8);
});

test('RFC 2543 fallback: the ACK matches when its To tag is the one the transaction sent; CANCEL finds the INVITE', () => {
  const h = harness();
  const invite = request({ branch: null, viaHost: 'old-pbx.example.net' });
  h.layer.receive(invite, udpSource());
  const tx = h.requests[0]!.tx;
  const busy = buildResponse(invite, 486, { toTag: 'sent-tag' });
  const cancel = cancelFor(invite);
  assert.equal(h.layer.findInvite(cancel), tx);
  tx.respond(busy);
  const wrongTag = buildResponse(invite, 486, { toTag: 'wrong-tag' });
  h.layer.receive(ackFor(invite, wrongTag), udpSource());
  assert.equal(tx.state, 'Completed');
  assert.equal(h.acks.length, 1);
  assert.equal(h.acks[0]!.tx, null, 'a To tag the transaction never sent: not ours');
  h.layer.receive(ackFor(invite, busy), udpSource());
  assert.equal(tx.state, 'Confirmed');
  assert.equal(h.acks.length, 1);
});

test('serverKeys: ACK shares the INVITE key; CANCEL does not; 2543 keys differ from 3261 keys', () => {
  const invite = request({ branch: 'z9hG4bK-k' });
  const ack = ackFor(invite, responseTo(invite, 486));
  assert.equal(serverKeys(ack).key, serverKeys(invite).key);
  assert.notEqual(serverKeys(cancelFor(invite)).key, serverKeys(invite).key);
  assert.equal(serverKeys(cancelFor(invite), 'INVITE').key, serverKeys(invite).key);
  assert.equal(serverKeys(invite).rfc3261, true);
  assert.equal(serverKeys(request({ branch: 'k' })).rfc3261, false);
  assert.equal(serverKeys(request({ branch: null })).legacyAckKey !== null, true);
});

test('a response without a branch is a stray', () => {
  const h = harness();
  const req = request({ branch: null });
  h.layer.receive(responseTo(req, 200), udpSource());
  assert.equal(h.strays.length, 1);
});

test('onRequest may respond synchronously (the proxy sends 100 Trying at once)', () => {
  const h = harness({ onRequest: (req, tx) => tx.respond(buildResponse(req, 100)) });
  h.layer.receive(request({ branch: 'z9hG4bK-sync' }), udpSource());
  assert.deepEqual(h.transport.labels(), ['100']);
  h.layer.receive(request({ branch: 'z9hG4bK-sync' }), udpSource());
  assert.deepEqual(h.transport.labels(), ['100', '100']);
});

test('close() terminates every transaction and leaves no timers', () => {
  const h = harness();
  const rec = recordClient();
  h.layer.createClient(request({ viaHost: 'edge.example.com', branch: 'z9hG4bK-cl' }), UDP_DEST, rec.handlers);
  const invite = request({ branch: 'z9hG4bK-cs' });
  h.layer.receive(invite, udpSource());
  h.requests[0]!.tx.respond(buildResponse(invite, 486));
  h.layer.close();
  assert.equal(h.layer.size, 0);
  assert.equal(h.clock.pending, 0);
  assert.equal(rec.terminated, 1);
  assert.deepEqual(h.layer.activeCounts(), { inviteClient: 0, nonInviteClient: 0, inviteServer: 0, nonInviteServer: 0 });
});
