import type { ErrorSection } from '../errors.js';
import { MEDIA_ERRORS, type MediaErrorCode } from '../media/types.js';
import type { Side } from '../diagnostics.js';
import { warningValue } from '../message/warning.js';
import type { RejectDecision } from '../routing/types.js';

/**
 * One table: every reason the proxy answers a request itself, with the status it uses. The code
 * travels in `Warning: 399 <edge> "<code>: <text>"`, the log line and the metric label.
 */
export const PROXY_ERRORS = {
  SIPS_ERR_PROXY_BAD_REQUEST: { status: 400, reason: 'Bad Request', also: '500', meaning: 'a header the proxy must read does not parse (§16.3 step 1); detail names the parse code; 500 when the edge\'s own code failed (a bug: `internal error`)' },
  SIPS_ERR_PROXY_URI_SCHEME: { status: 416, reason: 'Unsupported URI Scheme', meaning: 'Request-URI scheme other than sip, sips, tel (§16.3 step 2)' },
  SIPS_ERR_PROXY_TOO_MANY_HOPS: { status: 483, reason: 'Too Many Hops', meaning: 'Max-Forwards 0 (§16.3 step 3; OPTIONS to the edge itself is still answered)' },
  SIPS_ERR_PROXY_TOO_MANY_VIAS: { status: 483, reason: 'Too Many Hops', meaning: 'the request already has `limits.maxVia` Via entries: the forwarded copy would carry one more, so it is refused before forwarding' },
  SIPS_ERR_PROXY_LOOP: { status: 482, reason: 'Loop Detected', meaning: 'the request came back through the edge unchanged (§16.3 step 4)' },
  SIPS_ERR_PROXY_BAD_EXTENSION: { status: 420, reason: 'Bad Extension', meaning: 'Proxy-Require names an extension (the edge supports none); Unsupported lists them' },
  SIPS_ERR_PROXY_NOT_HERE: { status: 404, reason: 'Not Here', meaning: 'in-dialog request without a Route to this edge' },
  SIPS_ERR_PROXY_NO_TRANSACTION: { status: 481, reason: 'Call/Transaction Does Not Exist', meaning: 'CANCEL for no INVITE transaction here' },
  SIPS_ERR_PROXY_OVERLOAD: { status: 503, reason: 'Service Unavailable', meaning: 'more than `limits.maxTransactions` transactions, or (new INVITEs, a stateless 503) the event-loop delay above `limits.maxEventLoopDelayMs` or its utilization above `limits.maxEventLoopUtilizationPercent`; Retry-After' },
  SIPS_ERR_PROXY_RATE_LIMITED: { status: 503, reason: 'Service Unavailable', meaning: 'new transactions from one source (or from all strangers) over their `limits.*RequestRate` token bucket; Retry-After `limits.rateLimitRetryAfterSeconds`; sent statelessly at most `limits.overloadResponseRate`/s, never to UDP strangers' },
  SIPS_ERR_PROXY_TRUNK_OVERLOAD: { status: 503, reason: 'Service Unavailable', meaning: '`limits.maxPendingPerTrunk` INVITEs of this trunk or inside peer are unanswered (forwarded, or their offer still with rtpengine); Retry-After' },
  SIPS_ERR_PROXY_DRAINING: { status: 503, reason: 'Service Unavailable', meaning: 'SIGTERM drain: new INVITEs refused; Retry-After' },
  SIPS_ERR_PROXY_TRANSPORT: { status: 503, reason: 'Service Unavailable', also: '500', meaning: 'no target could be reached (transport or TLS failure: the detail carries the TLS reason, e.g. `name-mismatch`); 500 when a downstream 503 was the best answer (RFC 3261 §16.7)' },
  SIPS_ERR_PROXY_TIMEOUT: { status: 408, reason: 'Request Timeout', also: '487', meaning: 'no final response from any target (Timer B/F/C); 487 after a CANCEL' },
  SIPS_ERR_PROXY_SRTP_REQUIRED: { status: 488, reason: 'Not Acceptable Here', meaning: 'the SDP offer, or the 2xx answer, is not SRTP where the leg requires it (S-MEDIA-1); detail = the SDP code below' },
  SIPS_ERR_PROXY_FORBIDDEN: { status: 403, reason: 'Forbidden', meaning: 'the request arrived on a listener the edge does not know' },
  SIPS_ERR_PROXY_ROUTE_FORGED: { status: 403, reason: 'Forbidden', meaning: 'a Route (or strict-routed Request-URI) names the edge with `se=` but its `sg=` signature does not verify under any `edge.routeKeys` key, or the edge\'s entries lead back to the side the request came from (docs/hardening/relay.md)' },
  SIPS_ERR_PROXY_FOREIGN_ROUTE: { status: 403, reason: 'Forbidden', meaning: 'an initial request from an inside peer carries a Route set and `routing.foreignRoutes` is `refuse`' },
  SIPS_ERR_PROXY_UNKNOWN_NEXT_HOP: { status: 403, reason: 'Forbidden', meaning: 'an in-dialog next hop is neither an open flow, a TLS name, nor a configured peer (inside) / vendor (outside) address' },
} as const satisfies ErrorSection;

export type ProxyErrorCode = keyof typeof PROXY_ERRORS;

/** Every code the proxy answers a request with itself: its own and the media plane's (issue 14). */
export type ReplyCode = ProxyErrorCode | MediaErrorCode;
export const REPLY_ERRORS: Readonly<Record<ReplyCode, { readonly status: number; readonly reason: string }>> = { ...PROXY_ERRORS, ...MEDIA_ERRORS };


/**
 * How much of the detail a Warning carries toward one side: `full` (code and text: lb host names,
 * reasons) or `code` (the SIPS_ERR_* code alone, still the troubleshooting key). Toward the vendor
 * and any source that is not a configured inside peer the text would reveal the inside topology.
 */
export type WarningDetail = 'full' | 'code';

export interface WarningPolicy {
  readonly inside: WarningDetail;
  readonly outside: WarningDetail;
}

/** Default (logging.warningDetail): full text toward inside peers, the code alone toward the vendor. */
export const DEFAULT_WARNING_POLICY: WarningPolicy = { inside: 'full', outside: 'code' };

/** The Warning value for a response going to `side`, with the detail the policy allows there. */
export function warningFor(deps: { readonly agent: string; readonly warningDetail?: WarningPolicy }, side: Side | undefined, code: string, text: string): string {
  const policy = deps.warningDetail ?? DEFAULT_WARNING_POLICY;
  const detail = side === 'inside' ? policy.inside : policy.outside;
  return warningValue(deps.agent, code, detail === 'full' ? text : null);
}

/** A refusal a route decision carries, with its code's status (reason phrase: the code's, unless given). */
export function proxyReject(code: ProxyErrorCode, reason: string = PROXY_ERRORS[code].reason): RejectDecision {
  return { kind: 'reject', status: PROXY_ERRORS[code].status, code, reason };
}
