/**
 * Issue 4 hot path without sockets: "receive INVITE -> forward". Each message goes through the
 * real parser, Via stamping, transaction layer, RFC 3261 §16 proxy core (validation, route
 * preprocessing, the SRTP gate, Record-Route x2, Via, Max-Forwards) and the serializer, with a
 * routing stub and a transport that only counts bytes. Prints JSON; not a test.
 * Run: node --expose-gc .test-build/bench/proxy-forward.js (npm run bench does).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VirtualClock } from '../src/clock.js';
import { stampReceived } from '../src/message/headers.js';
import { parseMessage } from '../src/message/parse-message.js';
import { parseSipUriOrThrow } from '../src/message/uri.js';
import { ProxyIdentity } from '../src/proxy/identity.js';
import { ProxyCore } from '../src/proxy/proxy-core.js';
import { SrtpGate } from '../src/proxy/srtp-gate.js';
import type { ForwardDecision, Router } from '../src/proxy/types.js';
import { DEFAULT_SRTP_POLICY } from '../src/sdp/srtp-policy.js';
import { TransactionLayer } from '../src/transaction/transaction-layer.js';
import { DEFAULT_TIMERS, type PeerAddress } from '../src/transaction/types.js';
import { conditions } from './lib.js';

const template = readFileSync(join(process.cwd(), 'test/fixtures/sip/valid/invite-pbx-srtp.sip')).toString('latin1');
const N = 2_000;
// Distinct branches and Call-IDs, so every message is a new transaction.
const invites = Array.from({ length: N }, (_, i) => Buffer.from(
  template.replace('branch=z9hG4bKPj7f3a9b2c1d', `branch=z9hG4bKbench${i}`).replace('3c26700c5c8a4b1e@', `bench${i}@`),
  'latin1',
));

let sent = 0;
let bytes = 0;
const identity = new ProxyIdentity('edge.example.com', [
  { side: 'inside', transport: 'udp', host: '10.20.0.1', port: 5060, boundAddress: '10.20.0.1' },
  { side: 'outside', transport: 'tls', host: 'edge.example.com', port: 5061, boundAddress: '192.0.2.10' },
]);
const target = parseSipUriOrThrow('sip:+4969123456789;tgrp=frankfurt-pbx;trunk-context=byoc.euc1.pure.cloud@lb01.voice.euc1.pure.cloud:5061;transport=tls');
const decision: ForwardDecision = {
  kind: 'forward', exitSide: 'outside', failover: 3, via: 'bench', trunk: 'bench', srtpRequired: true,
  targets: [{ transport: 'tls', address: '192.0.2.51', port: 5061, servername: 'lb01.voice.euc1.pure.cloud', label: 'lb01.voice.euc1.pure.cloud', requestUri: target }],
};
const router: Router = {
  routeInitial: () => Promise.resolve(decision),
  admit: () => null,
  resolveNextHop: () => Promise.reject(new Error('not in bench')),
  srtpRequiredFor: () => true,
  mediaPlan: () => null,
  insidePeerOf: () => undefined,
};

/** A fresh edge core per round: timers never fire inside a round, and nothing carries over. */
function makeCore(): TransactionLayer {
  const clock = new VirtualClock();
  let core: ProxyCore | null = null;
  const transactions = new TransactionLayer({
    transport: { send: async (data) => { sent++; bytes += data.length; } },
    clock,
    timers: DEFAULT_TIMERS,
    onRequest: (req, tx) => core!.onRequest(req, tx),
    onAck: () => undefined,
    onStrayResponse: () => undefined,
    onServerTxTerminated: (tx) => core!.onServerTxTerminated(tx),
  });
  core = new ProxyCore({
    identity, router, transactions, clock, timers: DEFAULT_TIMERS,
    sendStateless: async () => undefined,
    sdpGate: new SrtpGate(DEFAULT_SRTP_POLICY, 'strict'),
    observer: {},
    maxTransactions: 1_000_000,
    maxPendingRequests: 1_000_000,
    retryAfterSeconds: 30,
    agent: 'sips-edge',
  });
  return transactions;
}
let transactions = makeCore();
const source: PeerAddress = { transport: 'udp', address: '10.20.0.15', port: 5060, localAddress: '10.20.0.1', localPort: 5060 };

function receive(data: Buffer): void {
  const r = parseMessage(data);
  if (!r.ok) throw r.error;
  const m = r.value;
  const via = m.via();
  if (via.rport !== undefined) {
    m.shift('via');
    m.prepend('via', stampReceived(via, source.address, source.port));
  }
  transactions.receive(m, source);
}

async function round(): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    receive(invites[i]!);
    if ((i & 255) === 255) await Promise.resolve(); // let the routing promise continuations run
  }
  await new Promise((r) => setImmediate(r));
  const ms = performance.now() - t0;
  transactions = makeCore();
  (globalThis as { gc?: () => void }).gc?.(); // the last round's state, collected outside the timing
  return ms;
}

for (let k = 0; k < 10; k++) await round(); // warm-up
const ROUNDS = 40;
const times: number[] = [];
const sentBefore = sent;
for (let k = 0; k < ROUNDS; k++) times.push(await round());
times.sort((a, b) => a - b);
const median = times[ROUNDS >> 1]!;
// Per INVITE the edge sends a 100 Trying and the forwarded INVITE.
console.log(JSON.stringify({
  bench: 'proxy-forward',
  ...conditions(),
  invitesPerRound: N,
  medianRoundMs: +median.toFixed(1),
  usPerInvite: +((median * 1000) / N).toFixed(2),
  invitesPerSec: Math.round((N * 1000) / median),
  // 100 Trying + the forwarded INVITE.
  messagesSentPerInvite: +((sent - sentBefore) / (ROUNDS * N)).toFixed(2),
  avgForwardBytes: Math.round(bytes / sent),
}, null, 2));
