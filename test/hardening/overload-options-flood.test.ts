import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { PBX, PBX2, STRANGER, FloodRig, floodDuringCalls, internalErrors, metricSum, options, scrape } from '../helpers/overload.js';

/**
 * Issue 11 item 9: an OPTIONS flood (each one a new non-INVITE transaction the edge answers
 * itself) from a stranger, a peer and the vendor's address, while real SIPp calls complete.
 */
const rig = new FloodRig();
after(() => rig.close());

test('OPTIONS flood from a stranger: calls complete, nothing is answered, the shared strangers\' budget bounds the work', async () => {
  const { edge, far } = await rig.start();
  const stranger = await rig.bind(STRANGER);
  const total = await floodDuringCalls(edge, far, stranger, [edge.port('inside', 'udp')], (port) => options(stranger, port));
  const metrics = await scrape(edge);
  const refused = metricSum(metrics, 'sips_edge_admission_refused_total', { side: 'inside', source: 'stranger' });
  assert.ok(refused >= total / 2, `${refused} of ${total} refused before any transaction`);
  assert.equal(stranger.received.length, 0, 'a UDP stranger gets no answer at all');
  assert.deepEqual(internalErrors(edge), []);
});

test('OPTIONS flood from a peer and from the vendor\'s address: the PBX\'s calls complete; each flooder only spends its own bucket', async () => {
  const { edge, far } = await rig.start();
  const pbx2 = await rig.bind(PBX2);
  // The vendor's address (routing.vendorSources 127.0.0.1/32) on the outside listener: its bucket is
  // not the one the PBX (same address, inside listener) calls with.
  const vendor = await rig.bind(PBX);
  const inside = edge.port('inside', 'udp');
  const outside = edge.port('outside', 'udp');
  const vendorFlood = floodDuringCalls(edge, far, vendor, [outside], (port) => options(vendor, port));
  const total = await vendorFlood;
  const peerTotal = await floodDuringCalls(edge, far, pbx2, [inside], (port) => options(pbx2, port));
  const metrics = await scrape(edge);
  const vendorRefused = metricSum(metrics, 'sips_edge_admission_refused_total', { side: 'outside', source: 'vendor' });
  const peerRefused = metricSum(metrics, 'sips_edge_admission_refused_total', { side: 'inside', source: 'peer' });
  assert.ok(vendorRefused >= total / 2, `vendor flood: ${vendorRefused} of ${total} refused`);
  assert.ok(peerRefused >= peerTotal / 2, `peer flood: ${peerRefused} of ${peerTotal} refused`);
  // Within their budgets they were answered 200 (the edge answers OPTIONS to itself).
  for (const s of [vendor, pbx2]) {
    const statuses = s.statuses();
    assert.ok(statuses.filter((x) => x === 200).length >= 50, `the first burst answered 200: ${statuses.length} answers`);
    assert.ok(statuses.includes(503), 'beyond it, 503');
    assert.ok(statuses.every((x) => x === 200 || x === 503), `only 200 and 503: ${[...new Set(statuses)].join(',')}`);
  }
  assert.ok(metricSum(metrics, 'sips_edge_overload_responses_total', { result: 'suppressed' }) > 0);
  assert.deepEqual(internalErrors(edge), []);
});
