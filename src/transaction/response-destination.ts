import type { Via } from '../message/headers.js';
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
 * - A sent-by port of 0 (the grammar allows it; a stack that has not learnt its own port writes it,
 *   SIPp does once its -max_socket sockets are shared) cannot be sent to: the response goes to the
 *   source port, as if rport had been asked. Kamailio reads 0 as "no port" and answers 5060, where
 *   nothing of the caller's listens; the request's own port is the one answer that arrives.
 */
export function responseDestination(request: SipMessage, source: PeerAddress): PeerAddress {
  const via = request.via();
  const address = via.received ?? source.address;
  if (source.transport !== 'udp') {
    const port = symmetricPort(via, source) ?? via.port ?? defaultPort(source.transport);
    const dest: PeerAddress = { transport: source.transport, address, port };
    return source.flowId === undefined ? dest : { ...dest, flowId: source.flowId };
  }
  if (via.maddr !== null) return { transport: 'udp', address: via.maddr, port: via.port === null || via.port === 0 ? 5060 : via.port };
  return { transport: 'udp', address, port: unicastResponsePort(via, source) };
}

/** The port a unicast UDP response goes to: the source port with rport or a sent-by port of 0, else sent-by's (5060). */
export function unicastResponsePort(via: Via, source: PeerAddress): number {
  return symmetricPort(via, source) ?? via.port ?? 5060;
}

/** RFC 3581 §4: rport present in the request (with or without a value) -> the source port; sent-by port 0 likewise. */
function symmetricPort(via: Via, source: PeerAddress): number | undefined {
  if (via.rport !== undefined) return via.rport ?? source.port;
  return via.port === 0 ? source.port : undefined;
}
