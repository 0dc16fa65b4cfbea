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
  /**
   * A socket whose unsent bytes pass this stops being read until it drains (back-pressure). The
   * kernel's send buffer absorbs bursts first, so only a peer that stops reading fills it; what it
   * holds sets the memory an unread connection costs (issue 11 #7, bench/unread-flows.ts: 1 MiB gave
   * +3.7 MB RSS per connection, 256 KiB +2.3 MB, 64 KiB +0.9 MB). One 64 KiB message still fits.
   */
  maxWriteBuffer: 65_536,
  /**
   * Server transactions held at once, answered or not; past it new INVITEs get 503. A memory guard:
   * RFC 6026 keeps each for 32 s after the final response, compacted to its response bytes (about
   * 6.3 KB of heap per call with its client side and no native Buffers — the bytes are kept as
   * latin1 strings, which a full GC compacts and returns — measured by bench/call-flow.ts), so
   * 500,000 (two per call: about 7,800 calls/s held for 32 s) stays near 1.6 GB, under Node's 4 GB heap.
   * Per edge: with edge.workers each worker holds its share (DIVIDED_AMONG_WORKERS).
   */
  maxTransactions: 500_000,
  /** Requests forwarded and still waiting for their final response, or whose SDP is still with rtpengine; past it new INVITEs get 503 (a load guard). */
  maxPendingRequests: 5_000,
  /**
   * Initial INVITEs not yet answered for one trunk (outbound) or one inside peer (inbound); past it
   * that trunk's or peer's new INVITEs get 503. Counted from admission on: an anchored call whose
   * offer still waits on rtpengine counts too, so a slow rtpengine cannot pile up one trunk's offers.
   * Half the global limit: a trunk whose calls are never answered (Timer C holds them minutes) fills
   * its own share, never another trunk's.
   */
  maxPendingPerTrunk: 2_500,
  /**
   * New server transactions per second from one vendor address or one inside peer address (token
   * bucket, refused with 503 past it; retransmissions, ACK, CANCEL and in-dialog requests of known
   * sources are not counted). Far above a PBX's or an lb host's real call rate (tens to hundreds
   * of calls/s), below the edge's capacity on 2 cores (3,500-5,750 calls/s, bench/cps.sh, which
   * raises it): one runaway or looping source cannot take the CPU every other source needs.
   * Per source, so not divided with edge.workers: a source sending from many ports may reach every worker.
   */
  knownSourceRequestRate: 2_000,
  /** Burst above that rate (a PBX restart re-sends OPTIONS and queued calls at once). */
  knownSourceRequestBurst: 4_000,
  /** New transactions per second from one address that is neither the vendor nor a peer (it would be refused anyway). */
  strangerRequestRate: 5,
  strangerRequestBurst: 20,
  /** All strangers together: spoofed sources or a botnet get this much parse and routing work, never the vendor's or a peer's. */
  strangersRequestRate: 200,
  strangersRequestBurst: 400,
  /** Source addresses whose buckets are remembered; past it the oldest is forgotten (spoofed UDP cannot grow memory). */
  maxTrackedSources: 10_000,
  /**
   * The edge's stateless 503s (and 400s) for refused requests of every source but the vendor and the
   * peers, per second; beyond it they are dropped and counted (never a reflector). A known source's
   * refusals are answered from a bucket of its own, of knownSourceRequestRate/Burst: a shed PBX hears
   * of every refused call and backs off, instead of retransmitting into the overload.
   */
  overloadResponseRate: 200,
  overloadResponseBurst: 400,
  /**
   * Retry-After (s) on the edge's own overload, drain and unreachable-target 503s (RFC 3261 §21.5.4,
   * §20.33): long enough that a vendor's retry lands after a restart or a DNS fix, short enough not to
   * idle a trunk for minutes.
   */
  retryAfterSeconds: 30,
  /**
   * New INVITEs get a stateless 503 (SIPS_ERR_PROXY_OVERLOAD, Retry-After
   * rateLimitRetryAfterSeconds) while the event loop's median delay over the last 0.5 s is above this
   * (ms; 0 = off). A healthy edge reads well under 1 ms and one GC pause does not move a median: past
   * it the loop keeps falling behind, and shedding new calls lets the admitted ones finish before
   * the callers' retransmissions (T1 = 500 ms) pile onto the queue (issue 13).
   */
  maxEventLoopDelayMs: 100,
  /** Drills and tests only: added to the measured loop delay, so the shed can be seen without overloading the edge. 0 in service. */
  eventLoopDelayDrillMs: 0,
  /**
   * Event-loop utilization (percent of time the loop was not idle, per process, a moving average over about 3 s) from which
   * new INVITEs are shed with the same stateless 503, in proportion to the excess: at 97.5 % of a
   * limit of 95, every other one; at 100 %, all (0 = off). As a CPU-load call admission control in
   * other SBCs, it counts whatever keeps the loop busy, a flood included. A saturated loop over UDP shows little
   * delay (every turn is short) while the kernel's receive buffer fills and the callers start
   * retransmitting: utilization sees that, delay does not. A new call costs about seven messages
   * through the edge, its 503 one, so shedding frees the loop for the calls already admitted.
   * The loop counts the time it waits for a CPU as busy, so on a host shared with other work the
   * shed started early (bench/cps.sh on 2 cores shared with SIPp, 2026-12-03: 95 % carried 3,120 calls/s,
   * off 3,750; off, a cold edge offered 2,500 at once fell into a retransmission storm and lost calls,
   * with 95 or 98 it shed and lost none). So the figure compared is the loop's CPU share, and its
   * wall-time utilization only while its UDP listeners show it falling behind (turn after turn
   * reading a full poll of queued datagrams, src/loop-load.ts): 17:16-17:24 the same day, 3,250 and
   * 3,000 calls/s against Kamailio's 3,500 and 3,250, where the wall-time rule gave 2,370-3,000; a cold
   * edge offered 3,000 or 4,500 still sheds and loses no call (docs/scale.md). 95 leaves room for bursts.
   */
  maxEventLoopUtilizationPercent: 95,
  /** Drills and tests only: added to the measured utilization (percent), so the shed can be seen without saturating the edge. 0 in service. */
  eventLoopUtilizationDrillPercent: 0,
  /** Retry-After (s) on rate-limit 503s: the burst passes within seconds, a longer value would idle a whole trunk. */
  rateLimitRetryAfterSeconds: 5,
  /** Accepted connections with no traffic for this long are closed (s). */
  idleTimeoutSeconds: 3_600,
  /** RFC 5626 §4.4.1 CRLF keep-alive on connections the edge opened (s). */
  keepAliveIntervalSeconds: 30,
  /** A ping not answered by a pong within this closes the flow (s). */
  keepAlivePongTimeoutSeconds: 10,
  /**
   * Accepted connections (TLS handshakes included) per listener: a flood on one listener leaves the
   * others their share (issue 11 #6: one 10,000 cap shared by every listener was exhausted by idle
   * strangers).
   */
  maxConnectionsPerListener: 4_000,
  /** Accepted connections on all outside listeners; with the inside cap, keeps maxConnections room for the connections the edge opens. */
  maxOutsideConnections: 4_000,
  /** Accepted connections on all inside listeners (PBXs and carriers need a handful each). */
  maxInsideConnections: 4_000,
  /** Slots of each cap (listener, side, maxConnections) that connections from unknown sources never take: the vendor's and the PBXs' next connection still fits. */
  reservedConnections: 200,
  /**
   * Connections per listener from sources that are neither vendor addresses (outside) nor a peer's
   * sources (inside). 0 = refused at accept, before the TLS handshake costs anything; above 0 they
   * are admitted (below the reserve) and answered 403 at SIP level.
   */
  unknownSourceConnectionsPerListener: 0,
  /** An accepted connection that sends no complete SIP message within this is closed (s); the idle timeout applies after that. */
  firstMessageTimeoutSeconds: 10,
  /** A connection whose write queue passed maxWriteBuffer (reading paused) and has not drained within this is closed: the peer does not read (s). */
  writeStallSeconds: 10,
  /** Unsent bytes past which a connection is closed at once (the hard bound on one connection's write queue). */
  maxWriteQueue: 2_097_152,
  /** A request followed by FIN is answered on the half-closed connection; our side ends this long after the FIN (s, 64*T1). */
  halfClosedLingerSeconds: 32,
} as const;

export type Limits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

/**
 * edge.workers: `limits.*` are per edge. The global budgets below are divided among the workers
 * (each gets ceil(value / N); 0 stays 0); every other limit is per message, per connection, per
 * socket or per source and applies in each worker as it is: a UDP source's 4-tuple and a TCP or
 * TLS connection always land on one worker. The table with the reason per key: docs/workers.md.
 */
export const DIVIDED_AMONG_WORKERS = [
  'maxConnections',
  // One address's connections come from many source ports, which the kernel spreads over the
  // workers: each worker bounds its share, together they bound the address.
  'maxConnectionsPerAddress',
  'maxTransactions',
  'maxPendingRequests',
  'maxPendingPerTrunk',
  'strangersRequestRate',
  'strangersRequestBurst',
  'overloadResponseRate',
  'overloadResponseBurst',
  'maxConnectionsPerListener',
  'maxOutsideConnections',
  'maxInsideConnections',
  'reservedConnections',
  'unknownSourceConnectionsPerListener',
] as const satisfies readonly (keyof Limits)[];

/** One worker's share of the edge's limits (DIVIDED_AMONG_WORKERS). */
export function limitsPerWorker<L extends Limits>(limits: L, workers: number): L {
  if (workers <= 1) return limits;
  const out = { ...limits };
  for (const k of DIVIDED_AMONG_WORKERS) out[k] = Math.ceil(limits[k] / workers);
  return out;
}
