/**
 * Target sets toward the vendor: a trunk's hosts (its region's lb01..lb04, or explicit ones) that
 * are healthy, in strategy order, each with the Request-URI of the trunk's mode for that host and
 * the name its certificate is checked against (S-VAL-2: *that* host's name, never an address).
 */
import { SipsError } from '../errors.js';
import type { TrunkConfig } from '../config/schema.js';
import type { RejectDecision, Target } from './types.js';
import type { HealthMonitor } from './health.js';
import { isIpLiteral } from './ip.js';
import { buildRequestUri, modeSettings, type ModeSettings } from './modes.js';
import type { Region, RegionTable } from './regions.js';
import type { Resolver } from './resolver.js';
import { routeReject } from './route-errors.js';

export interface TrunkHost {
  /** Lower-case host name: connect target, SNI and name to validate. */
  readonly name: string;
  readonly port: number;
  readonly priority: number;
}

/** A trunk with its region and defaults resolved once, at router creation. */
export interface TrunkPlan {
  readonly trunk: TrunkConfig;
  readonly region: Region | undefined;
  readonly hosts: readonly TrunkHost[];
  readonly mode: ModeSettings;
}

/**
 * S-VAL-3 runtime guard (the schema refuses IPs too): a trunk host given as an IP address cannot be
 * validated against a certificate.
 */
export function assertHostName(host: string, path: string): void {
  if (isIpLiteral(host)) {
    throw new SipsError('SIPS_ERR_CONFIG_INVALID', `${path}: got ${JSON.stringify(host)}: an IP address cannot be validated against a certificate (S-VAL-3: the vendor validates by host name; RFC 5922); use the host name`);
  }
}

export function planTrunk(trunk: TrunkConfig, regions: RegionTable): TrunkPlan {
  let region: Region | undefined;
  if (trunk.region !== undefined) {
    region = regions.get(trunk.region);
    if (region === undefined) {
      throw new SipsError('SIPS_ERR_CONFIG_INVALID', `trunks.${trunk.name}.region: got "${trunk.region}", expected one of ${regions.codes().join(', ')} (config/regions.yaml, S-REG)`);
    }
  }
  const hosts: TrunkHost[] = trunk.hosts !== undefined
    ? trunk.hosts.map((h, i) => ({ name: h.host.toLowerCase(), port: h.port ?? trunk.port, priority: h.priority ?? i }))
    : (region?.hosts ?? []).map((h, i) => ({ name: h, port: trunk.port, priority: i }));
  hosts.forEach((h, i) => assertHostName(h.name, `trunks.${trunk.name}.hosts[${i}]`));
  if (hosts.length === 0) throw new SipsError('SIPS_ERR_CONFIG_INVALID', `trunks.${trunk.name}: no hosts (set region or hosts)`);
  return { trunk, region, hosts, mode: modeSettings(trunk, region) };
}

export interface TargetDeps {
  readonly health: HealthMonitor;
  readonly resolver: Resolver;
  /** Resolve `_sips._tcp.<host>` SRV first (dns.srv). */
  readonly srv: boolean;
}

/** Round-robin start positions, one counter per trunk. */
export class Rotation {
  private readonly next = new Map<string, number>();
  take(key: string, n: number): number {
    const i = this.next.get(key) ?? 0;
    this.next.set(key, i + 1);
    return n === 0 ? 0 : i % n;
  }
}

/** Healthy hosts in strategy order (round-robin rotates the start per call; priority sorts, stable). */
export function orderHosts(plan: TrunkPlan, health: HealthMonitor, rotation: Rotation): TrunkHost[] {
  const up = plan.hosts.filter((h) => health.isUp({ trunk: plan.trunk.name, host: h.name }));
  if (plan.trunk.strategy === 'priority') return [...up].sort((a, b) => a.priority - b.priority);
  const start = rotation.take(plan.trunk.name, up.length);
  return [...up.slice(start), ...up.slice(0, start)];
}

export interface TargetSetResult {
  readonly targets: readonly Target[];
  /** Hosts left out and why (down, unresolved): for `route --explain` and logs. */
  readonly skipped: readonly { readonly host: string; readonly reason: string }[];
}

/** Builds the target set for one call; an empty set becomes the 503 of `allDown`. */
export async function trunkTargets(plan: TrunkPlan, number: string, deps: TargetDeps, rotation: Rotation): Promise<TargetSetResult> {
  const ordered = orderHosts(plan, deps.health, rotation);
  const skipped = plan.hosts.filter((h) => !ordered.includes(h)).map((h) => ({ host: h.name, reason: 'down' }));
  const transport = plan.trunk.transport;
  const targets: Target[] = [];
  // Resolve every host at once (cache hits are immediate; a cold cache costs one round trip, not n).
  const resolved = new Map(await Promise.all(ordered.map(async (h) => [h.name, await deps.resolver.resolve(h.name)] as const)));
  for (const h of ordered) {
    const requestUri = buildRequestUri(plan.mode, number, h.name, h.port);
    if (deps.srv) {
      // RFC 3263 §4.2 / S-URI-6: SRV targets are validated against the SRV domain (the host name).
      const service = transport === 'tls' ? '_sips._tcp' : transport === 'tcp' ? '_sip._tcp' : '_sip._udp';
      const recs = await deps.resolver.resolveSrv(`${service}.${h.name}`);
      let added = false;
      for (const r of recs) {
        const a = await deps.resolver.resolve(r.target);
        if (!a.ok || a.addresses[0] === undefined) continue;
        targets.push({ transport, address: a.addresses[0], port: r.port, servername: h.name, label: r.target, requestUri });
        added = true;
      }
      if (added) continue;
    }
    const a = resolved.get(h.name) ?? (await deps.resolver.resolve(h.name));
    if (!a.ok || a.addresses[0] === undefined) {
      skipped.push({ host: h.name, reason: a.ok ? 'no address' : a.reason });
      continue;
    }
    targets.push({ transport, address: a.addresses[0], port: h.port, servername: h.name, label: h.name, requestUri });
  }
  return { targets, skipped };
}

/** All hosts down or unresolvable: 503 with Retry-After (RFC 3261 §21.5.4, §20.33). */
export function allDown(retryAfterSeconds: number): RejectDecision {
  // The proxy adds the Warning: 399 with the code (one table); the down/unresolved detail is in
  // TargetSetResult.skipped for logs and `route --explain`.
  return routeReject('SIPS_ERR_ROUTE_ALL_DOWN', [['Retry-After', String(retryAfterSeconds)]]);
}

/**
 * Exact names accepted for a servername besides itself: the extraIdentities of every trunk that
 * uses that host (no wildcards, S-VAL-6). The TLS verify step passes them as `extraNames`.
 */
export function acceptedNamesIndex(plans: readonly TrunkPlan[]): (servername: string) => readonly string[] {
  const map = new Map<string, Set<string>>();
  for (const p of plans) {
    for (const h of p.hosts) {
      const set = map.get(h.name) ?? new Set<string>([h.name]);
      for (const x of p.trunk.extraIdentities) set.add(x.toLowerCase());
      map.set(h.name, set);
    }
  }
  return (servername) => {
    const key = servername.toLowerCase().replace(/\.$/, '');
    return [...(map.get(key) ?? [key])];
  };
}
