import { DEFAULT_MESSAGE_LIMITS } from '../message/constants.js';

/**
 * Every operator limit, named once with its default and the reason for it. The config's `limits`
 * section overrides any of them; code reads them from there, never from literals.
 */
export const DEFAULT_LIMITS = {
  /** RFC 3261 §18.1.1 speaks of 1300 bytes for UDP; SIP with SDP and headers rarely passes 16 KiB, 64 KiB is the UDP ceiling. */
  maxMessageSize: DEFAULT_MESSAGE_LIMITS.maxMessageSize,
  /** A header section larger than this is an attack or a loop, not a call. */
  maxHeaderSection: DEFAULT_MESSAGE_LIMITS.maxHeaderSection,
  maxHeaders: DEFAULT_MESSAGE_LIMITS.maxHeaders,
  /**
   * Each proxy adds one Via, and Max-Forwards starts at 70 (RFC 3261 §8.1.1.6), so a legal request
   * can carry 70 or more (RFC 4475 §3.1.1.7 has 34): 100 admits every legal path with room, and still
   * bounds the work per message. Requests with this many are refused with 483 before forwarding
   * (the copy would carry one more); responses may carry one more (the edge's own).
   */
  maxVia: DEFAULT_MESSAGE_LIMITS.maxVia,
  maxLineLength: DEFAULT_MESSAGE_LIMITS.maxLineLength,
  /** Stream connections held at once (accepted + opened). */
  maxConnections: 10_000,
  /** Accepted connections from one address: a PBX or an lb host needs a handful. */
  maxConnectionsPerAddress: 100,
  /** UDP SO_RCVBUF: bursts queue during a GC pause instead of being dropped (kernel caps at rmem_max). */
  udpReceiveBufferBytes: 4_194_304,
  /** A socket whose unsent bytes pass this stops being read until it drains (back-pressure). */
  maxWriteBuffer: 1_048_576,
  /**
   * Server transactions held at once, answered or not; past it new INVITEs get 503. A memory guard:
   * RFC 6026 keeps each for 32 s after the final response, compacted to its response bytes (about
   * 3.5 KB of heap and 1 KB of buffers with its client side, measured by bench/call-flow.ts), so
   * 500,000 (two per call: about 7,800 calls/s held for 32 s) stays near 2.5 GB, under Node's 4 GB heap.
   */
  maxTransactions: 500_000,
  /** Forwarded requests still waiting for their final response; past it new INVITEs get 503 (a load guard). */
  maxPendingRequests: 5_000,
  /** Accepted connections with no traffic for this long are closed (s). */
  idleTimeoutSeconds: 3_600,
  /** RFC 5626 §4.4.1 CRLF keep-alive on connections the edge opened (s). */
  keepAliveIntervalSeconds: 30,
  /** A ping not answered by a pong within this closes the flow (s). */
  keepAlivePongTimeoutSeconds: 10,
} as const;

export type Limits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };
