import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, type Limits } from '../../../src/config/limits.js';
import { Admission, TokenBucket } from '../../../src/proxy/admission.js';
import type { PeerAddress } from '../../../src/transaction/types.js';
import { request } from '../../helpers/transaction-messages.js';

test('token bucket: burst, then the rate, never more than the burst after idling', () => {
  const b = new TokenBucket(10, 3, 0);
  assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  assert.equal(b.take(50), false, 'half a token after 50 ms at 10/s');
  assert.equal(b.take(100), true, 'one token after 100 ms');
  assert.equal(b.take(100_000), true);
  assert.equal([b.take(100_000), b.take(100_000), b.take(100_000)].filter(Boolean).length, 2, 'capped at the burst');
});

function harness(known: (address: string) => boolean, limits: Partial<Limits> = {}) {
  let now = 0;
  // The loop utilization admission acts on (percent): set by the tests, never this test process's own.
  const load = { busy: 0 };
  const sent: { data: string; dest: PeerAddress }[] = [];
  const events: unknown[] = [];
  const a = new Admission({
    limits: { ...DEFAULT_LIMITS, strangerRequestRate: 1, strangerRequestBurst: 2, strangersRequestRate: 1, strangersRequestBurst: 3, knownSourceRequestRate: 1, knownSourceRequestBurst: 2, overloadResponseRate: 1, overloadResponseBurst: 1, ...limits },
    now: () => now,
    classify: (s) => ({ side: 'inside', known: known(s.address) }),
    send: async (data, dest) => { sent.push({ data: data.toString(), dest }); },
    observer: { admissionRefused: (e) => events.push(e) },
    agent: 'sips-edge',
    loopUtilization: () => load.busy,
  });
  return { a, sent, events, load, tick: (ms: number) => { now += ms; } };
}

const src = (address: string, transport: PeerAddress['transport'] = 'udp'): PeerAddress => ({ transport, address, port: 40000, localAddress: '127.0.0.1', localPort: 5060 });

test('a known source spends only its own bucket; CANCEL and in-dialog requests pass from its reserve', () => {
  const h = harness((a) => a === '10.0.0.1');
  const peer = src('10.0.0.1');
  assert.deepEqual([1, 2, 3].map(() => h.a.admit(request({ viaHost: '10.0.0.1', rport: true }), peer)), [true, true, false]);
  assert.equal(h.a.admit(request({ method: 'BYE', toTag: 'x' }), peer), true, 'in-dialog');
  assert.equal(h.a.admit(request({ method: 'CANCEL' }), peer), true, 'CANCEL');
  // The refusal: a 503 with Retry-After, to the source address and port (rport).
  assert.equal(h.sent.length, 1);
  assert.match(h.sent[0]!.data, /^SIP\/2\.0 503 /);
  assert.match(h.sent[0]!.data, /\r\nRetry-After: 5\r\n/);
  assert.match(h.sent[0]!.data, /SIPS_ERR_PROXY_RATE_LIMITED/);
  assert.deepEqual(h.sent[0]!.dest, { transport: 'udp', address: '10.0.0.1', port: 40000, localPort: 5060 });
  // Its own 503 bucket is as large as its request bucket (2 burst): one more answer, then suppressed.
  assert.equal(h.a.admit(request({ viaHost: '10.0.0.1' }), peer), false);
  assert.equal(h.a.admit(request({ viaHost: '10.0.0.1' }), peer), false);
  assert.equal(h.sent.length, 2);
  assert.deepEqual(h.events.map((e) => (e as { response: string }).response), ['sent', 'sent', 'suppressed']);
});

test('a known source\'s 503s come from its own budget: strangers spending the shared one cannot silence them, nor the reverse', () => {
  const h = harness((a) => a === '10.0.0.1', { knownSourceRequestRate: 1, knownSourceRequestBurst: 3, strangerRequestRate: 1, strangerRequestBurst: 1 });
  // TCP strangers (answered: not spoofable) spend the shared 503 bucket (1 burst).
  for (let i = 0; i < 4; i++) h.a.admit(request(), src('192.0.2.7', 'tcp'));
  const strangerAnswers = h.sent.length;
  assert.equal(strangerAnswers, 1, 'the shared budget: one 503');
  // The peer, over its own burst of 3: its 3 refusals all answered.
  const peer = src('10.0.0.1');
  for (let i = 0; i < 6; i++) h.a.admit(request({ viaHost: '10.0.0.1', rport: true }), peer);
  assert.equal(h.sent.length - strangerAnswers, 3);
  assert.ok(h.sent.slice(strangerAnswers).every((s) => s.dest.address === '10.0.0.1' && /^SIP\/2\.0 503 /.test(s.data)));
  // And the shared bucket is still empty for strangers.
  h.a.admit(request(), src('192.0.2.8', 'tcp'));
  h.a.admit(request(), src('192.0.2.8', 'tcp'));
  assert.equal(h.sent.filter((s) => s.dest.address.startsWith('192.0.2.')).length, 1);
});

test('a refusal for a request whose Via says port 0 goes to its source port', () => {
  const h = harness((a) => a === '10.0.0.1', { knownSourceRequestBurst: 1 });
  const peer = src('10.0.0.1');
  h.a.admit(request({ via: 'SIP/2.0/UDP 10.0.0.1:0;branch=z9hG4bK-p0a' }), peer);
  assert.equal(h.a.admit(request({ via: 'SIP/2.0/UDP 10.0.0.1:0;branch=z9hG4bK-p0b' }), peer), false);
  assert.deepEqual(h.sent.map((s) => s.dest), [{ transport: 'udp', address: '10.0.0.1', port: 40000, localPort: 5060 }]);
});

test('strangers: a small bucket each and one shared; UDP strangers are never answered; a peer is not affected', () => {
  const h = harness((a) => a === '10.0.0.1');
  let admitted = 0;
  for (let i = 0; i < 10; i++) for (let j = 0; j < 5; j++) if (h.a.admit(request(), src(`192.0.2.${i}`))) admitted++;
  assert.equal(admitted, 3, 'the shared strangers\' burst');
  assert.equal(h.sent.length, 0, 'UDP strangers get nothing');
  assert.equal(h.a.admit(request(), src('10.0.0.1')), true, 'the peer still has its own budget');
  // Over TCP a stranger gets the 503 (the transport answers on the connection anyway).
  h.tick(10_000);
  const tcp = src('192.0.2.200', 'tcp');
  h.a.admit(request(), tcp);
  h.a.admit(request(), tcp);
  assert.equal(h.a.admit(request(), tcp), false);
  assert.equal(h.sent.length, 1);
});

test('the source table is bounded: past maxTrackedSources the oldest is forgotten', () => {
  const h = harness(() => false, { maxTrackedSources: 100, strangersRequestBurst: 1_000_000 });
  for (let i = 0; i < 1000; i++) h.a.admit(request(), src(`198.51.${i >> 8}.${i & 255}`));
  assert.equal(h.a.trackedSources, 100);
});

test('in-dialog requests from a known source are bounded too: one reserve burst, then refused', () => {
  const h = harness((a) => a === '10.0.0.1');
  const peer = src('10.0.0.1');
  const byes = Array.from({ length: 6 }, () => h.a.admit(request({ method: 'BYE', toTag: 'x' }), peer));
  // burst 2 + reserve 2, then refused
  assert.deepEqual(byes, [true, true, true, true, false, false]);
  assert.equal(h.a.admit(request(), peer), false, 'new requests wait until the bucket is positive again');
});

test('issue 13: while the event loop runs late (drilled), new INVITEs get a stateless 503 OVERLOAD; in-dialog requests, CANCEL and other methods pass', () => {
  const h = harness(() => true, { knownSourceRequestRate: 1000, knownSourceRequestBurst: 1000, overloadResponseBurst: 10, maxEventLoopDelayMs: 100, eventLoopDelayDrillMs: 1000 });
  const peer = src('10.0.0.1');
  assert.equal(h.a.admit(request({ method: 'INVITE' }), peer), false);
  assert.match(h.sent[0]!.data, /^SIP\/2\.0 503 /);
  assert.match(h.sent[0]!.data, /\r\nWarning: 399 sips-edge "SIPS_ERR_PROXY_OVERLOAD/);
  assert.match(h.sent[0]!.data, /\r\nRetry-After: \d+\r\n/);
  assert.deepEqual(h.events, [{ side: 'inside', source: 'peer', reason: 'loop-delay', response: 'sent' }]);
  assert.equal(h.a.admit(request({ method: 'INVITE', toTag: 'x' }), peer), true, 're-INVITE in a dialog');
  assert.equal(h.a.admit(request({ method: 'CANCEL' }), peer), true, 'CANCEL');
  assert.equal(h.a.admit(request({ method: 'OPTIONS' }), peer), true, 'OPTIONS');
});

test('issue 13: the loop-delay shed is off at maxEventLoopDelayMs 0, and a healthy loop (no drill) admits INVITEs', () => {
  const off = harness(() => true, { knownSourceRequestRate: 1000, knownSourceRequestBurst: 1000, maxEventLoopDelayMs: 0, eventLoopDelayDrillMs: 1000 });
  assert.equal(off.a.admit(request({ method: 'INVITE' }), src('10.0.0.1')), true);
  const healthy = harness(() => true, { knownSourceRequestRate: 1000, knownSourceRequestBurst: 1000, maxEventLoopDelayMs: 100_000 });
  assert.equal(healthy.a.admit(request({ method: 'INVITE' }), src('10.0.0.1')), true);
});

test('issue 13: past limits.maxEventLoopUtilizationPercent new INVITEs are shed in proportion to the excess (95 of 90: every other one), with the OVERLOAD 503; CANCEL and in-dialog requests pass', () => {
  const h = harness(() => true, { knownSourceRequestRate: 1000, knownSourceRequestBurst: 1000, overloadResponseRate: 1000, overloadResponseBurst: 1000, maxEventLoopDelayMs: 0, maxEventLoopUtilizationPercent: 90 });
  const peer = src('10.0.0.1');
  h.load.busy = 80;
  const calm = Array.from({ length: 10 }, () => h.a.admit(request({ method: 'INVITE' }), peer));
  assert.deepEqual(calm, Array(10).fill(true), 'under the limit every INVITE is admitted');
  h.load.busy = 95;
  const half = Array.from({ length: 10 }, () => h.a.admit(request({ method: 'INVITE' }), peer));
  assert.equal(half.filter((x) => !x).length, 5, 'half of them shed');
  assert.match(h.sent[0]!.data, /^SIP\/2\.0 503 /);
  assert.match(h.sent[0]!.data, /\r\nWarning: 399 sips-edge "SIPS_ERR_PROXY_OVERLOAD: event loop utilization/);
  assert.deepEqual(h.events[0], { side: 'inside', source: 'peer', reason: 'loop-busy', response: 'sent' });
  h.load.busy = 100;
  const all = Array.from({ length: 5 }, () => h.a.admit(request({ method: 'INVITE' }), peer));
  assert.deepEqual(all, Array(5).fill(false), 'a saturated loop sheds every new INVITE');
  assert.equal(h.a.admit(request({ method: 'INVITE', toTag: 'x' }), peer), true, 're-INVITE in a dialog');
  assert.equal(h.a.admit(request({ method: 'CANCEL' }), peer), true, 'CANCEL');
  assert.equal(h.a.admit(request({ method: 'BYE', toTag: 'x' }), peer), true, 'BYE');
});

test('issue 13: the utilization shed is off at maxEventLoopUtilizationPercent 0', () => {
  const h = harness(() => true, { knownSourceRequestRate: 1000, knownSourceRequestBurst: 1000, maxEventLoopDelayMs: 0, maxEventLoopUtilizationPercent: 0 });
  h.load.busy = 100;
  assert.equal(h.a.admit(request({ method: 'INVITE' }), src('10.0.0.1')), true);
});
