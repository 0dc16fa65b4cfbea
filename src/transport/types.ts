/**
 * Shapes the transport layer hands up and takes down. Only `transport/` touches sockets; the layers
 * above see flows (by id), endpoints and whole messages as bytes.
 */
import { isIP } from 'node:net';
import type tls from 'node:tls';

export type StreamTransport = 'tcp' | 'tls';
export type TransportKind = 'udp' | StreamTransport;
export type Family = 'IPv4' | 'IPv6';

export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly family: Family;
}

/** What was negotiated on a TLS flow, for logs, metrics and the proxy's access checks. */
export interface TlsDetails {
  readonly protocol: string;
  readonly cipher: string;
  /** SNI: the name the client asked for (server side) or sent (client side). */
  readonly servername: string | null;
  /** Peer certificate subject as `CN=...,O=...`; null when the peer sent none (S-CON-2: no client certs). */
  readonly peerSubject: string | null;
  /** Peer certificate subjectAltName as Node prints it (`DNS:a, DNS:b`). */
  readonly peerSan: string | null;
}

export type FlowDirection = 'inbound' | 'outbound';

/** One stream connection, accepted or opened. Live view: `lastActivityAt` moves with traffic. */
export interface FlowInfo {
  readonly id: string;
  readonly transport: StreamTransport;
  readonly direction: FlowDirection;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly tls: TlsDetails | null;
  /** Clock milliseconds (the injected clock's `now()`). */
  readonly createdAt: number;
  readonly lastActivityAt: number;
}

/** One whole SIP message from the network, not yet parsed. */
export interface ReceivedMessage {
  /** Stream: exactly one framed message (RFC 3261 §18.3). UDP: the datagram as received. */
  readonly data: Buffer;
  /** The stream flow it came on (send responses back with its id); null for UDP. */
  readonly flow: FlowInfo | null;
  readonly transport: TransportKind;
  readonly remote: Endpoint;
  readonly local: Endpoint;
  readonly receivedAt: number;
}

/**
 * A peer's transport address, the one address shape of the stack: where a message came from (the
 * remote address and port seen on the socket, the listener it arrived on, the stream flow) or
 * where one goes (an IP or host name, the TLS name to check, the UDP socket to send from, the flow
 * to reuse). Responses go back on the flow a request came on (RFC 3261 §18.2.2).
 */
export interface PeerAddress {
  readonly transport: TransportKind;
  /** The remote IP address (received), or the IP address or host name to send to. */
  readonly address: string;
  readonly port: number;
  /** Received: the local address of the listener it arrived on. */
  readonly localAddress?: string;
  /** Received: the listener's port. Sending over UDP: send from the socket bound to this port (the exit leg). */
  readonly localPort?: number;
  /** The stream connection it arrived on, or to reuse when it is still open. */
  readonly flowId?: string;
  /** TLS SNI and the name the injected verifyPeer checks (RFC 5922); defaults to `address` when it is a name. */
  readonly servername?: string;
}

/** A flow id (reuse the connection, RFC 5923 spirit) or a peer address. */
export type SendTarget = string | PeerAddress;

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  /** Which side the listener faces: its accepted connections count against that side's cap and are screened by source. */
  readonly side?: 'outside' | 'inside';
  /** Label in logs and metrics (default `<side>-<transport>`, or `<transport>-<port>`). */
  readonly name?: string;
}

export type VerifyResult = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly detail: string };

/** Judges the server's certificate after 'secureConnect' (the tls/ layer supplies it: RFC 5922 identity). */
export type VerifyPeer = (socket: tls.TLSSocket, target: PeerAddress) => VerifyResult | Promise<VerifyResult>;

export type FlowCloseReason =
  | 'peer-closed'
  | 'socket-error'
  | 'framing-error'
  | 'idle-timeout'
  | 'keepalive-timeout'
  | 'write-overflow'
  /** The peer did not take our bytes: the write queue stayed above its limit for the stall time. */
  | 'write-stalled'
  /** An accepted connection sent no complete SIP message within the first-message time. */
  | 'first-message-timeout'
  /** The peer sent FIN; answers were given their linger time, then our side closed too. */
  | 'half-closed'
  | 'local-close'
  | 'shutdown';

/** Builds an Endpoint; IPv4-mapped IPv6 (`::ffff:a.b.c.d`, dual-stack listeners) is shown as IPv4. */
export function endpoint(address: string | undefined, port: number | undefined): Endpoint {
  let a = address ?? '';
  const known = shown.get(a);
  if (known !== undefined) a = known;
  else {
    const raw = a;
    if (a.startsWith('::ffff:') && a.includes('.')) a = a.slice(7);
    if (shown.size >= 4096) shown.clear();
    shown.set(raw, a);
  }
  return { address: a, port: port ?? 0, family: ipFamily(a) === 6 ? 'IPv6' : 'IPv4' };
}

/**
 * Addresses as Node reports them, per datagram a new string: one copy per peer instead (it ends up
 * in every transaction's source for 32 s).
 */
const shown = new Map<string, string>();

/** net.isIP, remembered: it is a regular expression each time, and peers are few (0 for a name). */
export function ipFamily(host: string): 0 | 4 | 6 {
  let f = families.get(host);
  if (f === undefined) {
    f = isIP(host) as 0 | 4 | 6;
    if (families.size >= 4096) families.clear();
    families.set(host, f);
  }
  return f;
}
const families = new Map<string, 0 | 4 | 6>();
