import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildNonSuccessAck } from '../../../src/transaction/ack.js';
import { responseDestination } from '../../../src/transaction/response-destination.js';
import { tlsSource, udpSource } from '../../helpers/transaction-fakes.js';
import { request, responseTo } from '../../helpers/transaction-messages.js';

test('responseDestination over UDP: received address and sent-by port (§18.2.2)', () => {
  const req = request({ via: 'SIP/2.0/UDP pbx.example.net:5070;branch=z9hG4bK-1;received=192.0.2.10' });
  assert.deepEqual(responseDestination(req, udpSource('192.0.2.10', 40000)), { transport: 'udp', address: '192.0.2.10', port: 5070 });
  const noPort = request({ viaPort: null });
  assert.deepEqual(responseDestination(noPort, udpSource('192.0.2.10', 40000)), { transport: 'udp', address: '192.0.2.10', port: 5060 });
});

test('responseDestination over UDP with rport (RFC 3581): source address and port', () => {
  const req = request({ rport: true });
  assert.deepEqual(responseDestination(req, udpSource('198.51.100.20', 31337)), { transport: 'udp', address: '198.51.100.20', port: 31337 });
  const stamped = request({ via: 'SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-2;received=198.51.100.20;rport=31337' });
  assert.deepEqual(responseDestination(stamped, udpSource('198.51.100.20', 31337)), { transport: 'udp', address: '198.51.100.20', port: 31337 });
});

test('responseDestination with a sent-by port of 0: the source port (0 cannot be sent to)', () => {
  const req = request({ via: 'SIP/2.0/UDP 127.0.0.1:0;branch=z9hG4bK-0' });
  assert.deepEqual(responseDestination(req, udpSource('127.0.0.1', 41234)), { transport: 'udp', address: '127.0.0.1', port: 41234 });
  const tcp = request({ via: 'SIP/2.0/TCP 127.0.0.1:0;branch=z9hG4bK-0t' });
  assert.deepEqual(
    responseDestination(tcp, { transport: 'tcp', address: '127.0.0.1', port: 51000, localAddress: '127.0.0.1', localPort: 5060, flowId: 'f-1' }),
    { transport: 'tcp', address: '127.0.0.1', port: 51000, flowId: 'f-1' },
  );
});

test('responseDestination with maddr: the maddr and sent-by port', () => {
  const req = request({ via: 'SIP/2.0/UDP pbx.example.net;branch=z9hG4bK-3;maddr=239.255.255.1' });
  assert.deepEqual(responseDestination(req, udpSource()), { transport: 'udp', address: '239.255.255.1', port: 5060 });
});

test('responseDestination over TLS: the flow it came on, with received + sent-by port (5061 default) as fallback', () => {
  const req = request({ transport: 'TLS', viaPort: null });
  assert.deepEqual(responseDestination(req, tlsSource('flow-3', '192.0.2.44', 51000)), { transport: 'tls', address: '192.0.2.44', port: 5061, flowId: 'flow-3' });
  const tcp = request({ transport: 'TCP', viaPort: 5080 });
  assert.deepEqual(
    responseDestination(tcp, { transport: 'tcp', address: '192.0.2.44', port: 51000, localAddress: '203.0.113.1', localPort: 5060 }),
    { transport: 'tcp', address: '192.0.2.44', port: 5080 },
  );
});

test('buildNonSuccessAck: one Via, the request URI, From, Call-ID, Route, Max-Forwards; To of the response; CSeq ACK', () => {
  const invite = request({
    viaHost: 'edge.example.com',
    branch: 'z9hG4bK-ack',
    lowerVias: ['SIP/2.0/TLS pbx.example.net;branch=z9hG4bK-below'],
    routes: ['<sip:a.example.com;lr>', '<sip:b.example.com;lr>'],
  });
  const res = responseTo(invite, 404, { toTag: 'nf' });
  const ack = buildNonSuccessAck(invite, res);
  const text = ack.serialize().toString('latin1');
  assert.equal(
    text,
    [
      'ACK sip:+4969123456789@edge.example.com SIP/2.0',
      'Via: SIP/2.0/UDP edge.example.com:5060;branch=z9hG4bK-ack',
      'Max-Forwards: 69',
      'Route: <sip:a.example.com;lr>',
      'Route: <sip:b.example.com;lr>',
      'From: "PBX" <sip:+4940555111@pbx.example.net>;tag=from-1',
      'Call-ID: a84b4c76e66710@pbx.example.net',
      'To: <sip:+4969123456789@edge.example.com>;tag=nf',
      'CSeq: 314159 ACK',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
});
