/**
 * The connection table: every open stream flow by id, plus the connection caps (globally and per
 * remote address) that bound how many sockets outsiders can make us hold.
 */
import type tls from 'node:tls';
import type { Flow } from './flow.js';
import type { FlowInfo, StreamTransport, TlsDetails } from './types.js';

export interface FlowCounts {
  readonly total: number;
  readonly inbound: { readonly tcp: number; readonly tls: number };
  readonly outbound: { readonly tcp: number; readonly tls: number };
}

export class FlowTable {
  private readonly flows = new Map<string, Flow>();
  private seq = 0;

  constructor(private readonly idPrefix = '') {}

  /** Ids are unique per table and say the transport: `tls-17`, `w2-tcp-5` with a worker prefix. */
  nextId(transport: StreamTransport): string {
    return `${this.idPrefix}${transport}-${++this.seq}`;
  }

  add(flow: Flow): void {
    this.flows.set(flow.id, flow);
  }

  delete(flow: Flow): void {
    if (this.flows.get(flow.id) === flow) this.flows.delete(flow.id);
  }

  get(id: string): Flow | undefined {
    return this.flows.get(id);
  }

  get size(): number {
    return this.flows.size;
  }

  values(): IterableIterator<Flow> {
    return this.flows.values();
  }

  list(): FlowInfo[] {
    return [...this.flows.values()].map((f) => f.info);
  }

  counts(): FlowCounts {
    const c = { inbound: { tcp: 0, tls: 0 }, outbound: { tcp: 0, tls: 0 } };
    for (const f of this.flows.values()) c[f.info.direction][f.info.transport]++;
    return { total: this.flows.size, ...c };
  }
}

export type RejectReason =
  | 'max-connections'
  | 'max-per-address'
  | 'max-per-listener'
  | 'max-per-side'
  /** The source is not a vendor address (outside) or a peer's source (inside), and the listener admits none. */
  | 'unknown-source'
  /** An unknown source would take a slot reserved for known sources and opened connections. */
  | 'reserved';

export type { Side } from '../diagnostics.js';
import type { Side } from '../diagnostics.js';

/** Limits on accepted connections beyond the global and per-address caps. */
export interface AcceptLimits {
  /** Accepted sockets (handshakes included) per listener. */
  readonly maxPerListener: number;
  /** Accepted sockets on all listeners of one side. */
  readonly maxPerSide: Readonly<Record<Side, number>>;
  /** Slots of every cap (listener, side, global) an unknown source may not take. */
  readonly reserved: number;
  /** Unknown-source sockets admitted per listener (0 = refused at accept, before any TLS). */
  readonly unknownPerListener: number;
}

const UNBOUNDED: AcceptLimits = {
  maxPerListener: Number.POSITIVE_INFINITY,
  maxPerSide: { outside: Number.POSITIVE_INFINITY, inside: Number.POSITIVE_INFINITY },
  reserved: 0,
  unknownPerListener: Number.POSITIVE_INFINITY,
};

/** One listener's share of the caps: its name and side for logs and metrics, and its counts. */
export class ListenerSlots {
  connections = 0;
  /** Of `connections`, those from unknown sources. */
  unknown = 0;

  constructor(
    readonly name: string,
    readonly side: Side | null,
  ) {}
}

/**
 * Counts raw stream sockets from accept (or connect) to close, handshakes included, so a flood of
 * silent TLS clients is bounded too (architecture: abuse limits from the first day). Accepted
 * sockets also count against their listener and their side, so a flood on one listener cannot
 * starve another listener nor the connections the edge opens; an unknown source never takes the
 * last `reserved` slots of any cap.
 */
export class ConnectionCaps {
  private total = 0;
  private readonly byAddress = new Map<string, number>();
  private readonly bySide: Record<Side, number> = { outside: 0, inside: 0 };
  private readonly accept: AcceptLimits;
  readonly rejected: Record<RejectReason, number> = {
    'max-connections': 0, 'max-per-address': 0, 'max-per-listener': 0, 'max-per-side': 0, 'unknown-source': 0, reserved: 0,
  };

  constructor(
    private readonly maxConnections: number,
    private readonly maxPerAddress: number,
    accept: Partial<AcceptLimits> = {},
  ) {
    this.accept = { ...UNBOUNDED, ...accept };
  }

  get connections(): number {
    return this.total;
  }

  /** Accepted sockets on one side's listeners. */
  onSide(side: Side): number {
    return this.bySide[side];
  }

  /**
   * For an accepted socket: null when admitted (counted; call `release(address, listener, known)`
   * on close). `known` = a vendor address on the outside, a peer's source on the inside.
   */
  admitInbound(address: string, listener: ListenerSlots | null = null, known = true): RejectReason | null {
    const reason = this.check(address, listener, known);
    if (reason) {
      this.rejected[reason]++;
      return reason;
    }
    this.total++;
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
    if (listener) {
      listener.connections++;
      if (!known) listener.unknown++;
      if (listener.side) this.bySide[listener.side]++;
    }
    return null;
  }

  /** For a connection we open: only the global cap applies. Call `release(null)` on close. */
  admitOutbound(): boolean {
    if (this.total >= this.maxConnections) {
      this.rejected['max-connections']++;
      return false;
    }
    this.total++;
    return true;
  }

  release(address: string | null, listener: ListenerSlots | null = null, known = true): void {
    this.total--;
    if (listener) {
      listener.connections--;
      if (!known) listener.unknown--;
      if (listener.side) this.bySide[listener.side]--;
    }
    if (address === null) return;
    const n = (this.byAddress.get(address) ?? 1) - 1;
    if (n > 0) this.byAddress.set(address, n);
    else this.byAddress.delete(address);
  }

  private check(address: string, listener: ListenerSlots | null, known: boolean): RejectReason | null {
    const a = this.accept;
    if (!known && a.unknownPerListener <= 0) return 'unknown-source';
    const keep = known ? 0 : a.reserved;
    const full = (count: number, cap: number, reason: RejectReason): RejectReason | null => {
      if (count >= cap) return reason;
      return count >= cap - keep ? 'reserved' : null;
    };
    const r = full(this.total, this.maxConnections, 'max-connections')
      ?? (listener?.side ? full(this.bySide[listener.side], a.maxPerSide[listener.side], 'max-per-side') : null)
      ?? (listener ? full(listener.connections, a.maxPerListener, 'max-per-listener') : null);
    if (r) return r;
    if (!known && listener && listener.unknown >= a.unknownPerListener) return 'unknown-source';
    return (this.byAddress.get(address) ?? 0) >= this.maxPerAddress ? 'max-per-address' : null;
  }
}

/** What was negotiated on an established TLS socket. */
export function tlsDetailsOf(socket: tls.TLSSocket, servername: string | null): TlsDetails {
  const cipher = socket.getCipher();
  const peer = socket.getPeerCertificate();
  const hasPeer = peer !== null && typeof peer === 'object' && Object.keys(peer).length > 0;
  return {
    protocol: socket.getProtocol() ?? cipher.version,
    cipher: cipher.name,
    servername,
    peerSubject: hasPeer && peer.subject ? formatName(peer.subject) : null,
    peerSan: hasPeer && typeof peer.subjectaltname === 'string' ? peer.subjectaltname : null,
  };
}

function formatName(name: object): string {
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(',');
}
