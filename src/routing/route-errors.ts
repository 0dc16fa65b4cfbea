import type { ErrorSection } from '../errors.js';
import type { RejectDecision } from './types.js';

/** Routing's section of the error table: every refusal a route decision carries. */
export const ROUTE_ERRORS = {
  SIPS_ERR_ROUTE_NO_ROUTE: { status: 404, reason: 'Not Found', meaning: 'no trunk or peer matches and no default is configured' },
  SIPS_ERR_ROUTE_ALL_DOWN: { status: 503, reason: 'Service Unavailable', meaning: 'every host of the trunk is down (health probes); Retry-After' },
  SIPS_ERR_ROUTE_UNRESOLVED: { status: 503, reason: 'Service Unavailable', meaning: 'the target host name did not resolve; Retry-After' },
  SIPS_ERR_ROUTE_FORBIDDEN: { status: 403, reason: 'Forbidden', also: 'dropped', meaning: 'source not allowed on that side (outside: not a vendor address; inside: no peer). UDP is dropped silently' },
  SIPS_ERR_ROUTE_UNSUPPORTED_URI: { status: 416, reason: 'Unsupported URI Scheme', meaning: 'next hop URI with an unsupported scheme' },
  SIPS_ERR_ROUTE_IP_TARGET: { status: 502, reason: 'Bad Gateway', meaning: 'an in-dialog next hop toward the vendor is an IP address with no lb name to validate against (S-VAL-3)' },
  SIPS_ERR_ROUTE_BAD_URI: { status: 400, reason: 'Bad Request-URI', meaning: 'the Request-URI carries no usable number or host' },
} as const satisfies ErrorSection;

export type RouteErrorCode = keyof typeof ROUTE_ERRORS;

/** A refusal with the status and reason phrase of its code (headers: Retry-After and the like). */
export function routeReject(code: RouteErrorCode, headers?: readonly (readonly [string, string])[]): RejectDecision {
  const def = ROUTE_ERRORS[code];
  return headers === undefined ? { kind: 'reject', status: def.status, reason: def.reason, code } : { kind: 'reject', status: def.status, reason: def.reason, code, headers };
}
