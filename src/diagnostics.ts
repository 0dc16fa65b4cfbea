/**
 * The events the edge reports about itself, declared once: the producers (proxy, admission, tls
 * revocation) emit them, observability turns them into logs and metrics. A leaf: it imports nothing,
 * so every layer may use it and observability need not restate the shapes of the layers above it.
 *
 * Why typed observer calls and not `node:diagnostics_channel` (as undici publishes): measured on
 * Node 24 (issue 12), a publish to a channel with one subscriber costs about 10-15 ns more per event
 * than a direct call (about 0.1 µs for the ~9 events of a call, below the noise of
 * bench/call-flow.ts at ~100 µs per call), so cost is not the reason. The reasons: every event here
 * always has exactly one subscriber (the edge's own logs and metrics), so a channel adds a name
 * lookup and an untyped `unknown` message where the typed seam (ProxyObserver in proxy/deps.ts,
 * checked by test/unit/observability/seams.test.ts) lets the compiler keep producer and consumer in
 * step. An external tap (APM) can later be one observer that publishes when `hasSubscribers`.
 */

/** Which side of the edge: `outside` faces the vendor (the trunk), `inside` the PBXs. */
export type Side = 'inside' | 'outside';

/** One per proxied transaction outcome. */
export interface TransactionDoneEvent {
  readonly callId: string;
  readonly method: string;
  readonly fromSide: Side;
  readonly toSide: Side | null;
  readonly peer: string;
  readonly transport: string;
  readonly status: number;
  readonly durationMs: number;
  /** Trunk or peer the request was routed by. */
  readonly route: string | null;
  readonly target: string | null;
  /** `SIPS_ERR_*` when the edge caused or decided the outcome. */
  readonly code: string | null;
  /** The rtpengine instance of an anchored call (issue 14). */
  readonly media?: string;
}

/** A request the edge answered itself with an error (validation, routing, SRTP, overload); status 0: dropped. */
export interface LocalReplyEvent {
  readonly method: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly peer: string;
}

/** A target of a trunk failed or answered (for passive health and the lab report). */
export interface TargetOutcomeEvent {
  readonly trunk: string | null;
  readonly target: string;
  readonly status: number;
  readonly reason: string | null;
  /**
   * How it counts for passive health: `failure` only for transport failures and the host's own
   * 503; a slow or silent answer (failover timer, Timer B/C) is `neutral` and left to the probes.
   */
  readonly health?: 'failure' | 'success' | 'neutral';
}

/** INVITE setup timing: first 18x and 2xx after the INVITE arrived. */
export interface CallSetupEvent {
  readonly stage: 'ringing' | 'answered';
  readonly ms: number;
  readonly route: string | null;
}

/** SDP gate results (S-MEDIA-1). */
export interface SdpCheckedEvent {
  readonly direction: 'request' | 'response';
  readonly ok: boolean;
  readonly reason: string | null;
  readonly audit: boolean;
  /** Derived from direction (request = offer, response = answer) when absent. */
  readonly kind?: 'offer' | 'answer';
}

/** A provisional dropped by the SDP gate, or another message intentionally not forwarded. */
export interface DroppedEvent {
  readonly what: string;
  readonly reason: string;
}

export type SourceKind = 'vendor' | 'peer' | 'stranger';
/** Why admission refused a new request (`trunk-pending`: the proxy's per-trunk limit). */
export type RefusalReason = 'source-rate' | 'strangers-rate' | 'trunk-pending' | 'malformed' | 'loop-delay' | 'loop-busy';
export type RefusalResponse = 'sent' | 'suppressed' | 'silent';

/** A new request refused by admission (rate limit, per-trunk pending limit) and what it was answered with. */
export interface AdmissionRefusedEvent {
  readonly side: Side;
  readonly source: SourceKind;
  readonly reason: RefusalReason;
  readonly response: RefusalResponse;
}

/** CRL handling (S-VAL-5). */
export interface RevocationEvent {
  /** `fetched`: a distribution point answered with its issuer's CRL (metrics only, not a warning). */
  readonly kind: 'fetched' | 'fetch-failed' | 'crl-invalid' | 'crl-stale' | 'no-crl' | 'soft-allowed';
  readonly detail: string;
  readonly url?: string;
  /** fetched / fetch-failed / crl-invalid: how long the fetch took. */
  readonly durationMs?: number;
  /** fetch-failed: the total deadline (fetchTimeoutMs) ended it. */
  readonly timedOut?: boolean;
}
