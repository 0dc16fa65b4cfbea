import { SipsError, type ErrorDef } from '../errors.js';

/**
 * Every way a send or a listen can fail. The transaction layer turns a send failure into a local
 * 503 (RFC 3261 §17.1.4: "the client transaction SHOULD inform the TU that a transport failure has
 * occurred") and the proxy tries the next target.
 */
export const TRANSPORT_ERROR_CODES = {
  /** TCP connect failed: refused, timed out, unreachable, DNS, or the connection cap. */
  CONNECT: 'SIPS_ERR_TRANSPORT_CONNECT',
  /** TCP connected but TLS did not complete: handshake error or timeout (S-TLS-6), or verifyPeer said no. */
  TLS_HANDSHAKE: 'SIPS_ERR_TRANSPORT_TLS_HANDSHAKE',
  /** The flow id names no open connection (it closed, or never existed). */
  NO_FLOW: 'SIPS_ERR_TRANSPORT_NO_FLOW',
  /** The connection closed before a queued or written message could be handed to it. */
  CLOSED: 'SIPS_ERR_TRANSPORT_CLOSED',
  /** Too many sends queued behind one connect. */
  QUEUE_FULL: 'SIPS_ERR_TRANSPORT_QUEUE_FULL',
  /** A datagram larger than the UDP limit (RFC 3261 §18.1.1: use a stream transport). */
  TOO_LARGE: 'SIPS_ERR_TRANSPORT_TOO_LARGE',
  /** No UDP socket of the destination's address family, or a transport with no listener. */
  NO_SOCKET: 'SIPS_ERR_TRANSPORT_NO_SOCKET',
  /** A listener could not bind (bad configuration: address in use, no such address). */
  LISTEN: 'SIPS_ERR_TRANSPORT_LISTEN',
  /** UDP send error from the OS. */
  SEND: 'SIPS_ERR_TRANSPORT_SEND',
} as const;

/** This layer's section of the error table: every send failure is a local 503 for the branch (§17.1.4). */
export const TRANSPORT_ERRORS = {
  SIPS_ERR_TRANSPORT_CONNECT: { status: 503, reason: 'Service Unavailable', meaning: 'TCP connect failed (refused, timeout, unreachable, DNS, connection cap)' },
  SIPS_ERR_TRANSPORT_TLS_HANDSHAKE: { status: 503, reason: 'Service Unavailable', meaning: 'TLS failed or timed out, or the peer\'s certificate was refused (reason as above)' },
  SIPS_ERR_TRANSPORT_NO_FLOW: { status: 503, reason: 'Service Unavailable', meaning: 'the connection a response or in-dialog request should reuse is gone' },
  SIPS_ERR_TRANSPORT_CLOSED: { status: 503, reason: 'Service Unavailable', meaning: 'the connection closed before the message was handed to it' },
  SIPS_ERR_TRANSPORT_QUEUE_FULL: { status: 503, reason: 'Service Unavailable', meaning: 'too many messages queued behind one connect' },
  SIPS_ERR_TRANSPORT_TOO_LARGE: { status: 503, reason: 'Service Unavailable', meaning: 'datagram over the UDP limit' },
  SIPS_ERR_TRANSPORT_NO_SOCKET: { status: 503, reason: 'Service Unavailable', meaning: 'no UDP socket for the destination\'s address family' },
  SIPS_ERR_TRANSPORT_LISTEN: { status: null, meaning: 'a listener could not bind (start fails)' },
  SIPS_ERR_TRANSPORT_SEND: { status: 503, reason: 'Service Unavailable', meaning: 'the OS refused a UDP send' },
} as const satisfies Record<TransportErrorCode, ErrorDef>;

export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[keyof typeof TRANSPORT_ERROR_CODES];

/** A transport failure with a short machine reason (`connect-refused`, `handshake-timeout`, `name-mismatch`, ...). */
export class TransportError extends SipsError {
  declare readonly code: TransportErrorCode;
  readonly reason: string;

  constructor(code: TransportErrorCode, reason: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.reason = reason;
  }
}

/** Short reason for an error before the TCP connection exists. */
export function classifyConnectError(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  switch (code) {
    case 'ECONNREFUSED':
      return 'connect-refused';
    case 'ETIMEDOUT':
      return 'connect-timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns-failure';
    case 'ECONNRESET':
      return 'connect-reset';
    default:
      return 'connect-failed';
  }
}

export function errorDetail(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
