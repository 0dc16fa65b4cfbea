import { formatNameAddr, parseNameAddr } from '../message/headers.js';
import { SipUri } from '../message/uri.js';
import type { Leg } from './identity.js';
import type { Side } from './types.js';

/**
 * The edge keeps no per-dialog state: what an in-dialog request needs is carried in the
 * Record-Route URIs it inserts (architecture: "No per-dialog state").
 *
 *   se=o|i  which side of the edge this entry faces (RFC 5658 double record-routing)
 *   t=HOST  outside entry: the lb host name the dialog runs through, so an in-dialog request
 *           whose next hop is an IP address still connects to a name it can validate (RFC 5922)
 *   f=ID    outside entry: the flow the vendor opened, reused while it is up (RFC 5923 spirit)
 *   pe=NAME inside entry: the inside peer, for its SRTP setting
 */
export interface RouteHints {
  readonly targetName?: string;
  readonly flowId?: string;
  readonly peer?: string;
}

export function recordRouteValue(leg: Leg, hints: RouteHints = {}): string {
  let uri = `sip:${leg.host}:${leg.port};transport=${leg.transport};lr;r2=on;se=${leg.side === 'outside' ? 'o' : 'i'}`;
  if (leg.side === 'outside') {
    if (hints.targetName !== undefined) uri += `;t=${hints.targetName}`;
    if (hints.flowId !== undefined) uri += `;f=${hints.flowId}`;
  } else if (hints.peer !== undefined) {
    uri += `;pe=${hints.peer}`;
  }
  return formatNameAddr({ uriText: uri });
}

export interface OwnRoute {
  readonly side: Side;
  readonly hints: RouteHints;
}

/** Reads one of the edge's own Route entries (null when it carries no `se` marker). */
export function readOwnRoute(uri: SipUri): OwnRoute | null {
  const se = uri.param('se');
  if (se !== 'o' && se !== 'i') return null;
  const t = uri.param('t');
  const f = uri.param('f');
  const pe = uri.param('pe');
  return {
    side: se === 'o' ? 'outside' : 'inside',
    hints: {
      ...(typeof t === 'string' ? { targetName: t } : {}),
      ...(typeof f === 'string' ? { flowId: f } : {}),
      ...(typeof pe === 'string' ? { peer: pe } : {}),
    },
  };
}

export function routeUriOf(value: string): SipUri | null {
  const na = parseNameAddr(value);
  return na.uri instanceof SipUri ? na.uri : null;
}
