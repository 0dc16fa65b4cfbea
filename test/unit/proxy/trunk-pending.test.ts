import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../../src/clock.js';
import { MediaError, type MediaAnchor, type MediaRequest, type MediaResult } from '../../../src/media/types.js';
import type { SipMessage } from '../../../src/message/message.js';
import { parseUri } from '../../../src/message/uri.js';
import type { LocalReplyEvent } from '../../../src/diagnostics.js';
import { ProxyIdentity, type Leg } from '../../../src/proxy/identity.js';
import { ProxyCore } from '../../../src/proxy/proxy-core.js';
import type { ForwardDecision, Router } from '../../../src/proxy/types.js';
import { DEFAULT_TIMERS, type PeerAddress } from '../../../src/transaction/types.js';
import { TransactionLayer } from '../../../src/transaction/transaction-layer.js';
import { FakeTransport, settle, udpSource } from '../../helpers/transaction-fakes.js';
import { cancelFor, parse, responseTo } from '../../helpers/transaction-messages.js';

/**
 * limits.maxPendingPerTrunk counts an initial INVITE from admission on, also while its offer is
 * with rtpengine (before any forwarding context exists), and gives the count back on every way
 * out: CANCELled while waiting, rtpengine failed, the SDP refused, or answered after forwarding.
 */

const TRUNK = 'carrier';
const PBX = udpSource('192.0.2.10', 5060);
const LB: PeerAddress = { transport: 'tls', address: '198.51.100.7', port: 5061, localAddress: '198.51.100.1', localPort: 5061 };
const LEGS: Leg[] = [
  { side: 'inside', transport: 'udp', host: '203.0.113.1', port: 5060, boundAddress: '203.0.113.1' },
  { side: 'outside', transport: 'tls', host: 'edge.example.com', port: 5061, boundAddress: '198.51.100.1' },
];
const SDP = ['v=0', 'o=pbx 1 1 IN IP4 192.0.2.10', 's=-', 'c=IN IP4 192.0.2.10', 't=0 0', 'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

/** rtpengine whose offers wait until the test answers them, one by one. */
class HeldAnchor implements MediaAnchor {
  readonly offers: { readonly request: MediaRequest; resolve(r: MediaResult): void; reject(e: Error): void }[] = [];
  readonly deleted: string[] = [];
  private waiter: { n: number; resolve(): void } | null = null;

  offer(request: MediaRequest): Promise<MediaResult> {
    return new Promise((resolve, reject) => {
      this.offers.push({ request, resolve, reject });
      if (this.waiter !== null && this.offers.length >= this.waiter.n) this.waiter.resolve();
    });
  }

  /** Resolves once `n` offers have arrived in all. */
  offered(n: number): Promise<void> {
    if (this.offers.length >= n) return Promise.resolve();
    return new Promise((resolve) => { this.waiter = { n, resolve }; });
  }

  answer(r: MediaRequest & { readonly toTag: string }): Promise<MediaResult> {
    return Promise.resolve({ sdp: r.sdp, instance: 'rtp1' });
  }

  delete(callId: string): Promise<void> {
    this.deleted.push(callId);
    return Promise.resolve();
  }

  available(): boolean {
    return true;
  }

  instances() {
    return [{ name: 'rtp1', up: true }];
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function invite(n: number, body: { type: string; text: string } = { type: 'application/sdp', text: SDP }): SipMessage {
  return parse([
    'INVITE sip:+4969123456789@edge.example.com SIP/2.0',
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-pbx-${n};rport`,
    'Max-Forwards: 70',
    `From: "PBX" <sip:+4940555111@pbx.example.net>;tag=from-${n}`,
    'To: <sip:+4969123456789@edge.example.com>',
    `Call-ID: call-${n}@pbx.example.net`,
    'CSeq: 1 INVITE',
    'Contact: <sip:+4940555111@192.0.2.10:5060>',
    `Content-Type: ${body.type}`,
    `Content-Length: ${Buffer.byteLength(body.text)}`,
    '',
    body.text,
  ].join('\r\n'));
}

function rig(limits: { maxPendingRequests?: number; maxPendingPerTrunk?: number } = {}) {
  const clock = new VirtualClock();
  const transport = new FakeTransport(clock);
  const anchor = new HeldAnchor();
  const replies: LocalReplyEvent[] = [];
  const decision: ForwardDecision = {
    kind: 'forward',
    exitSide: 'outside',
    targets: [{ transport: 'tls', address: LB.address, port: LB.port, label: 'lb01', requestUri: parseUri('sip:+4969123456789@lb01.example.com') }],
    failover: 0,
    via: TRUNK,
    trunk: TRUNK,
    srtpRequired: true,
  };
  const router: Router = {
    routeInitial: () => Promise.resolve(decision),
    admit: () => null,
    resolveNextHop: () => Promise.reject(new Error('no in-dialog requests here')),
    srtpRequiredFor: (side) => side === 'outside',
    mediaPlan: () => ({ inside: 'rtp' }),
    insidePeerOf: () => 'pbx',
  };
  const layer: TransactionLayer = new TransactionLayer({
    transport,
    clock,
    onRequest: (req, tx) => proxy.onRequest(req, tx),
    onAck: () => undefined,
    onStrayResponse: () => undefined,
    onServerTxTerminated: (tx) => proxy.onServerTxTerminated(tx),
  });
  const proxy: ProxyCore = new ProxyCore({
    identity: new ProxyIdentity('edge.example.com', LEGS),
    router,
    transactions: layer,
    sendStateless: () => Promise.resolve(),
    clock,
    timers: DEFAULT_TIMERS,
    sdpGate: null,
    observer: { localReply: (e) => replies.push(e) },
    maxTransactions: 1000,
    maxPendingRequests: limits.maxPendingRequests ?? 1000,
    maxPendingPerTrunk: limits.maxPendingPerTrunk ?? 2,
    retryAfterSeconds: 30,
    agent: 'sips-edge',
    media: anchor,
  });
  const toPbx = (status: number, callId: string): SipMessage[] => transport.sent.filter((s) => s.label === String(status) && s.message.callId() === callId).map((s) => s.message);
  const forwarded = (callId: string): SipMessage | undefined => transport.sent.find((s) => s.label === 'INVITE' && s.message.callId() === callId)?.message;
  return { layer, proxy, anchor, replies, toPbx, forwarded };
}

test('maxPendingPerTrunk counts INVITEs whose offer waits on rtpengine, and every way out gives the count back', async () => {
  const { layer, proxy, anchor, replies, toPbx, forwarded } = rig();
  const a = invite(1);
  const b = invite(2);
  layer.receive(a, PBX);
  layer.receive(b, PBX);
  await anchor.offered(2);
  assert.equal(proxy.pendingFor(TRUNK), 2, 'two offers with rtpengine hold the trunk\'s share');
  assert.equal(proxy.activeContexts, 0, 'no forwarding context yet');

  // The third INVITE on the trunk: refused at admission, never offered to rtpengine.
  layer.receive(invite(3), PBX);
  await settle();
  const refused = toPbx(503, 'call-3@pbx.example.net');
  assert.equal(refused.length, 1);
  assert.match(refused[0]!.get('warning') ?? '', /SIPS_ERR_PROXY_TRUNK_OVERLOAD/);
  assert.ok(refused[0]!.has('retry-after'));
  assert.deepEqual(replies.map((r) => r.code), ['SIPS_ERR_PROXY_TRUNK_OVERLOAD']);
  assert.equal(anchor.offers.length, 2);
  assert.equal(proxy.pendingFor(TRUNK), 2);

  // CANCELled while its offer is with rtpengine: 487 at once, the count stays until rtpengine answers.
  layer.receive(cancelFor(b), PBX);
  await settle();
  assert.equal(toPbx(487, 'call-2@pbx.example.net').length, 1);
  assert.equal(proxy.pendingFor(TRUNK), 2);
  anchor.offers[1]!.resolve({ sdp: SDP, instance: 'rtp1' });
  await settle();
  assert.deepEqual(anchor.deleted, ['call-2@pbx.example.net'], 'the session rtpengine opened for the CANCELled call goes');
  assert.equal(proxy.pendingFor(TRUNK), 1);
  assert.equal(forwarded('call-2@pbx.example.net'), undefined);

  // Answered by rtpengine: forwarded; the context holds the count until the final goes upstream.
  anchor.offers[0]!.resolve({ sdp: SDP, instance: 'rtp1' });
  await settle();
  const out = forwarded('call-1@pbx.example.net');
  assert.ok(out !== undefined, 'the INVITE went to the lb');
  assert.equal(proxy.pendingFor(TRUNK), 1);
  assert.equal(proxy.activeContexts, 1);
  layer.receive(responseTo(out, 486), LB);
  await settle();
  assert.equal(toPbx(486, 'call-1@pbx.example.net').length, 1);
  assert.equal(proxy.pendingFor(TRUNK), 0);

  // rtpengine fails, and an SDP it cannot take: both answered by the edge, both give the count back.
  layer.receive(invite(4), PBX);
  layer.receive(invite(5, { type: 'multipart/mixed;boundary=x', text: `--x\r\nContent-Type: application/sdp\r\n\r\n${SDP}\r\n--x--\r\n` }), PBX);
  await anchor.offered(3);
  await settle();
  assert.equal(proxy.pendingFor(TRUNK), 1, 'the multipart INVITE was refused before any offer');
  assert.equal(toPbx(488, 'call-5@pbx.example.net').length, 1);
  anchor.offers[2]!.reject(new MediaError('SIPS_ERR_MEDIA_UNAVAILABLE', 'no rtpengine instance answered'));
  await settle();
  assert.equal(toPbx(503, 'call-4@pbx.example.net').length, 1);
  assert.deepEqual(replies.map((r) => r.code), ['SIPS_ERR_PROXY_TRUNK_OVERLOAD', 'SIPS_ERR_PROXY_TIMEOUT', 'SIPS_ERR_MEDIA_REFUSED', 'SIPS_ERR_MEDIA_UNAVAILABLE']);

  assert.equal(proxy.pendingFor(TRUNK), 0);
  assert.equal(proxy.activeContexts, 0);
  // The trunk takes calls again: two more wait on rtpengine, none is refused.
  layer.receive(invite(6), PBX);
  layer.receive(invite(7), PBX);
  await anchor.offered(5);
  assert.equal(proxy.pendingFor(TRUNK), 2);
  assert.equal(replies.length, 4);
});

test('maxPendingRequests (the edge-wide guard) counts offers waiting on rtpengine too, and gives them back', async () => {
  const { layer, proxy, anchor, toPbx } = rig({ maxPendingRequests: 2, maxPendingPerTrunk: 100 });
  layer.receive(invite(1), PBX);
  layer.receive(invite(2), PBX);
  await anchor.offered(2);
  assert.equal(proxy.inProgress, 2, 'two offers with rtpengine, no context yet');
  layer.receive(invite(3), PBX);
  await settle();
  const refused = toPbx(503, 'call-3@pbx.example.net');
  assert.equal(refused.length, 1);
  assert.match(refused[0]!.get('warning') ?? '', /SIPS_ERR_PROXY_OVERLOAD: too many requests in progress/);
  assert.equal(anchor.offers.length, 2, 'the refused INVITE never reached rtpengine');
  // rtpengine fails one: the count comes back and the next INVITE is taken.
  anchor.offers[0]!.reject(new MediaError('SIPS_ERR_MEDIA_UNAVAILABLE', 'no rtpengine instance answered'));
  await settle();
  assert.equal(proxy.inProgress, 1);
  layer.receive(invite(4), PBX);
  await anchor.offered(3);
  assert.equal(proxy.inProgress, 2);
  assert.equal(toPbx(503, 'call-4@pbx.example.net').length, 0);
});
