import { formatNameAddr, parseNameAddr } from '../message/headers.js';
import type { SipMessage } from '../message/message.js';
import { SipUri } from '../message/uri.js';
import type { Leg } from './identity.js';
import { SIGNATURE_PARAM, type RouteSigner } from './route-signature.js';
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
 *   sg=MAC  an HMAC over the four above (route-signature.ts): only entries the edge wrote steer it
 */
export interface RouteHints {
  readonly targetName?: string;
  readonly flowId?: string;
  readonly peer?: string;
}

/** One entry, signed once per write (two HMACs per forwarded dialog-creating request). */
export function recordRouteValue(leg: Leg, hints: RouteHints, signer: RouteSigner): string {
  const se = leg.side === 'outside' ? 'o' : 'i';
  let uri = `sip:${leg.host}:${leg.port};transport=${leg.transport};lr;r2=on;se=${se}`;
  let t: string | undefined;
  let f: string | undefined;
  let pe: string | undefined;
  if (leg.side === 'outside') {
    t = hints.targetName;
    f = hints.flowId;
    if (t !== undefined) uri += `;t=${t}`;
    if (f !== undefined) uri += `;f=${f}`;
  } else {
    pe = hints.peer;
    if (pe !== undefined) uri += `;pe=${pe}`;
  }
  uri += `;${SIGNATURE_PARAM}=${signer.sign(se, t, f, pe)}`;
  return formatNameAddr({ uriText: uri });
}

/**
 * §16.6 step 4: the edge's Record-Route on a request that came in by `inLeg` and leaves by
 * `exitLeg`, doubled when the legs differ (RFC 5658). The entry nearest the callee goes on top:
 * the callee's route set starts with it.
 */
export function addRecordRoute(out: SipMessage, inLeg: Leg, inHints: RouteHints, exitLeg: Leg, outHints: RouteHints, signer: RouteSigner): void {
  const inEntry = recordRouteValue(inLeg, inHints, signer);
  const outEntry = recordRouteValue(exitLeg, outHints, signer);
  const viaIndex = out.indexAfter('via');
  if (!sameLeg(inLeg, exitLeg)) out.prepend('record-route', inEntry, viaIndex < 0 ? 0 : viaIndex);
  out.prepend('record-route', sameLeg(inLeg, exitLeg) ? inEntry : outEntry, viaIndex < 0 ? 0 : viaIndex);
}

function sameLeg(a: Leg, b: Leg): boolean {
  return a.side === b.side && a.transport === b.transport && a.port === b.port && a.host === b.host;
}

export interface OwnRoute {
  readonly side: Side;
  readonly hints: RouteHints;
}

/**
 * Reads one of the edge's own Route entries: null when it carries no `se` marker (a plain Route
 * to the edge), 'forged' when it has one but its signature does not verify.
 */
export function readOwnRoute(uri: SipUri, signer: RouteSigner): OwnRoute | 'forged' | null {
  // Route entries are parsed once per distinct value (message.ts), so the same SipUri comes back in
  // every ACK and BYE through one host and flow: its reading is kept with it, for this signer
  // (a reload's new keys make a new signer). A forged one is read again each time.
  const memo = ownRouteMemo.get(uri);
  if (memo !== undefined && memo.signer === signer) return memo.route;
  const route = readOwnRouteOnce(uri, signer);
  if (route !== 'forged') ownRouteMemo.set(uri, { signer, route });
  return route;
}

const ownRouteMemo = new WeakMap<SipUri, { readonly signer: RouteSigner; readonly route: OwnRoute | null }>();

function readOwnRouteOnce(uri: SipUri, signer: RouteSigner): OwnRoute | 'forged' | null {
  const se = uri.param('se');
  if (se === undefined) return null;
  if (se !== 'o' && se !== 'i') return 'forged';
  const t = str(uri.param('t'));
  const f = str(uri.param('f'));
  const pe = str(uri.param('pe'));
  const sg = uri.param(SIGNATURE_PARAM);
  if (typeof sg !== 'string' || !signer.verify(se, t, f, pe, sg)) return 'forged';
  return {
    side: se === 'o' ? 'outside' : 'inside',
    hints: {
      ...(t !== undefined ? { targetName: t } : {}),
      ...(f !== undefined ? { flowId: f } : {}),
      ...(pe !== undefined ? { peer: pe } : {}),
    },
  };
}

function str(v: string | null | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function routeUriOf(value: string): SipUri | null {
  const na = parseNameAddr(value);
  return na.uri instanceof SipUri ? na.uri : null;
}
