import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PBX2, SINK_NUMBER, STRANGER, FloodRig, floodDuringCalls, internalErrors, invite, metricSum, scrape,
} from '../helpers/overload.js';

/**
 * Issue 11 items 8-9: a bounded UDP INVITE flood, from a stranger and from a configured peer,
 * while real SIPp calls go PBX -> edge -> far end. The calls must complete; the flood is refused
 * by its own token bucket, answered with 503 + Retry-After at a bounded rate (peer) or not at all
 * (UDP stranger).
 */
const rig = new FloodRig();
after(() => rig.close());

test('UDP INVITE flood from a stranger: the PBX calls complete, the stranger gets no answer, refusals are counted', async () => {
  const { edge, far } = await rig.start();
  const stranger = await rig.bind(STRANGER);
  // Both listeners: the inside one (PBX calls) and the outside one (the vendor's side).
  const total = await floodDuringCalls(edge, far, stranger, [edge.port('inside', 'udp'), edge.port('outside', 'udp')], (port) => invite(stranger, port, SINK_NUMBER));
  const metrics = await scrape(edge);
  const refused = metricSum(metrics, 'sips_edge_admission_refused_total', { source: 'stranger' });
  // Admitted: the two small per-source bursts, the shared strangers' one and their refill.
  assert.ok(refused >= total / 2, `most of ${total} refused by the buckets, before any transaction (${refused})`);
  assert.equal(metricSum(metrics, 'sips_edge_overload_responses_total', { result: 'sent' }), 0, 'no 503 to a UDP stranger');
  assert.equal(metricSum(metrics, 'sips_edge_overload_responses_total', { result: 'silent' }), refused);
  assert.equal(stranger.received.length, 0, `a UDP stranger gets nothing back: ${stranger.received[0] ?? ''}`);
  assert.deepEqual(internalErrors(edge), []);
});

test('UDP INVITE flood from a peer: the other peer\'s calls complete; the flood gets 503 + Retry-After at a bounded rate', async () => {
  const { edge, far } = await rig.start();
  const pbx2 = await rig.bind(PBX2);
  const began = Date.now();
  const total = await floodDuringCalls(edge, far, pbx2, [edge.port('inside', 'udp')], (port) => invite(pbx2, port, SINK_NUMBER));
  const seconds = (Date.now() - began) / 1000;
  const metrics = await scrape(edge);
  const refused = metricSum(metrics, 'sips_edge_admission_refused_total', { side: 'inside', source: 'peer', reason: 'source-rate' });
  const sent503 = metricSum(metrics, 'sips_edge_overload_responses_total', { result: 'sent' });
  const suppressed = metricSum(metrics, 'sips_edge_overload_responses_total', { result: 'suppressed' });
  assert.ok(refused >= total / 2, `the peer's own bucket refused most of ${total}: ${refused}`);
  assert.equal(sent503 + suppressed, refused);
  // The peer's 503s have a bucket of their own, as large as its request bucket (50 burst + 50/s):
  // never one answer per flood datagram.
  assert.ok(sent503 > 0 && sent503 <= 50 + 50 * (seconds + 1), `503s sent ${sent503} in ${seconds.toFixed(1)} s`);
  assert.ok(suppressed > 0, 'beyond the 503 budget the refusals are dropped and counted');
  // Let the last answers arrive (the edge sent them before it counted them).
  const got = () => pbx2.received.filter((r) => r.includes('SIPS_ERR_PROXY_RATE_LIMITED'));
  for (let i = 0; i < 100 && got().length < Math.min(sent503, 5); i++) await new Promise((r) => setTimeout(r, 20));
  const refusals = got();
  assert.ok(refusals.length > 0, 'the peer was answered 503');
  assert.ok(refusals.length <= sent503);
  for (const r of refusals.slice(0, 5)) {
    assert.match(r, /^SIP\/2\.0 503 /);
    assert.match(r, /\r\nRetry-After: 5\r\n/i);
  }
  assert.deepEqual(internalErrors(edge), []);
});
