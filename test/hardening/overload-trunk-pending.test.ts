import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgeProcess } from '../helpers/edge-process.js';
import { freeUdpPort } from '../helpers/sipp.js';
import { PBX2, SINK_NUMBER, UdpSender, internalErrors, invite, legitimateCalls, metricSum, overloadConfig, scrape, sippFailure, overloadTeardown, until } from '../helpers/overload.js';

/**
 * Issue 11 item 8: calls on one trunk that are never answered (here: a far end that swallows
 * INVITEs, so each stays pending until Timer B) fill that trunk's `limits.maxPendingPerTrunk`
 * share, not the global `limits.maxPendingRequests` another trunk's calls need.
 */
const { edges, sockets } = overloadTeardown();

test('a trunk whose calls never get answered does not make calls to a healthy trunk get 503', async () => {
  const far = await freeUdpPort();
  const sink = await UdpSender.bind('127.0.0.1');
  const pbx2 = await UdpSender.bind(PBX2);
  sockets.push(sink, pbx2);
  // T1 500 ms: Timer B (64*T1 = 32 s) keeps the sink's INVITEs pending for the whole test.
  const edge = await EdgeProcess.start(overloadConfig({
    farPort: far, sinkPort: sink.port, timers: '{ T1: 500, T2: 4000, T4: 5000, timerC: 181000 }',
    limits: ['maxPendingRequests: 30', 'maxPendingPerTrunk: 10'],
  }));
  edges.push(edge);
  const port = edge.port('inside', 'udp');
  // 40 calls to the sink trunk: more than the global limit of 30.
  for (let i = 0; i < 40; i++) await pbx2.send(invite(pbx2, port, SINK_NUMBER), port);
  const callIds = () => new Set(sink.received.map((r) => /\r\nCall-ID: (\S+)/i.exec(r)?.[1]).filter(Boolean));
  const trunkRefusals = () => pbx2.received.filter((r) => r.startsWith('SIP/2.0 503 ') && r.includes('SIPS_ERR_PROXY_TRUNK_OVERLOAD'));
  await until('30 trunk-overload 503s', () => trunkRefusals().length >= 30);
  assert.equal(callIds().size, 10, 'the sink trunk got exactly its share of 10 pending INVITEs');
  assert.match(trunkRefusals()[0]!, /\r\nRetry-After: \d+\r\n/i);

  // The healthy trunk: real calls complete although the sink trunk is full.
  const { uac, uas } = await legitimateCalls(edge, far, 3);
  assert.equal(uac.code, 0, sippFailure(uac, 'UAC'));
  assert.equal(uas.code, 0, sippFailure(uas, 'UAS'));
  const metrics = await scrape(edge);
  assert.equal(metricSum(metrics, 'sips_edge_admission_refused_total', { reason: 'trunk-pending' }), 30);
  assert.equal(metricSum(metrics, 'sips_edge_local_replies_total', { code: 'SIPS_ERR_PROXY_OVERLOAD' }), 0, 'no global overload 503');
  assert.deepEqual(internalErrors(edge), []);
});
