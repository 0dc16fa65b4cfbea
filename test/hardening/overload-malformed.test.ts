import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EdgeProcess } from '../helpers/edge-process.js';
import { freeUdpPort } from '../helpers/sipp.js';
import { PBX, STRANGER, UdpSender, metricSum, overloadConfig, scrape } from '../helpers/overload.js';

/**
 * A message that does not parse gets a raw 400 built from its own lines. From a UDP stranger that
 * 400 would go to a spoofable address (a reflector), so it is never sent; known sources get it, from
 * the same budget as the overload 503s.
 */
const edges: EdgeProcess[] = [];
const sockets: UdpSender[] = [];
after(async () => {
  for (const s of sockets) await s.close();
  for (const e of edges) await e.stop();
});

function malformed(from: UdpSender, edgePort: number, n: number): string {
  return [
    `INVITE sip:4969123456789@127.0.0.1:${edgePort} SIP/2.0`,
    `Via: SIP/2.0/UDP ${from.address}:${from.port};branch=z9hG4bKbad${process.pid}x${n};rport`,
    `From: <sip:bad@${from.address}>;tag=b${n}`,
    'To: <sip:4969123456789@127.0.0.1>',
    `Call-ID: bad-${process.pid}-${n}@${from.address}`,
    'CSeq: one INVITE',
    'Max-Forwards: 70',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

async function until(pred: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('a malformed request from a UDP stranger gets no 400 (counted as silent); from a peer it gets its 400', async () => {
  const far = await freeUdpPort();
  const sink = await UdpSender.bind('127.0.0.1');
  sockets.push(sink);
  const edge = await EdgeProcess.start(overloadConfig({ farPort: far, sinkPort: sink.port, limits: [] }));
  edges.push(edge);
  const port = edge.port('inside', 'udp');
  const stranger = await UdpSender.bind(STRANGER);
  const peer = await UdpSender.bind(PBX);
  sockets.push(stranger, peer);

  for (let i = 0; i < 5; i++) await stranger.send(malformed(stranger, port, i), port);
  await until(async () => metricSum(await scrape(edge), 'sips_edge_admission_refused_total', { source: 'stranger', reason: 'malformed' }) >= 5, 'five silent refusals');
  assert.equal(metricSum(await scrape(edge), 'sips_edge_overload_responses_total', { result: 'silent' }) >= 5, true);

  await peer.send(malformed(peer, port, 100), port);
  await until(() => peer.statuses().includes(400), 'the peer\'s 400');
  assert.match(peer.received.find((r) => r.startsWith('SIP/2.0 400')) ?? '', /Warning: 399 \S+ "SIPS_ERR_PARSE_/);
  // Whatever the stranger was sent arrived before the peer's answer (same edge, same socket, FIFO).
  assert.deepEqual(stranger.received, [], 'the stranger got nothing');
});
