/**
 * Which trunk (inside -> vendor) or which peer (vendor -> inside) a dialog-starting request goes to.
 * Pure over the config; prefixes match the called number as received (visual separators removed),
 * before any trunk's normalisation (the trunk, and so its number rules, is not known yet).
 */
import type { EdgeConfig, PeerConfig } from '../config/schema.js';
import { SipUri, TelUri, type Uri } from '../message/uri.js';
import type { RejectDecision } from './types.js';
import { calledNumber, dialString, prefixMatches } from './numbers.js';
import type { TrunkPlan } from './targets.js';
import { routeReject } from './route-errors.js';

export interface TrunkSelection {
  readonly kind: 'trunk';
  readonly plan: TrunkPlan;
  /** Why this trunk: `peers[pbx].trunk`, `routing.outbound[0] prefix 0049`, `routing.defaultTrunk`. */
  readonly rule: string;
  readonly rawNumber: string;
  readonly countryCode?: string;
}

export interface PeerSelection {
  readonly kind: 'peer';
  readonly peer: PeerConfig;
  readonly rule: string;
  readonly rawNumber: string | undefined;
}

/** A refusal with the detail for logs and `route --explain` (never sent on the wire). */
export interface RouteReject extends RejectDecision {
  readonly detail: string;
}

export function noRoute(detail: string): RouteReject {
  return { ...routeReject('SIPS_ERR_ROUTE_NO_ROUTE'), detail };
}

export function unsupportedUri(uri: Uri): RouteReject {
  // RFC 3261 §16.3 step 2 / §21.4.17: a scheme the edge cannot route.
  return { ...routeReject('SIPS_ERR_ROUTE_UNSUPPORTED_URI'), detail: `scheme ${uri.scheme}` };
}

/** Inside -> outside: peer.trunk, else routing.outbound by prefix, else routing.defaultTrunk. */
export function selectTrunk(config: EdgeConfig, plans: ReadonlyMap<string, TrunkPlan>, uri: Uri, peer: PeerConfig | undefined): TrunkSelection | RouteReject {
  if (!(uri instanceof SipUri) && !(uri instanceof TelUri)) return unsupportedUri(uri);
  const n = calledNumber(uri);
  if (n === undefined) return noRoute('no called number in the Request-URI');
  const cc = n.countryCode === undefined ? {} : { countryCode: n.countryCode };
  const pick = (name: string, rule: string): TrunkSelection | RouteReject => {
    const plan = plans.get(name);
    return plan === undefined ? noRoute(`trunk ${name} unknown`) : { kind: 'trunk', plan, rule, rawNumber: n.raw, ...cc };
  };
  if (peer?.trunk !== undefined) return pick(peer.trunk, `peers[${peer.name}].trunk`);
  const i = config.routing.outbound.findIndex((r) => prefixMatches(r.prefix, n.raw));
  const r = config.routing.outbound[i];
  if (r !== undefined) return pick(r.trunk, `routing.outbound[${i}] prefix ${JSON.stringify(r.prefix)}`);
  if (config.routing.defaultTrunk !== undefined) return pick(config.routing.defaultTrunk, 'routing.defaultTrunk');
  return noRoute(`no trunk for ${n.raw}${peer === undefined ? '' : ` from peer ${peer.name}`}`);
}

/**
 * Outside -> inside: the first `routing.inbound` rule whose given fields all match (R-URI host =
 * the vendor's Outbound SIP Termination FQDN, `tgrp` user parameter, called-number prefix), else
 * routing.defaultPeer.
 */
export function selectPeer(config: EdgeConfig, uri: Uri): PeerSelection | RouteReject {
  if (!(uri instanceof SipUri) && !(uri instanceof TelUri)) return unsupportedUri(uri);
  const raw = calledNumber(uri)?.raw;
  const host = uri instanceof SipUri ? uri.host.toLowerCase() : undefined;
  const tgrp = uri instanceof SipUri ? uri.userParam('tgrp') ?? undefined : uri.param('tgrp') ?? undefined;
  const peers = new Map(config.peers.map((p) => [p.name, p]));
  const rules = config.routing.inbound;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.host !== undefined && r.host.toLowerCase() !== host) continue;
    if (r.tgrp !== undefined && r.tgrp !== tgrp) continue;
    if (r.prefix !== undefined && (raw === undefined || !prefixMatches(r.prefix, raw))) continue;
    const peer = peers.get(r.peer);
    if (peer === undefined) return noRoute(`peer ${r.peer} unknown`);
    const what = [r.host !== undefined ? `host ${r.host}` : '', r.tgrp !== undefined ? `tgrp ${r.tgrp}` : '', r.prefix !== undefined ? `prefix ${JSON.stringify(r.prefix)}` : ''].filter(Boolean).join(', ');
    return { kind: 'peer', peer, rule: `routing.inbound[${i}]${what ? ` ${what}` : ' (catch-all)'}`, rawNumber: raw === undefined ? undefined : dialString(raw) };
  }
  const def = config.routing.defaultPeer === undefined ? undefined : peers.get(config.routing.defaultPeer);
  if (def !== undefined) return { kind: 'peer', peer: def, rule: 'routing.defaultPeer', rawNumber: raw === undefined ? undefined : dialString(raw) };
  return noRoute(`no inside peer for ${uri.toString()}`);
}

/** User-part parameters that name the vendor's trunk group: meaningless to the inside peer. */
const VENDOR_USER_PARAMS = new Set(['tgrp', 'trunk-context']);
/** URI parameters about how to reach the *previous* hop (RFC 3261 §19.1.1): not carried inward. */
const TRANSPORT_PARAMS = new Set(['transport', 'maddr', 'ttl', 'lr', 'method']);

/**
 * The Request-URI toward an inside peer: `sip:<number>@<peer host>:<port>`, keeping the user-part
 * number and those R-URI params that are not transport-specific (user=phone, others); dropping
 * tgrp/trunk-context, transport, maddr, ttl, lr, method and URI headers; adding transport=tcp|tls
 * when the peer is not on UDP.
 */
export function insideRequestUri(uri: Uri, peer: PeerConfig): SipUri {
  const host = peer.host.includes(':') && !peer.host.startsWith('[') ? `[${peer.host}]` : peer.host;
  let user: string | null = null;
  let params: { name: string; value: string | null }[] = [];
  if (uri instanceof SipUri) {
    const keepUser = uri.userParams.filter((p) => !VENDOR_USER_PARAMS.has(p.name.toLowerCase()));
    user = uri.userNumber === null ? null : uri.userNumber + keepUser.map((p) => (p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`)).join('');
    params = uri.params.filter((p) => !TRANSPORT_PARAMS.has(p.name.toLowerCase()));
  } else if (uri instanceof TelUri) {
    user = uri.digits;
    params = [{ name: 'user', value: 'phone' }];
  }
  if (peer.transport !== 'udp') params.push({ name: 'transport', value: peer.transport });
  return new SipUri({ scheme: 'sip', user, password: null, host, port: peer.port, params, headers: [] });
}
