/**
 * Transaction layer throughput (issue 4). Prints JSON; not a test.
 *   inviteRelay     one proxied INVITE: server tx created by receive(), 100 sent, client tx created,
 *                   180 and 200 matched and relayed, both transactions terminated
 *   nonInviteRelay  the same for OPTIONS with a 200
 *   retransmission  an INVITE retransmission matched (§17.2.3) and answered with the last response
 * Messages are parsed once up front: this measures matching, state machines, timers and sends,
 * not the parser. Virtual clock, no-op transport, one core.
 */
import { VirtualClock } from '../src/clock.js';
import type { SipMessage } from '../src/message/message.js';
import { TransactionLayer } from '../src/transaction/transaction-layer.js';
import type { ServerTransaction } from '../src/transaction/server-transaction.js';
import type { PeerAddress } from '../src/transaction/types.js';
import { request, responseTo } from '../test/helpers/transaction-messages.js';
import { conditions, opsPerSecond } from './lib.js';

const ms = Number(process.env.BENCH_MS ?? 2000);
const POOL = 512;
const source: PeerAddress = { transport: 'tls', address: '192.0.2.10', port: 40112, localAddress: '203.0.113.1', localPort: 5061, flowId: 'f1' };
const dest: PeerAddress = { transport: 'tls', address: 'lb01.example.com', port: 5061 };
const resolved = Promise.resolve();
const clock = new VirtualClock();
let lastServer: ServerTransaction | null = null;
const layer = new TransactionLayer({
  transport: { send: () => resolved },
  clock,
  onRequest: (_r, tx) => { lastServer = tx; },
  onAck: () => undefined,
  onStrayResponse: () => undefined,
});

interface Case { inbound: SipMessage; outbound: SipMessage; trying: SipMessage; ringing: SipMessage; ok: SipMessage; okUp: SipMessage; ringingUp: SipMessage }
function pool(method: string): Case[] {
  return Array.from({ length: POOL }, (_, i) => {
    const inbound = request({ method, transport: 'TLS', branch: `z9hG4bK-in-${method}-${i}`, callId: `c${i}@pbx` });
    const outbound = request({ method, transport: 'TLS', viaHost: 'edge.example.com', branch: `z9hG4bK-out-${method}-${i}`, callId: `c${i}@pbx` });
    return {
      inbound, outbound,
      trying: responseTo(inbound, 100), ringing: responseTo(outbound, 180), ok: responseTo(outbound, 200),
      ringingUp: responseTo(inbound, 180), okUp: responseTo(inbound, 200),
    };
  });
}

function relay(cases: Case[], invite: boolean): () => void {
  let i = 0;
  return () => {
    const c = cases[i++ % POOL]!;
    layer.receive(c.inbound, source);
    const server = lastServer!;
    if (invite) server.respond(c.trying);
    const client = layer.createClient(c.outbound, dest, {
      onResponse: (r) => server.respond(r.status === 180 ? c.ringingUp : c.okUp),
      onTimeout: () => undefined,
      onTransportError: () => undefined,
    });
    if (invite) layer.receive(c.ringing, source);
    layer.receive(c.ok, source);
    client.terminate();
    server.terminate();
  };
}

const inviteRelay = opsPerSecond(relay(pool('INVITE'), true), ms);
const nonInviteRelay = opsPerSecond(relay(pool('OPTIONS'), false), ms);

const held = pool('INVITE').slice(0, 64);
for (const c of held) { layer.receive(c.inbound, source); lastServer!.respond(c.trying); }
let j = 0;
const retransmission = opsPerSecond(() => layer.receive(held[j++ % held.length]!.inbound, source), ms);
layer.close();

console.log(JSON.stringify({ bench: 'transaction', conditions: conditions(), opsPerSecond: { inviteRelay, nonInviteRelay, retransmission } }, null, 2));
