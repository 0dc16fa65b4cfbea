/**
 * The edge is nobody's relay (issue 11): what may leave statelessly, and to where.
 *
 * - A response no client transaction matched is forwarded only when it is a 2xx to INVITE
 *   (§16.7 step 5 / RFC 6026), came from a source the edge accepts requests from (the router's
 *   `admit`), carries one of the edge's own signed Record-Route entries (a dialog the edge set
 *   up), and its next hop is reachable without a new connection: an open flow for TCP/TLS, or a
 *   configured peer/vendor address for UDP.
 * - An in-dialog next hop without an open flow must be a configured peer/vendor address, or a
 *   TLS name (validated against configured trust, RFC 5922).
 */
import type { SipMessage } from '../message/message.js';
import type { PeerAddress } from '../transaction/types.js';
import type { ProxyIdentity } from './identity.js';
import type { ProxyDeps } from './deps.js';
import { readOwnRoute, routeUriOf } from './record-route.js';
import type { Side } from './types.js';

export type StrayVerdict = { readonly dest: PeerAddress; readonly out: SipMessage } | { readonly drop: string };

/** Reasons, used as the `reason` label of sips_edge_dropped_messages_total. */
export const STRAY_DROP = {
  notFinal2xx: 'stray-response-not-2xx-invite',
  listener: 'stray-response-unknown-listener',
  source: 'stray-response-source',
  notOurs: 'stray-response-not-via-edge',
  dialog: 'stray-response-unknown-dialog',
  destination: 'stray-response-destination',
  noFlow: 'stray-response-no-flow',
  malformed: 'stray-response-malformed',
} as const;

export function judgeStrayResponse(response: SipMessage, source: PeerAddress, deps: ProxyDeps): StrayVerdict {
  if (response.status < 200 || response.status >= 300) return { drop: STRAY_DROP.notFinal2xx };
  const identity = deps.identity;
  const leg = identity.legOf(source);
  if (leg === undefined) return { drop: STRAY_DROP.listener };
  if (deps.router.admit(source, leg.side) !== null) return { drop: STRAY_DROP.source };
  try {
    if (response.cseq().method !== 'INVITE') return { drop: STRAY_DROP.notFinal2xx };
    const top = response.via();
    if (!identity.isOwnHost(top.host, top.port, top.transport === 'TLS')) return { drop: STRAY_DROP.notOurs };
    if (!hasOwnSignedRecordRoute(response, identity)) return { drop: STRAY_DROP.dialog };
    const out = response.clone();
    out.shift('via');
    const next = out.via();
    const transport = next.transport === 'TLS' ? 'tls' : next.transport === 'TCP' ? 'tcp' : 'udp';
    const host = next.received ?? next.host.replace(/^\[|\]$/g, '');
    const port = typeof next.rport === 'number' ? next.rport : next.port ?? (transport === 'tls' ? 5061 : 5060);
    // The request came in on the other side; its response goes back there.
    const side: Side = leg.side === 'outside' ? 'inside' : 'outside';
    if (transport === 'udp') {
      if (!isConfiguredAddress(deps, side, 'udp', host, port)) return { drop: STRAY_DROP.destination };
      const exit = identity.exitLeg(side, 'udp');
      return { out, dest: { transport, address: host, port, ...(exit.transport === 'udp' ? { localPort: exit.port } : {}) } };
    }
    // §18.2.2 would open a connection to received:port; stateless, only an open flow is used.
    const flowId = deps.findFlow?.(transport, host, port);
    if (flowId === undefined) return { drop: STRAY_DROP.noFlow };
    return { out, dest: { transport, address: host, port, flowId } };
  } catch {
    return { drop: STRAY_DROP.malformed };
  }
}

function hasOwnSignedRecordRoute(m: SipMessage, identity: ProxyIdentity): boolean {
  for (const v of m.values('record-route')) {
    const uri = routeUriOf(v);
    if (uri === null || !identity.isOwnUri(uri)) continue;
    const own = readOwnRoute(uri, identity.routeSigner);
    if (own !== null && own !== 'forged') return true;
  }
  return false;
}

/** A configured peer address (inside) or vendor address (outside), as `admit` would accept it. */
export function isConfiguredAddress(deps: ProxyDeps, side: Side, transport: PeerAddress['transport'], address: string, port: number): boolean {
  const probe: PeerAddress = { transport, address, port, localAddress: '', localPort: 0 };
  return deps.router.admit(probe, side) === null;
}

/** An in-dialog next hop the edge may open a connection or send a datagram to. */
export function mayReach(deps: ProxyDeps, side: Side, dest: PeerAddress): boolean {
  if (dest.flowId !== undefined && deps.flowOpen?.(dest.flowId) === true) return true;
  if (dest.transport === 'tls' && dest.servername !== undefined) return true;
  return isConfiguredAddress(deps, side, dest.transport, dest.address, dest.port);
}
