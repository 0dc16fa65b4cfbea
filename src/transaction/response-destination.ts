import type { SipMessage } from '../message/message.js';
import type { PeerAddress } from './types.js';

/** RFC 3261 §18.2.2 default ports when sent-by has none: 5060, 5061 for TLS (§19.1.2). */
function defaultPort(transport: PeerAddress['transport']): number {
  return transport === 'tls' ? 5061 : 5060;
}

/**
 * Where a server transaction sends its responses: RFC 3261 §18.2.2 with RFC 3581 (rport).
 *
 * - Reliable transport: "If the 'sent-protocol' is a reliable transport protocol such as TCP or
 *   SCTP, or TLS over those, the response MUST be sent using the existing connection to the source
 *   of the original request" -> `flowId`. Should that connection be gone, "the server SHOULD open a
 *   connection to the IP address in the 'received' parameter ... using the port in the 'sent-by'
 *   value, or the default port". The host/port here are that fallback.
 * - maddr: "the response MUST be forwarded to the address listed there, using the port indicated
 *   in sent-by, or port 5060 if none is present."
 * - Unreliable unicast: to the address in `received` (the source address: §18.2.1 adds it whenever
 *   sent-by differs) and the sent-by port; with `rport` (RFC 3581 §4) to the source port instead.
 */
export function responseDestination(request: SipMessage, source: PeerAddress): PeerAddress {
  const via = request.via();
  const address = via.received ?? source.address;
  // RFC 3581 §4: rport present in the request (with or without a value) -> the source port.
  const rportPort = via.rport === undefined ? undefined : via.rport ?? source.port;
  if (source.transport !== 'udp') {
    const port = rportPort ?? via.port ?? defaultPort(source.transport);
    const dest: PeerAddress = { transport: source.transport, address, port };
    return source.flowId === undefined ? dest : { ...dest, flowId: source.flowId };
  }
  if (via.maddr !== null) return { transport: 'udp', address: via.maddr, port: via.port ?? 5060 };
  return { transport: 'udp', address, port: rportPort ?? via.port ?? 5060 };
}
