/**
 * Who may send to which side.
 * - outside (the vendor's TLS trunk): only the vendor's addresses = the resolved lb hosts of the
 *   configured trunks, plus `routing.vendorSources` CIDRs.
 * - inside: a source must match some peer's `sources` (default: the peer's host); the longest
 *   matching prefix names the peer.
 * Refusals are 403 on TCP/TLS and dropped silently on UDP (no answer to spoofable datagrams).
 */
import type { PeerConfig } from '../config/schema.js';
import type { RejectDecision } from './types.js';
import type { PeerAddress } from '../transaction/types.js';
import { cidrContains, ipKey, isIpLiteral, parseCidr, type Cidr } from './ip.js';
import { routeReject } from './route-errors.js';

export interface AccessControl {
  /** Null = admitted. */
  admitOutside(source: PeerAddress): RejectDecision | null;
  /** The inside peer a source belongs to, or undefined. */
  peerFor(address: string): PeerConfig | undefined;
  admitInside(source: PeerAddress): RejectDecision | null;
  /** Replaces the resolved addresses: lb hosts (outside) and peer host names (inside). */
  setResolved(vendorAddresses: Iterable<string>, peerAddresses: ReadonlyMap<string, readonly string[]>): void;
}

const FORBIDDEN = routeReject('SIPS_ERR_ROUTE_FORBIDDEN');
const SILENT_FORBIDDEN: RejectDecision = { ...FORBIDDEN, silent: true };

export function refuse(source: PeerAddress): RejectDecision {
  return source.transport === 'udp' ? SILENT_FORBIDDEN : FORBIDDEN;
}

export function createAccessControl(peers: readonly PeerConfig[], vendorSources: readonly string[]): AccessControl {
  const vendorCidrs: Cidr[] = vendorSources.map((c) => parseCidr(c));
  let vendorAddrs = new Set<string>();
  // Static CIDRs per peer: configured sources, or the host when it is an address.
  const staticRules: { peer: PeerConfig; cidr: Cidr }[] = [];
  const byName: PeerConfig[] = [];
  for (const p of peers) {
    if (p.sources.length) for (const s of p.sources) staticRules.push({ peer: p, cidr: parseCidr(s) });
    else if (isIpLiteral(p.host)) staticRules.push({ peer: p, cidr: parseCidr(p.host.replace(/^\[|\]$/g, '')) });
    else byName.push(p);
  }
  let dynamic: { peer: PeerConfig; cidr: Cidr }[] = [];

  function peerFor(address: string): PeerConfig | undefined {
    let best: { peer: PeerConfig; bits: number } | undefined;
    for (const r of [...staticRules, ...dynamic]) {
      if (cidrContains(r.cidr, address) && (best === undefined || r.cidr.bits > best.bits)) best = { peer: r.peer, bits: r.cidr.bits };
    }
    return best?.peer;
  }

  return {
    admitOutside(source) {
      const key = ipKey(source.address);
      if (key !== undefined && vendorAddrs.has(key)) return null;
      if (vendorCidrs.some((c) => cidrContains(c, source.address))) return null;
      return refuse(source);
    },
    peerFor,
    admitInside(source) {
      return peerFor(source.address) === undefined ? refuse(source) : null;
    },
    setResolved(vendorAddresses, peerAddresses) {
      const next = new Set<string>();
      for (const a of vendorAddresses) {
        const k = ipKey(a);
        if (k !== undefined) next.add(k);
      }
      vendorAddrs = next;
      dynamic = byName.flatMap((p) => (peerAddresses.get(p.name) ?? []).filter(isIpLiteral).map((a) => ({ peer: p, cidr: parseCidr(a) })));
    },
  };
}
