/** Issue 12: the §18.2 receive path in the transport layer (parse, Via received/rport, the raw 400). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SipMessage } from '../../../src/message/message.js';
import { createSipReceiver, type SipReceiverOptions } from '../../../src/transport/sip-receiver.js';
import { endpoint, type PeerAddress, type ReceivedMessage } from '../../../src/transport/types.js';

const CRLF = '\r\n';
const request = (via: string, extra: string[] = []): Buffer => Buffer.from([
  'OPTIONS sip:edge.example.com SIP/2.0', `Via: ${via}`, 'From: <sip:a@example.com>;tag=1', 'To: <sip:edge.example.com>',
  'Call-ID: r1@example.com', 'CSeq: 1 OPTIONS', 'Max-Forwards: 70', ...extra, 'Content-Length: 0', '', '',
].join(CRLF), 'latin1');

function datagram(data: Buffer): ReceivedMessage {
  return { data, flow: null, transport: 'udp', remote: endpoint('192.0.2.7', 40000), local: endpoint('10.0.0.1', 5060), receivedAt: 0 };
}

function harness(o: Partial<SipReceiverOptions> = {}) {
  const delivered: { msg: SipMessage; source: PeerAddress }[] = [];
  const replies: { data: Buffer; to: PeerAddress }[] = [];
  const malformed: string[] = [];
  const asked: PeerAddress[] = [];
  const receive = createSipReceiver({
    messageLimits: {},
    agent: 'sips-edge',
    deliver: (msg, source) => delivered.push({ msg, source }),
    reply: (data, to) => replies.push({ data, to }),
    mayAnswerMalformed: (source) => {
      asked.push(source);
      return true;
    },
    onMalformed: (e) => malformed.push(e.code),
    ...o,
  });
  return { receive, delivered, replies, malformed, asked };
}

describe('createSipReceiver', () => {
  it('stamps received and rport on a request (RFC 3261 §18.2.1, RFC 3581 §4) and hands up where it came from', () => {
    const h = harness();
    h.receive(datagram(request('SIP/2.0/UDP 198.51.100.1:5070;branch=z9hG4bK-a;rport')));
    assert.equal(h.delivered.length, 1);
    const { msg, source } = h.delivered[0]!;
    assert.deepEqual(source, { transport: 'udp', address: '192.0.2.7', port: 40000, localAddress: '10.0.0.1', localPort: 5060 });
    assert.match(msg.serialize().toString('latin1'), /Via: SIP\/2\.0\/UDP 198\.51\.100\.1:5070;branch=z9hG4bK-a;rport=40000;received=192\.0\.2\.7\r\n/);
    assert.equal(msg.via().received, '192.0.2.7');
    assert.equal(msg.via().rport, 40000);
  });

  it('leaves the Via alone when it names the source address and asks for no rport', () => {
    const h = harness();
    h.receive(datagram(request('SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bK-b')));
    assert.match(h.delivered[0]!.msg.serialize().toString('latin1'), /Via: SIP\/2\.0\/UDP 192\.0\.2\.7:40000;branch=z9hG4bK-b\r\n/);
  });

  it('answers an unparsable request with a raw 400 when the hook allows it, and never delivers it', () => {
    const h = harness();
    h.receive(datagram(request('SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bK-c', ['Max-Forwards: many'])));
    assert.equal(h.delivered.length, 0);
    assert.equal(h.malformed.length, 1);
    assert.equal(h.asked.length, 1);
    assert.equal(h.replies.length, 1);
    assert.match(h.replies[0]!.data.toString('latin1'), /^SIP\/2\.0 400 /);
    assert.deepEqual(h.replies[0]!.to, h.asked[0]);
  });

  it('sends nothing when the admission hook refuses the answer (still reported)', () => {
    const h = harness({ mayAnswerMalformed: () => false });
    h.receive(datagram(request('SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bK-d', ['Max-Forwards: many'])));
    assert.equal(h.replies.length, 0);
    assert.equal(h.delivered.length, 0);
    assert.equal(h.malformed.length, 1);
  });

  it('reports a throw from the layer above and keeps going (never a crash)', () => {
    const errors: unknown[] = [];
    const h = harness({ deliver: () => { throw new Error('bug'); }, onDeliverError: (e) => errors.push(e) });
    h.receive(datagram(request('SIP/2.0/UDP 192.0.2.7:40000;branch=z9hG4bK-e')));
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as Error).message, 'bug');
  });
});
