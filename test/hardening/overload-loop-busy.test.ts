import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgeProcess } from '../helpers/edge-process.js';
import { freeUdpPort } from '../helpers/sipp.js';
import { PBX, FAR_NUMBER, UdpSender, internalErrors, invite, metricSum, options, overloadConfig, scrape, overloadTeardown, until } from '../helpers/overload.js';

/**
 * Issue 13: past `limits.maxEventLoopUtilizationPercent` new INVITEs get a stateless 503 on the wire
 * before they cost a transaction; other requests go on. The loop is drilled to 100 %
 * (`eventLoopUtilizationDrillPercent`) rather than saturated, so the test does not depend on how
 * busy this machine is; the proportional share itself is unit-tested (test/unit/proxy/admission).
 */
const { edges, sockets } = overloadTeardown();

test('a saturated loop (drilled): every new INVITE gets 503 OVERLOAD with Retry-After, nothing is forwarded; OPTIONS is still answered', async () => {
  const far = await UdpSender.bind('127.0.0.1');
  const pbx = await UdpSender.bind(PBX);
  sockets.push(far, pbx);
  const edge = await EdgeProcess.start(overloadConfig({
    farPort: far.port, sinkPort: await freeUdpPort(),
    limits: ['maxEventLoopUtilizationPercent: 95', 'eventLoopUtilizationDrillPercent: 100', 'maxEventLoopDelayMs: 0'],
  }));
  edges.push(edge);
  const port = edge.port('inside', 'udp');
  for (let i = 0; i < 5; i++) await pbx.send(invite(pbx, port, FAR_NUMBER), port);
  const shed = () => pbx.received.filter((r) => r.startsWith('SIP/2.0 503 ') && r.includes('SIPS_ERR_PROXY_OVERLOAD: event loop utilization'));
  await until('five 503s', () => shed().length >= 5);
  assert.match(shed()[0]!, /\r\nRetry-After: \d+\r\n/i);
  assert.equal(pbx.received.filter((r) => /^SIP\/2\.0 100 /.test(r)).length, 0, 'no transaction was made: no 100 Trying');
  await pbx.send(options(pbx, port), port);
  await until('the OPTIONS answer', () => pbx.received.some((r) => /^SIP\/2\.0 \d{3} /.test(r) && /\r\nCSeq: \d+ OPTIONS\r\n/i.test(r)));
  const optionsAnswer = pbx.received.find((r) => /\r\nCSeq: \d+ OPTIONS\r\n/i.test(r))!;
  assert.doesNotMatch(optionsAnswer, /^SIP\/2\.0 503 /, 'OPTIONS is not shed');
  assert.equal(far.received.length, 0, 'nothing reached the far end');
  const metrics = await scrape(edge);
  assert.equal(metricSum(metrics, 'sips_edge_admission_refused_total', { reason: 'loop-busy' }), 5);
  assert.deepEqual(internalErrors(edge), []);
});
