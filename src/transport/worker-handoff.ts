/**
 * Handoffs between edge workers (edge.workers > 1, docs/workers.md). The kernel spreads sources
 * over the workers' SO_REUSEPORT sockets by 4-tuple, so a message can land on a worker that does
 * not hold its transaction or its connection. Each worker binds one private UDP socket on
 * 127.0.0.1; a message is passed to its owner as a small binary header and the raw bytes (no
 * JSON, no parse): the owner processes it as if it had received it itself.
 *
 *   received (response / request / cancel / ack):
 *     0 kind | 1 transport | 2-3 remote port | 4-5 local port | 6 remote address length |
 *     7 local address length | 8 flow id length | 9 hops | addresses, flow id (latin1) |
 *     the message
 *   flow-send (write these bytes on my flow):
 *     0 kind | 1 flow id length | flow id (latin1) | the message
 *
 * `hops` is 0 except for a message going round the ring (`cancel`, and `ack`: a non-2xx ACK): the
 * workers that had it before the receiver, so it stops once every other worker was asked (ringNext).
 * Only datagrams from the other workers' handoff ports are taken (a local process cannot inject
 * messages with a made-up source address).
 */
import dgram from 'node:dgram';
import type { Clock } from '../clock.js';
import type { Endpoint, FlowInfo, ReceivedMessage, TransportKind } from './types.js';
import { endpoint } from './types.js';

export type HandoffKind = 'response' | 'request' | 'cancel' | 'ack' | 'flow-send';
/** What goes round the ring of workers to the one holding its INVITE server transaction. */
export type RingKind = 'cancel' | 'ack';
type ReceivedKind = Exclude<HandoffKind, 'flow-send'>;

const KIND_CODE: Record<HandoffKind, number> = { response: 1, request: 2, 'flow-send': 3, cancel: 4, ack: 5 };
const RECEIVED_KINDS: readonly (ReceivedKind | undefined)[] = [undefined, 'response', 'request', undefined, 'cancel', 'ack'];
const TRANSPORT_CODE: Record<TransportKind, number> = { udp: 0, tcp: 1, tls: 2 };
const TRANSPORTS: readonly TransportKind[] = ['udp', 'tcp', 'tls'];
/** The largest loopback datagram (65,535 - 8 UDP - 20 IP). */
const MAX_DATAGRAM = 65_507;
const RECEIVED_HEADER = 10;

/** Flow ids of a worker start `w<slot>-` (TransportOptions.flowIdPrefix). */
export function flowIdPrefix(slot: number): string {
  return `w${slot}-`;
}

/** The worker slot a flow id names (`w2-tls-7` -> 2), null for an id without one. */
export function workerOfFlow(flowId: string): number | null {
  if (flowId.charCodeAt(0) !== 0x77 /* w */) return null;
  let n = 0;
  for (let i = 1; i < flowId.length && i < 4; i++) {
    const c = flowId.charCodeAt(i);
    if (c === 0x2d /* - */) return i === 1 ? null : n;
    if (c < 0x30 || c > 0x39) return null;
    n = n * 10 + (c - 0x30);
  }
  return null;
}

/**
 * The ring (a CANCEL or a non-2xx ACK looking for its INVITE): the worker after `self` in slot
 * order (wrapping round), among the other reachable workers `peers`, or null when every one of
 * them has been asked. `asked` counts the workers that had this message before `self` (0 where it
 * arrived from the network); each worker is asked at most once, so the ring ends at N-1 handoffs.
 */
export function ringNext(self: number, peers: Iterable<number>, asked: number): number | null {
  let count = 0;
  let after: number | null = null;
  let lowest: number | null = null;
  for (const slot of peers) {
    if (slot === self) continue;
    count++;
    if (slot > self && (after === null || slot < after)) after = slot;
    if (lowest === null || slot < lowest) lowest = slot;
  }
  // The hop count travels in one byte.
  if (asked + 1 > count || asked + 1 > 255) return null;
  return after ?? lowest;
}

export interface WorkerHandoffOptions {
  /** This worker's slot (1..N). */
  readonly self: number;
  readonly clock: Clock;
  /**
   * A message another worker received for this one: process it as received here. `hops` > 0: a
   * CANCEL or ACK going round the ring, after that many workers (pass it on with passRing when
   * this one does not hold its INVITE either).
   */
  deliver(message: ReceivedMessage, hops: number): void;
  /** Another worker's message for one of this worker's flows: write it there. */
  sendOnFlow(flowId: string, data: Buffer): void;
  /** SO_RCVBUF of the handoff socket (bursts of handed responses). */
  readonly receiveBufferBytes?: number;
}

export class WorkerHandoff {
  /** Messages handed to another worker, by kind (sips_edge_worker_handoffs_total). */
  readonly sent: Record<HandoffKind, number> = { response: 0, request: 0, cancel: 0, ack: 0, 'flow-send': 0 };
  /** Messages taken from other workers, by kind. */
  readonly received: Record<HandoffKind, number> = { response: 0, request: 0, cancel: 0, ack: 0, 'flow-send': 0 };
  /** Handoffs that could not be sent (no such worker yet, too large, socket error) or were refused. */
  failed = 0;
  private readonly socket = dgram.createSocket('udp4');
  private readonly ports = new Map<number, number>();
  private readonly peerPorts = new Set<number>();
  private bound = 0;

  constructor(private readonly opts: WorkerHandoffOptions) {}

  get self(): number {
    return this.opts.self;
  }

  get port(): number {
    return this.bound;
  }

  /** Binds 127.0.0.1:0; resolves with the port (the primary tells the other workers). */
  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind({ address: '127.0.0.1', port: 0, exclusive: true }, () => {
        this.socket.off('error', reject);
        this.socket.on('error', () => { this.failed++; });
        try {
          this.socket.setRecvBufferSize(this.opts.receiveBufferBytes ?? 4_194_304);
        } catch {
          // The system default when the kernel refuses.
        }
        this.socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
        this.bound = this.socket.address().port;
        resolve(this.bound);
      });
    });
  }

  /** Every worker's handoff port, from the primary (replaced as a whole when a worker restarts). */
  setPeers(ports: Iterable<readonly [slot: number, port: number]>): void {
    this.ports.clear();
    this.peerPorts.clear();
    for (const [slot, port] of ports) {
      if (slot === this.opts.self) continue;
      this.ports.set(slot, port);
      this.peerPorts.add(port);
    }
  }

  /** True when `slot` is another worker whose handoff port is known. */
  reaches(slot: number): boolean {
    return this.ports.has(slot);
  }

  /** Hands a message received here to the worker `slot`; false when it cannot (process it here). */
  passReceived(slot: number, kind: 'response' | 'request', m: ReceivedMessage): boolean {
    return this.pass(slot, kind, m, 0);
  }

  /**
   * A CANCEL or non-2xx ACK whose INVITE this worker does not hold, to the next worker of the
   * ring; `asked`: the workers that had it before this one (0 for one from the network). False
   * when every other worker has been asked or it cannot be sent: process it here (a CANCEL with no
   * transaction gets its 481, such an ACK is dropped).
   */
  passRing(kind: RingKind, m: ReceivedMessage, asked: number): boolean {
    const next = ringNext(this.opts.self, this.ports.keys(), asked);
    return next !== null && this.pass(next, kind, m, asked + 1);
  }

  private pass(slot: number, kind: ReceivedKind, m: ReceivedMessage, hops: number): boolean {
    const port = this.ports.get(slot);
    if (port === undefined) return false;
    const flowId = m.flow?.id ?? '';
    const ra = m.remote.address;
    const la = m.local.address;
    const head = RECEIVED_HEADER + ra.length + la.length + flowId.length;
    if (head + m.data.length > MAX_DATAGRAM || ra.length > 255 || la.length > 255 || flowId.length > 255) {
      this.failed++;
      return false;
    }
    const out = Buffer.allocUnsafe(head + m.data.length);
    out[0] = KIND_CODE[kind];
    out[1] = TRANSPORT_CODE[m.transport];
    out.writeUInt16BE(m.remote.port, 2);
    out.writeUInt16BE(m.local.port, 4);
    out[6] = ra.length;
    out[7] = la.length;
    out[8] = flowId.length;
    out[9] = hops;
    let at = RECEIVED_HEADER;
    at += out.write(ra, at, 'latin1');
    at += out.write(la, at, 'latin1');
    at += out.write(flowId, at, 'latin1');
    m.data.copy(out, at);
    this.sent[kind]++;
    this.socket.send(out, port, '127.0.0.1', (err) => { if (err) this.failed++; });
    return true;
  }

  /** Hands bytes to be written on `flowId`, a flow of the worker `slot`; false when it cannot. */
  passFlowSend(slot: number, flowId: string, data: Uint8Array): boolean {
    const port = this.ports.get(slot);
    if (port === undefined || flowId.length > 255 || 2 + flowId.length + data.length > MAX_DATAGRAM) {
      this.failed++;
      return false;
    }
    const out = Buffer.allocUnsafe(2 + flowId.length + data.length);
    out[0] = KIND_CODE['flow-send'];
    out[1] = flowId.length;
    out.write(flowId, 2, 'latin1');
    out.set(data, 2 + flowId.length);
    this.sent['flow-send']++;
    this.socket.send(out, port, '127.0.0.1', (err) => { if (err) this.failed++; });
    return true;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (rinfo.address !== '127.0.0.1' || !this.peerPorts.has(rinfo.port) || msg.length < 2) {
      this.failed++;
      return;
    }
    const kind = msg[0];
    if (kind === KIND_CODE['flow-send']) {
      const n = msg[1]!;
      if (msg.length < 2 + n) return void this.failed++;
      this.received['flow-send']++;
      this.opts.sendOnFlow(msg.toString('latin1', 2, 2 + n), msg.subarray(2 + n));
      return;
    }
    const received = RECEIVED_KINDS[kind!];
    if (received === undefined || msg.length < RECEIVED_HEADER) return void this.failed++;
    const transport = TRANSPORTS[msg[1]!];
    const rl = msg[6]!;
    const ll = msg[7]!;
    const fl = msg[8]!;
    const body = RECEIVED_HEADER + rl + ll + fl;
    if (transport === undefined || msg.length < body) return void this.failed++;
    const remote = endpoint(msg.toString('latin1', RECEIVED_HEADER, RECEIVED_HEADER + rl), msg.readUInt16BE(2));
    const local = endpoint(msg.toString('latin1', RECEIVED_HEADER + rl, RECEIVED_HEADER + rl + ll), msg.readUInt16BE(4));
    const flowId = fl === 0 ? null : msg.toString('latin1', RECEIVED_HEADER + rl + ll, body);
    const now = this.opts.clock.now();
    this.received[received]++;
    this.opts.deliver({
      data: msg.subarray(body),
      // A stream flow of the worker that handed it: answers to it are handed back (flow-send).
      flow: flowId === null || transport === 'udp' ? null : foreignFlow(flowId, transport, local, remote, now),
      transport,
      remote,
      local,
      receivedAt: now,
    }, received === 'cancel' || received === 'ack' ? msg[9]! : 0);
  }
}

function foreignFlow(id: string, transport: 'tcp' | 'tls', local: Endpoint, remote: Endpoint, now: number): FlowInfo {
  return { id, transport, direction: 'inbound', local, remote, tls: null, createdAt: now, lastActivityAt: now };
}
