/**
 * One table: every reason the proxy answers a request itself, with the status it uses. The code
 * travels in `Warning: 399 <edge> "<code>: <text>"`, the log line and the metric label.
 */
export const PROXY_ERRORS = {
  SIPS_ERR_PROXY_BAD_REQUEST: { status: 400, reason: 'Bad Request' },
  SIPS_ERR_PROXY_URI_SCHEME: { status: 416, reason: 'Unsupported URI Scheme' },
  SIPS_ERR_PROXY_TOO_MANY_HOPS: { status: 483, reason: 'Too Many Hops' },
  SIPS_ERR_PROXY_TOO_MANY_VIAS: { status: 483, reason: 'Too Many Hops' },
  SIPS_ERR_PROXY_LOOP: { status: 482, reason: 'Loop Detected' },
  SIPS_ERR_PROXY_BAD_EXTENSION: { status: 420, reason: 'Bad Extension' },
  SIPS_ERR_PROXY_NOT_HERE: { status: 404, reason: 'Not Here' },
  SIPS_ERR_PROXY_NO_TRANSACTION: { status: 481, reason: 'Call/Transaction Does Not Exist' },
  SIPS_ERR_PROXY_OVERLOAD: { status: 503, reason: 'Service Unavailable' },
  SIPS_ERR_PROXY_RATE_LIMITED: { status: 503, reason: 'Service Unavailable' },
  SIPS_ERR_PROXY_TRUNK_OVERLOAD: { status: 503, reason: 'Service Unavailable' },
  SIPS_ERR_PROXY_DRAINING: { status: 503, reason: 'Service Unavailable' },
  SIPS_ERR_PROXY_TRANSPORT: { status: 503, reason: 'Service Unavailable' },
  SIPS_ERR_PROXY_TIMEOUT: { status: 408, reason: 'Request Timeout' },
  SIPS_ERR_PROXY_SRTP_REQUIRED: { status: 488, reason: 'Not Acceptable Here' },
  SIPS_ERR_PROXY_FORBIDDEN: { status: 403, reason: 'Forbidden' },
  SIPS_ERR_PROXY_ROUTE_FORGED: { status: 403, reason: 'Forbidden' },
  SIPS_ERR_PROXY_FOREIGN_ROUTE: { status: 403, reason: 'Forbidden' },
  SIPS_ERR_PROXY_UNKNOWN_NEXT_HOP: { status: 403, reason: 'Forbidden' },
} as const;

export type ProxyErrorCode = keyof typeof PROXY_ERRORS;

/** A Warning header value (RFC 3261 §20.43) naming the edge and the code. */
export function warningValue(agent: string, code: string, text: string): string {
  const clean = `${code}: ${text}`.replace(/["\\\r\n]/g, "'").slice(0, 200);
  return `399 ${agent} "${clean}"`;
}

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
export function warningFor(deps: { readonly agent: string; readonly warningDetail?: WarningPolicy }, side: 'inside' | 'outside' | undefined, code: string, text: string): string {
  const policy = deps.warningDetail ?? DEFAULT_WARNING_POLICY;
  const detail = side === 'inside' ? policy.inside : policy.outside;
  return detail === 'full' ? warningValue(deps.agent, code, text) : `399 ${deps.agent} "${code}"`;
}
