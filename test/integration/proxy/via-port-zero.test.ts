import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgeProcess } from '../../helpers/edge-process.js';
import { freeUdpPort } from '../../helpers/sipp.js';
import { PBX, FAR_NUMBER, UdpSender, internalErrors, invite, options, overloadConfig, overloadTeardown, until } from '../../helpers/overload.js';

/**
 * A caller whose top Via says port 0 (SIPp writes it once the sockets of -max_socket are shared;
 * stacks that have not learnt their own port do too) gets its answers at the port it sent from:
 * port 0 cannot be sent to, so §18.2.2's sent-by port gives way to the source port as with rport
 * (src/transaction/response-destination.ts). Before, every such call went unanswered and the caller
 * retransmitted until its timer ran out.
 */
const { edges, sockets } = overloadTeardown();

/** The request with its top Via's sent-by port set to 0 and no rport asked for. */
function portZero(text: string, pbx: UdpSender): string {
  return text.replace(`Via: SIP/2.0/UDP ${pbx.address}:${pbx.port};`, `Via: SIP/2.0/UDP ${pbx.address}:0;`).replace(/;rport\r\n/, '\r\n');
}

test('Via sent-by port 0 over UDP: the 100 Trying and the forwarded final come back to the source port; OPTIONS is answered there too', async () => {
  const far = await UdpSender.bind('127.0.0.1');
  const pbx = await UdpSender.bind(PBX);
  sockets.push(far, pbx);
  const edge = await EdgeProcess.start(overloadConfig({ farPort: far.port, sinkPort: await freeUdpPort() }));
  edges.push(edge);
  const port = edge.port('inside', 'udp');

  const inv = portZero(invite(pbx, port, FAR_NUMBER), pbx);
  assert.match(inv, /^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:0;branch=[^;\r\n]+\r\n/m);
  await pbx.send(inv, port);
  await until('the 100 Trying at the source port', () => pbx.received.some((r) => r.startsWith('SIP/2.0 100 ')));
  await until('the INVITE at the far end', () => far.received.some((r) => r.startsWith('INVITE ')));
  const forwarded = far.received.find((r) => r.startsWith('INVITE '))!;
  // The far end answers 486 to the edge's own Via; the edge relays it to the caller's source port.
  const vias = forwarded.split('\r\n').filter((l) => /^Via:/i.test(l));
  const head = forwarded.split('\r\n\r\n')[0]!.split('\r\n');
  const pick = (name: string) => head.find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))!;
  const busy = ['SIP/2.0 486 Busy Here', ...vias, pick('From'), `${pick('To')};tag=far-1`, pick('Call-ID'), pick('CSeq'), 'Content-Length: 0', '', ''].join('\r\n');
  const edgeOutside = edge.port('outside', 'udp');
  await far.send(busy, edgeOutside);
  await until('the 486 at the source port', () => pbx.received.some((r) => r.startsWith('SIP/2.0 486 ')));
  const relayed = pbx.received.find((r) => r.startsWith('SIP/2.0 486 '))!;
  assert.match(relayed, /^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:0;branch=/m, 'the caller\'s own Via comes back as it sent it');

  await pbx.send(portZero(options(pbx, port), pbx), port);
  await until('the OPTIONS answer at the source port', () => pbx.received.some((r) => /^SIP\/2\.0 \d{3} /.test(r) && /\r\nCSeq: \d+ OPTIONS\r\n/i.test(r)));
  assert.deepEqual(internalErrors(edge), []);
});
