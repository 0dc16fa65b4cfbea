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

export type RejectReason = 'max-connections' | 'max-per-address';

/**
 * Counts raw stream sockets from accept (or connect) to close, handshakes included, so a flood of
 * silent TLS clients is bounded too (architecture: abuse limits from the first day).
 */
export class ConnectionCaps {
  private total = 0;
  private readonly byAddress = new Map<string, number>();
  readonly rejected = { 'max-connections': 0, 'max-per-address': 0 };

  constructor(
    private readonly maxConnections: number,
    private readonly maxPerAddress: number,
  ) {}

  get connections(): number {
    return this.total;
  }

  /** For an accepted socket: null when admitted (counted; call `release(address)` on close). */
  admitInbound(address: string): RejectReason | null {
    const reason = this.total >= this.maxConnections
      ? 'max-connections'
      : (this.byAddress.get(address) ?? 0) >= this.maxPerAddress ? 'max-per-address' : null;
    if (reason) {
      this.rejected[reason]++;
      return reason;
    }
    this.total++;
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
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

  release(address: string | null): void {
    this.total--;
    if (address === null) return;
    const n = (this.byAddress.get(address) ?? 1) - 1;
    if (n > 0) this.byAddress.set(address, n);
    else this.byAddress.delete(address);
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
