/**
 * The proxy's Router (src/proxy/types.ts): trunk/peer selection, R-URI rewrite per mode, target
 * sets, access control, in-dialog next hops. I/O only through the injected resolver, health
 * monitor and clock.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { EdgeConfig, PeerConfig } from '../config/schema.js';
import type { SipMessage } from '../message/message.js';
import { SipUri, socketHost, type Uri } from '../message/uri.js';
import type { ForwardDecision, RejectDecision, RouteDecision, Router, Side, Target } from './types.js';
import type { PeerAddress } from '../transaction/types.js';
import { createAccessControl, type AccessControl } from './access.js';
import type { HealthMonitor } from './health.js';
import { isIpLiteral } from './ip.js';
import { modeHeaders, modeNotes, type ModeNote } from './modes.js';
import { normalizeNumber, type NormalizedNumber } from './numbers.js';
import { loadRegionsFile, type RegionTable } from './regions.js';
import type { Resolver } from './resolver.js';
import { insideRequestUri, selectPeer, selectTrunk, unsupportedUri, type PeerSelection, type RouteReject, type TrunkSelection } from './select.js';
import { acceptedNamesIndex, allDown, planTrunk, Rotation, trunkTargets, type TargetSetResult, type TrunkPlan } from './targets.js';
import { routeReject } from './route-errors.js';

export interface RouterDeps {
  readonly resolver: Resolver;
  readonly health: HealthMonitor;
  readonly clock: Clock;
  /** Default: loaded from config.regionsFile. */
  readonly regions?: RegionTable;
  /** How often vendor and peer host names are re-resolved for access control (default 60 s). */
  readonly refreshSeconds?: number;
}

/** What a route looked like, for `route --explain` and logs. */
export interface RoutePlan {
  readonly selection: TrunkSelection | PeerSelection | RouteReject;
  readonly number?: NormalizedNumber;
  readonly decision: RouteDecision;
  readonly skipped: TargetSetResult['skipped'];
}

export interface EdgeRouter extends Router {
  /** Resolves vendor and peer names for access control, then keeps refreshing them. */
  start(): Promise<void>;
  stop(): void;
  refresh(): Promise<void>;
  /** The servername itself plus the exact extra identities of the trunks using it (S-VAL-2, S-VAL-6). */
  acceptedNamesFor(servername: string): readonly string[];
  /** Once-per-trunk notes to log at start (FQDN validation, S-URI-5). */
  notes(): readonly ModeNote[];
  trunkPlans(): readonly TrunkPlan[];
  /** routeInitial on a bare Request-URI, with the why. `from` = the inside peer it came from. */
  plan(uri: Uri, side: Side, from: PeerConfig | undefined): Promise<RoutePlan>;
  /** The peer an inside source address belongs to. */
  peerFor(address: string): PeerConfig | undefined;
}

export function createRouter(config: EdgeConfig, deps: RouterDeps): EdgeRouter {
  // Issue 12: one Retry-After for the edge's own 503s (limits.retryAfterSeconds), not a literal.
  const unresolvedReject = routeReject('SIPS_ERR_ROUTE_UNRESOLVED', [['Retry-After', String(config.limits.retryAfterSeconds)]]);
  const unresolved = (): RejectDecision => unresolvedReject;
  const regions = deps.regions ?? loadRegionsFile(config.regionsFile ?? 'config/regions.yaml');
  const plans = new Map<string, TrunkPlan>();
  for (const t of config.trunks) plans.set(t.name, planTrunk(t, regions));
  const planList = [...plans.values()];
  for (const p of planList) deps.health.track(p.trunk.name, p.region?.code, p.hosts, p.trunk.health);
  const access: AccessControl = createAccessControl(config.peers, config.routing.vendorSources);
  const accepted = acceptedNamesIndex(planList);
  const peersByName = new Map(config.peers.map((p) => [p.name, p]));
  const rotation = new Rotation();
  const srv = config.dns.srv;
  let timer: TimerHandle | null = null;
  let running = false;

  async function toTrunk(sel: TrunkSelection): Promise<RoutePlan> {
    const { plan } = sel;
    const number = normalizeNumber(sel.rawNumber, plan.trunk.numbers, sel.countryCode === undefined ? undefined : { countryCode: sel.countryCode });
    const set = await trunkTargets(plan, number.output, { health: deps.health, resolver: deps.resolver, srv }, rotation);
    if (set.targets.length === 0) return { selection: sel, number, decision: allDown(deps.health.retryAfterSeconds(plan.trunk.name)), skipped: set.skipped };
    const headers = modeHeaders(plan.mode);
    const decision: ForwardDecision = {
      kind: 'forward',
      exitSide: 'outside',
      targets: set.targets,
      failover: plan.trunk.failover,
      via: plan.trunk.name,
      trunk: plan.trunk.name,
      ...(headers.length ? { addHeaders: headers } : {}),
      srtpRequired: true, // S-MEDIA-1: the vendor side is always SRTP
    };
    return { selection: sel, number, decision, skipped: set.skipped };
  }

  async function toPeer(sel: PeerSelection, uri: Uri): Promise<RoutePlan> {
    const { peer } = sel;
    const a = await deps.resolver.resolve(peer.host);
    if (!a.ok || a.addresses[0] === undefined) {
      const reject = unresolved();
      return { selection: sel, decision: reject, skipped: [{ host: peer.host, reason: a.ok ? 'no address' : a.reason }] };
    }
    const target: Target = {
      transport: peer.transport,
      address: a.addresses[0],
      port: peer.port,
      ...servernameFor(peer),
      label: peer.name,
      requestUri: insideRequestUri(uri, peer),
    };
    const decision: ForwardDecision = {
      kind: 'forward', exitSide: 'inside', targets: [target], failover: 0, via: peer.name, peer: peer.name, srtpRequired: peer.srtp === 'required',
    };
    return { selection: sel, decision, skipped: [] };
  }

  async function plan(uri: Uri, side: Side, from: PeerConfig | undefined): Promise<RoutePlan> {
    // side = where the request came from; inside requests go out to the vendor and vice versa.
    const sel = side === 'inside' ? selectTrunk(config, plans, uri, from) : selectPeer(config, uri);
    if (sel.kind === 'reject') return { selection: sel, decision: sel, skipped: [] };
    return sel.kind === 'trunk' ? toTrunk(sel) : toPeer(sel, uri);
  }

  async function refresh(): Promise<void> {
    const vendor: string[] = [];
    const names = new Set(planList.flatMap((p) => p.hosts.map((h) => h.name)));
    for (const n of names) {
      const a = await deps.resolver.resolve(n);
      if (a.ok) vendor.push(...a.addresses);
      if (srv) {
        for (const r of await deps.resolver.resolveSrv(`_sips._tcp.${n}`)) {
          const t = await deps.resolver.resolve(r.target);
          if (t.ok) vendor.push(...t.addresses);
        }
      }
    }
    const peerAddrs = new Map<string, readonly string[]>();
    for (const p of config.peers) {
      if (p.sources.length || isIpLiteral(p.host)) continue;
      const a = await deps.resolver.resolve(p.host);
      if (a.ok) peerAddrs.set(p.name, a.addresses);
    }
    access.setResolved(vendor, peerAddrs);
  }

  function servernameFor(peer: PeerConfig): { servername?: string } {
    if (peer.transport !== 'tls') return {};
    if (peer.servername !== undefined) return { servername: peer.servername };
    return isIpLiteral(peer.host) ? {} : { servername: peer.host.toLowerCase() };
  }

  async function resolveNextHop(uri: Uri, exitSide: Side, hint: { targetName?: string; flowId?: string }): Promise<PeerAddress | RejectDecision> {
    if (!(uri instanceof SipUri)) return unsupportedUri(uri);
    // RFC 3263 §4.1 simplified: transport param; sips -> tls; else the side's default (the vendor
    // side is TLS only, S-CON-5). §4.2 default ports 5060/5061.
    const tp = uri.transport;
    const transport: PeerAddress['transport'] = uri.scheme === 'sips' ? 'tls'
      : tp === 'udp' || tp === 'tcp' || tp === 'tls' ? tp
      : exitSide === 'outside' ? 'tls' : 'udp';
    const flow = hint.flowId === undefined ? {} : { flowId: hint.flowId };
    let port = uri.port ?? (transport === 'tls' ? 5061 : 5060);
    const maddr = uri.param('maddr');
    const host = typeof maddr === 'string' && maddr !== '' ? maddr : uri.host;
    if (isIpLiteral(host)) {
      const address = socketHost(host);
      if (exitSide === 'outside' && transport === 'tls') {
        // S-VAL-3: an address cannot be validated; connect to the name the dialog was set up with.
        if (hint.targetName !== undefined) {
          const a = await deps.resolver.resolve(hint.targetName);
          if (!a.ok || a.addresses[0] === undefined) return unresolved();
          return { transport, address: a.addresses[0], port, servername: hint.targetName.toLowerCase(), ...flow };
        }
        if (hint.flowId === undefined) return routeReject('SIPS_ERR_ROUTE_IP_TARGET');
        return { transport, address, port, ...flow };
      }
      const peer = transport === 'tls' ? access.peerFor(address) : undefined;
      const sn = peer === undefined ? {} : servernameFor(peer);
      return { transport, address, port, ...sn, ...flow };
    }
    const name = host.toLowerCase();
    let connectName = name;
    if (srv && uri.port === null && transport !== 'udp') {
      // RFC 3263 §4.2; the identity stays the SRV domain (RFC 5922 §4, S-URI-6).
      const first = (await deps.resolver.resolveSrv(`${transport === 'tls' ? '_sips' : '_sip'}._tcp.${name}`))[0];
      if (first !== undefined) {
        connectName = first.target;
        port = first.port;
      }
    }
    const a = await deps.resolver.resolve(connectName);
    if (!a.ok || a.addresses[0] === undefined) return unresolved();
    return { transport, address: a.addresses[0], port, ...(transport === 'tls' ? { servername: name } : {}), ...flow };
  }

  return {
    async routeInitial(request: SipMessage, source: PeerAddress, side: Side): Promise<RouteDecision> {
      let uri: Uri;
      try {
        uri = request.requestUri();
      } catch {
        return routeReject('SIPS_ERR_ROUTE_BAD_URI');
      }
      const from = side === 'inside' ? access.peerFor(source.address) : undefined;
      return (await plan(uri, side, from)).decision;
    },
    admit(source, side) {
      return side === 'outside' ? access.admitOutside(source) : access.admitInside(source);
    },
    resolveNextHop,
    srtpRequiredFor(side, name) {
      if (side === 'outside') return true; // S-MEDIA-1
      return name !== undefined && peersByName.get(name)?.srtp === 'required';
    },
    mediaPlan(peerName, trunkName) {
      const peer = peerName === undefined ? undefined : peersByName.get(peerName);
      // In-dialog requests know the peer (pe=, or the source) but not the trunk: the peer's own.
      const trunk = trunkName ?? peer?.trunk ?? config.routing.defaultTrunk;
      const anchored = peer?.media === 'anchor' || (trunk !== undefined && plans.get(trunk)?.trunk.media === 'anchor');
      if (!anchored) return null;
      return { inside: peer?.srtp === 'required' || peer?.srtp === 'optional' ? 'srtp' : 'rtp' };
    },
    insidePeerOf: (source) => access.peerFor(source.address)?.name,
    async start() {
      running = true;
      await refresh();
      const every = (deps.refreshSeconds ?? 60) * 1000;
      const tick = (): void => {
        if (!running) return;
        timer = deps.clock.setTimer(every, () => {
          void refresh().finally(tick);
        });
      };
      timer?.cancel();
      tick();
    },
    stop() {
      running = false;
      timer?.cancel();
      timer = null;
    },
    refresh,
    acceptedNamesFor: accepted,
    notes: () => planList.flatMap((p) => modeNotes(p.mode)),
    trunkPlans: () => planList,
    plan,
    peerFor: (address) => access.peerFor(address),
  };
}


