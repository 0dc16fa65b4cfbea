/**
 * The whole call without sockets: a scripted UAC (the shared CPS harness's SIPp scenario: INVITE
 * with SRTP SDP, ACK, BYE) and UAS (the upstream's stateless answers) exchange bytes in memory
 * with the edge's receive path (parse, Via stamp), a transaction layer and proxy core of its own,
 * the SRTP gate on offer and answer and Record-Route on both legs. Nothing it builds is shared with
 * the running edge (own clock, router, identity, no observer), only the code: `warmUp` runs it
 * before the listeners bind so V8 has compiled the hot path when the first real INVITE arrives;
 * bench/call-flow.ts (virtual time) and bench/event-loop.ts (real time) measure with it.
 */
import { VirtualClock, type Clock } from '../clock.js';
import { stampReceived } from '../message/headers.js';
import { parseMessage } from '../message/parse-message.js';
import { parseSipUriOrThrow, type SipUri } from '../message/uri.js';
import { ProxyIdentity } from './identity.js';
import { ProxyCore } from './proxy-core.js';
import { SrtpGate } from './srtp-gate.js';
import type { ForwardDecision, Router } from './types.js';
import { DEFAULT_SRTP_POLICY } from '../sdp/srtp-policy.js';
import { TransactionLayer } from '../transaction/transaction-layer.js';
import { DEFAULT_TRYING_MS } from '../config/schema.js';
import { DEFAULT_TIMERS, type PeerAddress } from '../transaction/types.js';

const CRLF = '\r\n';
const UAC = { address: '127.0.0.1', port: 5070 };
const uacSource: PeerAddress = { transport: 'udp', address: UAC.address, port: UAC.port, localAddress: '127.0.0.1', localPort: 5060 };
const uasSource: PeerAddress = { transport: 'tls', address: '127.0.0.1', port: 15061, localAddress: '127.0.0.1', localPort: 40312, flowId: 'c1' };

const offer = [
  'v=0', 'o=PBX 53655765 2353687637 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=audio 6000 RTP/SAVP 0 8 101',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32',
  'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=ptime:20', 'a=sendrecv', '',
].join(CRLF);
const answer = [
  'v=0', 'o=lb01 1000 1000 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/SAVP 0 101',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz',
  'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=sendrecv', '',
].join(CRLF);

/**
 * The PBX's request of call `n` (SIPp's uac_srtp.xml): an INVITE carries the SRTP offer. `toTag`:
 * the To tag of an in-dialog request, or of the ACK for a non-2xx (its response's tag).
 */
export function scriptedUacRequest(method: string, ruri: string, n: number, branch: string, cseq: number, extra: string[], port = UAC.port, toTag = `lb01-${n}`): Buffer {
  const body = method === 'INVITE' ? offer : '';
  return Buffer.from([
    `${method} ${ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${branch}-${n}`,
    `From: "PBX" <sip:pbx@127.0.0.1:${port}>;tag=4242SIPpTag00${n}`,
    `To: <sip:service@127.0.0.1:5060>${method === 'INVITE' ? '' : `;tag=${toTag}`}`,
    `Call-ID: ${n}-4242@127.0.0.1`,
    `CSeq: ${cseq} ${method}`,
    ...extra,
    `Contact: <sip:pbx@127.0.0.1:${port};transport=UDP>`,
    'Max-Forwards: 70',
    ...(method === 'INVITE' ? ['User-Agent: bench-pbx-sipp', 'Content-Type: application/sdp'] : []),
    `Content-Length: ${body.length}`, '', body,
  ].join(CRLF), 'latin1');
}

/** The upstream's stateless 200: its request's Via, Record-Route, From, To (+tag), Call-ID, CSeq. */
export function scriptedUasOk(request: string, n: number, withSdp: boolean, contact = 'sip:lb01@127.0.0.1:15061;transport=tls'): Buffer {
  const copied: string[] = [];
  for (const line of request.slice(0, request.indexOf('\r\n\r\n')).split(CRLF)) {
    const name = line.slice(0, line.indexOf(':')).toLowerCase();
    if (name === 'via' || name === 'record-route' || name === 'from' || name === 'call-id' || name === 'cseq') copied.push(line);
    else if (name === 'to') copied.push(line.includes(';tag=') ? line : `${line};tag=lb01-${n}`);
  }
  const body = withSdp ? answer : '';
  return Buffer.from(['SIP/2.0 200 OK', ...copied, `Contact: <${contact}>`,
    ...(withSdp ? ['Content-Type: application/sdp'] : []), 'Server: kamailio (5.6.3 (x86_64/linux))', `Content-Length: ${body.length}`, '', body].join(CRLF), 'latin1');
}

/** RFC 3261 §12.1.2: the UAC's route set is the 2xx's Record-Route values in reverse order. */
export function routeSetOf(response: string): string[] {
  return response.split(CRLF).filter((l) => l.startsWith('Record-Route:')).map((l) => l.slice(14)).reverse();
}

const CALL_NUMBER = /Call-ID: (\d+)-/;
export const callNumberOf = (s: string): number => Number(CALL_NUMBER.exec(s)?.[1] ?? -1);

const identity = new ProxyIdentity('edge.lab.invalid', [
  { side: 'inside', transport: 'udp', host: '127.0.0.1', port: 5060, boundAddress: '127.0.0.1' },
  { side: 'inside', transport: 'tcp', host: '127.0.0.1', port: 5060, boundAddress: '127.0.0.1' },
]);
const lb = parseSipUriOrThrow('sip:lb01.voice.euc1.pure.cloud:15061;transport=tls');
const upstream: PeerAddress = { transport: 'tls', address: '127.0.0.1', port: 15061, servername: 'lb01.voice.euc1.pure.cloud' };
const router: Router = {
  routeInitial: (req) => Promise.resolve<ForwardDecision>({
    kind: 'forward', exitSide: 'outside', failover: 0, via: 'dnis', trunk: 'bench', srtpRequired: true,
    targets: [{ ...upstream, label: 'lb01.voice.euc1.pure.cloud', requestUri: lb.with({ user: (req.requestUri() as SipUri).user }) }],
  }),
  admit: () => null,
  resolveNextHop: (_uri, exitSide) => Promise.resolve(exitSide === 'outside' ? upstream : { transport: 'udp', address: UAC.address, port: UAC.port }),
  srtpRequiredFor: () => true,
  mediaPlan: () => null,
  insidePeerOf: () => undefined,
};

export interface CallRig {
  readonly transactions: TransactionLayer;
  /** Runs call `n`: its INVITE and everything the peers answer, until the BYE's 200 or a timer. */
  call(n: number): Promise<void>;
  /** ms spent in the edge's receive path, calls completed, messages the edge sent. */
  readonly stats: { edgeMs: number; completed: number; sentMessages: number };
}

export interface CallRigOptions {
  /** As the edge (sip-stack.ts) unless false: false measures the drivers lingering instead. */
  readonly compactLingering?: boolean;
}

const RIG_TIMERS = { ...DEFAULT_TIMERS, trying: DEFAULT_TRYING_MS };

export function createCallRig(clock: Clock, opts: CallRigOptions = {}): CallRig {
  /** Messages the edge sent, handled by the scripted peers after the edge's turn. */
  const outbox: { data: Buffer; dest: PeerAddress }[] = [];
  let core: ProxyCore | null = null;
  const send = (data: Buffer, dest: PeerAddress): Promise<void> => { outbox.push({ data, dest }); return Promise.resolve(); };
  const transactions = new TransactionLayer({
    // The config's default hold-back of the 100 Trying (timers.trying), as the edge runs.
    transport: { send }, clock, timers: RIG_TIMERS,
    onRequest: (req, tx) => core!.onRequest(req, tx),
    onAck: (ack, src) => core!.onAck(ack, src),
    onStrayResponse: (res, src) => core!.onStrayResponse(res, src),
    onServerTxTerminated: (tx) => core!.onServerTxTerminated(tx),
    compactLingering: opts.compactLingering ?? true,
  });
  core = new ProxyCore({
    identity, router, transactions, clock, timers: DEFAULT_TIMERS, sendStateless: send,
    sdpGate: new SrtpGate(DEFAULT_SRTP_POLICY, 'strict'), observer: {},
    maxTransactions: 10_000_000, maxPendingRequests: 1_000_000, retryAfterSeconds: 30, agent: 'sips-edge',
  });

  /** The edge's receive path as in Edge.receive (parse, RFC 3581 stamp, transaction layer). */
  function edgeReceive(data: Buffer, source: PeerAddress): void {
    const r = parseMessage(data, { framing: source.transport === 'udp' ? 'udp' : 'stream' });
    if (!r.ok) throw r.error;
    const msg = r.value;
    if (msg.isRequest) {
      const via = msg.via();
      if (via.host !== source.address || via.rport !== undefined) {
        msg.shift('via');
        msg.prepend('via', stampReceived(via, source.address, source.port));
      }
    }
    transactions.receive(msg, source);
  }

  const stats = { edgeMs: 0, completed: 0, sentMessages: 0 };
  let routeSet: string[] | null = null;

  async function edgeTurn(data: Buffer, source: PeerAddress): Promise<void> {
    const t0 = performance.now();
    edgeReceive(data, source);
    await Promise.resolve(); // the routing decision's continuation
    await Promise.resolve();
    stats.edgeMs += performance.now() - t0;
  }

  /** The scripted peers' side: answers whatever the edge sent. */
  async function peersTurn(): Promise<void> {
    while (outbox.length > 0) {
      const { data, dest } = outbox.shift()!;
      stats.sentMessages++;
      const text = data.toString('latin1');
      if (dest.transport === 'tls') {
        if (text.startsWith('INVITE ')) await edgeTurn(scriptedUasOk(text, callNumberOf(text), true), uasSource);
        else if (text.startsWith('BYE ')) await edgeTurn(scriptedUasOk(text, callNumberOf(text), false), uasSource);
        continue;
      }
      if (!text.startsWith('SIP/2.0 200')) continue;
      const n = callNumberOf(text);
      if (text.includes(' INVITE\r\n')) {
        routeSet ??= routeSetOf(text);
        const routes = [`Route: ${routeSet.join(', ')}`];
        await edgeTurn(scriptedUacRequest('ACK', 'sip:lb01@127.0.0.1:15061;transport=tls', n, 'ack', 1, routes), uacSource);
        await edgeTurn(scriptedUacRequest('BYE', 'sip:lb01@127.0.0.1:15061;transport=tls', n, 'bye', 2, routes), uacSource);
      } else {
        stats.completed++;
      }
    }
  }

  return {
    transactions,
    stats,
    async call(n) {
      await edgeTurn(scriptedUacRequest('INVITE', 'sip:service@127.0.0.1:5060', n, 'inv', 1, []), uacSource);
      await peersTurn();
    },
  };
}

export interface WarmUpResult {
  readonly calls: number;
  readonly completed: number;
  readonly ms: number;
}

/**
 * Runs `calls` synthetic calls (above) on a virtual clock, 2 ms apart: a cold V8 interprets the
 * parser, transaction layer and proxy core until each function has run often enough to be
 * compiled, and the first second of real calls paid for it (bench/cps.sh, a cold worker at 800
 * calls/s: INVITE->200 p99 104 ms in its first second, 4-8 ms from the third). Everything it made
 * is garbage when it returns; a call that fails is counted out, never thrown (the edge starts anyway).
 */
export async function warmUp(calls: number): Promise<WarmUpResult> {
  const t0 = performance.now();
  const clock = new VirtualClock();
  const rig = createCallRig(clock);
  for (let n = 0; n < calls; n++) {
    try {
      await rig.call(n);
    } catch {
      // A change that breaks the script must not stop the edge: `completed` tells.
    }
    clock.advance(2);
  }
  // Past Timer K/J and RFC 6026's 64*T1: every lingering record and timer of the rig expires.
  clock.advance(64 * DEFAULT_TIMERS.T1 + 1000);
  return { calls, completed: rig.stats.completed, ms: Math.round(performance.now() - t0) };
}
