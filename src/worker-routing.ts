/**
 * Which worker a message belongs to (edge.workers > 1, docs/workers.md), around the handoff
 * socket (transport/worker-handoff.ts): the receive path that hands what another worker owns to
 * it before any stamping, the receive path for what other workers hand here, and the send
 * diversion for another worker's flows. Part of the composition root: it reads the proxy's
 * branches and Record-Route flow tokens and asks the transaction layer for the INVITE a CANCEL or
 * a non-2xx ACK belongs to.
 */
import type { Clock } from './clock.js';
import type { SipMessage } from './message/message.js';
import { workerOfBranch } from './proxy/branch.js';
import { routeUriOf } from './proxy/record-route.js';
import { SIGNATURE_PARAM } from './proxy/route-signature.js';
import { createSipReceiver, type SipReceiverOptions } from './transport/sip-receiver.js';
import type { MessageHandler } from './transport/transport.js';
import type { PeerAddress, ReceivedMessage, TransportKind } from './transport/types.js';
import { WorkerHandoff, workerOfFlow, type RingKind } from './transport/worker-handoff.js';

export interface WorkerRoutingOptions {
  /** This worker's slot (1..N). */
  readonly slot: number;
  readonly clock: Clock;
  readonly receiveBufferBytes: number;
  /** The inside listeners: in-dialog requests toward a vendor flow arrive there. */
  readonly insideListeners: readonly { readonly transport: TransportKind; readonly port: number }[];
  /** The receive path of a single process (parse, stamp, deliver); diversion is added here. */
  readonly receiver: SipReceiverOptions;
  /**
   * A CANCEL: this worker holds the INVITE server transaction it cancels (§9.2), or the CANCEL's
   * own (a retransmission after its INVITE ended: the 200 is resent where it was made, never a 481
   * from a worker further round the ring). An ACK: this worker holds the INVITE server transaction
   * it matches (§17.2.3, the non-2xx ACK carries the INVITE's branch).
   */
  holds(request: SipMessage): boolean;
  /**
   * Access control admits requests from this source (a peer or the vendor). Only their CANCELs
   * and ACKs go round the ring: a stranger's INVITE never became a call, and its messages must not
   * cost every worker a handoff before any per-source limit has seen them.
   */
  knownSource(source: PeerAddress): boolean;
  /** Writes bytes another worker handed over on one of this worker's flows. */
  writeOnFlow(flowId: string, data: Buffer): Promise<unknown>;
}

export class WorkerRouting {
  readonly handoff: WorkerHandoff;
  /** For the transport: what another worker owns goes to it, the rest is processed here. */
  readonly receive: MessageHandler;
  private readonly insidePorts: ReadonlySet<string>;
  private readonly handed: MessageHandler;
  private readonly handedRing: MessageHandler;
  /** The hop count of the handed CANCEL or ACK being parsed now (receive is synchronous). */
  private hops = 0;

  constructor(private readonly o: WorkerRoutingOptions) {
    this.insidePorts = new Set(o.insideListeners.map((l) => `${l.transport}:${l.port}`));
    this.handoff = new WorkerHandoff({
      self: o.slot,
      clock: o.clock,
      receiveBufferBytes: o.receiveBufferBytes,
      deliver: (m, hops) => this.receiveHanded(m, hops),
      sendOnFlow: (id, data) => {
        o.writeOnFlow(id, data).catch(() => { this.handoff.failed++; });
      },
    });
    this.receive = createSipReceiver({ ...o.receiver, divert: (msg, m) => this.divert(msg, m) });
    // Handed messages are never handed on (a stale slot map cannot make them circle), except a
    // CANCEL or ACK going round the ring, which its hop count ends.
    this.handed = createSipReceiver(o.receiver);
    this.handedRing = createSipReceiver({
      ...o.receiver,
      divert: (msg, m) => {
        const ring = ringKindOf(msg);
        return ring !== null && !o.holds(msg) && this.handoff.passRing(ring, m, this.hops);
      },
    });
  }

  /** Binds the handoff socket (the primary tells the other workers its port). */
  async start(): Promise<void> {
    await this.handoff.start();
  }

  close(): Promise<void> {
    return this.handoff.close();
  }

  /**
   * A send on a flow of another worker (the answer to a request handed over from one of its
   * stream connections): handed to that worker to write. True when handed.
   */
  divertSend(data: Buffer, dest: PeerAddress): boolean {
    if (dest.flowId === undefined) return false;
    const owner = workerOfFlow(dest.flowId);
    return owner !== null && owner !== this.o.slot && this.handoff.passFlowSend(owner, dest.flowId, data);
  }

  private receiveHanded(m: ReceivedMessage, hops: number): void {
    if (hops === 0) return this.handed(m);
    this.hops = hops;
    try {
      this.handedRing(m);
    } finally {
      this.hops = 0;
    }
  }

  /**
   * (a) A response whose top Via branch names another worker goes to the worker holding the
   * client transaction; (b) a request arriving on an inside listener whose edge Route names the
   * vendor flow (`f=w<slot>-...`) of another worker goes to that worker, which forwards it on the
   * connection the vendor opened; (c) a CANCEL or a non-2xx ACK whose INVITE is not here (sent
   * from another source port or connection than its INVITE, so the kernel may have picked another
   * worker) goes round the ring of workers. Everything else is processed here.
   */
  private divert(msg: SipMessage, m: ReceivedMessage): boolean {
    const self = this.o.slot;
    if (!msg.isRequest) {
      const owner = workerOfBranch(msg.via().branch);
      return owner !== null && owner !== 0 && owner !== self && this.handoff.passReceived(owner, 'response', m);
    }
    const ring = ringKindOf(msg);
    if (ring !== null && this.o.holds(msg)) return false;
    const routed = this.routeOwner(msg, m);
    // A CANCEL of a re-INVITE toward a vendor flow follows its re-INVITE.
    if (routed !== undefined) return routed !== null && routed !== self && this.handoff.passReceived(routed, 'request', m);
    return ring !== null && this.o.knownSource(peerOf(m)) && this.handoff.passRing(ring, m, 0);
  }

  /** The worker an inside request's edge Route names (null: an f= naming none), undefined without one. */
  private routeOwner(msg: SipMessage, m: ReceivedMessage): number | null | undefined {
    if (!this.insidePorts.has(`${m.transport}:${m.local.port}`)) return undefined;
    for (const value of msg.values('route')) {
      if (value.indexOf(';f=w') < 0) continue;
      const f = routeUriOf(value)?.param('f');
      return typeof f === 'string' ? workerOfFlow(f) : null;
    }
    return undefined;
  }
}

const OWN_ROUTE_MARK = `;${SIGNATURE_PARAM}=`;

/**
 * What may go round the ring: every CANCEL, and an ACK that carries no Route the edge signed. An
 * ACK for a 2xx follows the route set our Record-Route made (§13.2.2.4): whichever worker gets it forwards it
 * statelessly, so it never rings (one per call: no handoff, no transaction lookup). An ACK for a
 * non-2xx final response carries the INVITE's Route (§17.1.1.3), not our Record-Route, and is
 * absorbed by the INVITE server transaction, which sits on one worker only.
 */
function ringKindOf(msg: SipMessage): RingKind | null {
  if (msg.method === 'CANCEL') return 'cancel';
  if (msg.method !== 'ACK') return null;
  for (const value of msg.values('route')) if (value.includes(OWN_ROUTE_MARK)) return null;
  return 'ack';
}

function peerOf(m: ReceivedMessage): PeerAddress {
  return { transport: m.transport, address: m.remote.address, port: m.remote.port, localAddress: m.local.address, localPort: m.local.port };
}
