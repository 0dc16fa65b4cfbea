/**
 * Name resolution for next hops: `dns.overrides` first (labs and tests map lab names to loopback
 * without /etc/hosts), then A/AAAA with their TTLs, then the system resolver (`lookup`, which reads
 * /etc/hosts). Answers are cached until their TTL runs out on the injected clock. Optional SRV
 * (RFC 3263 §4.2, RFC 2782 ordering); the identity to check for an SRV target is the SRV *domain*
 * (RFC 5922 §4, S-URI-6), which callers keep as the servername.
 */
import { promises as dnsp } from 'node:dns';
import type { Clock } from '../clock.js';
import { ipKey, isIpLiteral } from './ip.js';

export interface DnsFunctions {
  resolve4(name: string): Promise<readonly { address: string; ttl: number }[]>;
  resolve6(name: string): Promise<readonly { address: string; ttl: number }[]>;
  lookup(name: string): Promise<readonly { address: string; family: number }[]>;
  resolveSrv(name: string): Promise<readonly { name: string; port: number; priority: number; weight: number }[]>;
}

export type ResolveSource = 'literal' | 'override' | 'dns' | 'lookup';

export type ResolveResult =
  | { readonly ok: true; readonly addresses: readonly string[]; readonly source: ResolveSource }
  | { readonly ok: false; readonly reason: string };

export interface SrvTarget {
  readonly target: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

export interface Resolver {
  /** Addresses of a host name (an IP literal resolves to itself). Never throws. */
  resolve(name: string): Promise<ResolveResult>;
  /** `_service._proto.domain` records in RFC 2782 order (priority, then weighted random). [] when none. */
  resolveSrv(name: string): Promise<readonly SrvTarget[]>;
  /** The last cached answer, without I/O (for synchronous access checks). */
  cached(name: string): readonly string[] | undefined;
}

export interface ResolverOptions {
  readonly overrides?: Readonly<Record<string, readonly string[]>>;
  readonly clock: Clock;
  /** Default: node:dns/promises with a 2 s timeout and 2 tries. */
  readonly dns?: DnsFunctions;
  /** No DNS at all: literals and overrides only (`route --explain --offline`). */
  readonly offline?: boolean;
  /** TTL floor and ceiling, ms (a 0 TTL would otherwise mean a query per call). */
  readonly minTtlMs?: number;
  readonly maxTtlMs?: number;
  /** How long a `lookup` answer (no TTL known) and an SRV answer are kept. */
  readonly fallbackTtlMs?: number;
  /** How long a failure is remembered. */
  readonly negativeTtlMs?: number;
  /** For the SRV weight draw (RFC 2782); tests inject a fixed sequence. */
  readonly random?: () => number;
}

export function systemDns(timeoutMs = 2000): DnsFunctions {
  const r = new dnsp.Resolver({ timeout: timeoutMs, tries: 2 });
  return {
    resolve4: (n) => r.resolve4(n, { ttl: true }),
    resolve6: (n) => r.resolve6(n, { ttl: true }),
    lookup: (n) => dnsp.lookup(n, { all: true }),
    resolveSrv: (n) => r.resolveSrv(n),
  };
}

interface Entry<T> {
  readonly value: T;
  readonly expires: number;
}

export function createResolver(opts: ResolverOptions): Resolver {
  const clock = opts.clock;
  const dns = opts.offline ? undefined : opts.dns ?? systemDns();
  const minTtl = opts.minTtlMs ?? 1000;
  const maxTtl = opts.maxTtlMs ?? 3_600_000;
  const fallbackTtl = opts.fallbackTtlMs ?? 30_000;
  const negativeTtl = opts.negativeTtlMs ?? 5000;
  const random = opts.random ?? Math.random;
  const overrides = new Map<string, readonly string[]>();
  for (const [k, v] of Object.entries(opts.overrides ?? {})) overrides.set(norm(k), v);
  const cache = new Map<string, Entry<ResolveResult>>();
  const srvCache = new Map<string, Entry<readonly SrvTarget[]>>();
  const inflight = new Map<string, Promise<ResolveResult>>();
  const clampTtl = (sec: number): number => Math.min(maxTtl, Math.max(minTtl, sec * 1000));

  async function query(name: string): Promise<{ result: ResolveResult; ttlMs: number }> {
    if (dns === undefined) return { result: { ok: false, reason: 'unresolved (offline: not in dns.overrides)' }, ttlMs: negativeTtl };
    const [v4, v6] = await Promise.allSettled([dns.resolve4(name), dns.resolve6(name)]);
    const recs = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (recs.length) {
      const ttl = Math.min(...recs.map((r) => r.ttl));
      return { result: { ok: true, addresses: recs.map((r) => r.address), source: 'dns' }, ttlMs: clampTtl(ttl) };
    }
    try {
      const all = await dns.lookup(name);
      if (all.length) return { result: { ok: true, addresses: all.map((a) => a.address), source: 'lookup' }, ttlMs: fallbackTtl };
    } catch (e) {
      return { result: { ok: false, reason: errText(e, v4) }, ttlMs: negativeTtl };
    }
    return { result: { ok: false, reason: errText(undefined, v4) }, ttlMs: negativeTtl };
  }

  return {
    async resolve(name) {
      const key = norm(name);
      if (isIpLiteral(key)) return { ok: true, addresses: [key.replace(/^\[|\]$/g, '')], source: 'literal' };
      const o = overrides.get(key);
      if (o !== undefined) return { ok: true, addresses: o, source: 'override' };
      const hit = cache.get(key);
      if (hit !== undefined && hit.expires > clock.now()) return hit.value;
      const running = inflight.get(key);
      if (running !== undefined) return running;
      const p = query(key).then(({ result, ttlMs }) => {
        cache.set(key, { value: result, expires: clock.now() + ttlMs });
        inflight.delete(key);
        return result;
      });
      inflight.set(key, p);
      return p;
    },

    async resolveSrv(name) {
      const key = norm(name);
      const hit = srvCache.get(key);
      let recs: readonly SrvTarget[];
      if (hit !== undefined && hit.expires > clock.now()) recs = hit.value;
      else {
        try {
          const got = dns === undefined ? [] : await dns.resolveSrv(key);
          recs = got.map((r) => ({ target: norm(r.name), port: r.port, priority: r.priority, weight: r.weight }));
        } catch {
          recs = [];
        }
        srvCache.set(key, { value: recs, expires: clock.now() + (recs.length ? fallbackTtl : negativeTtl) });
      }
      // RFC 2782: a single "." target means the service is not offered here.
      return orderSrv(recs.filter((r) => r.target !== '' && r.target !== '.'), random);
    },

    cached(name) {
      const key = norm(name);
      if (isIpLiteral(key)) return [ipKey(key) ?? key];
      const o = overrides.get(key);
      if (o !== undefined) return o;
      const hit = cache.get(key);
      return hit !== undefined && hit.value.ok ? hit.value.addresses : undefined;
    },
  };
}

/**
 * RFC 2782 (used by RFC 3263 §4.2): lowest priority first; within a priority, repeatedly draw a
 * record with probability proportional to its weight (zero-weight records get a small chance by
 * being placed first in the running sum, as the RFC describes).
 */
export function orderSrv(records: readonly SrvTarget[], random: () => number = Math.random): SrvTarget[] {
  const byPriority = new Map<number, SrvTarget[]>();
  for (const r of records) byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), r]);
  const out: SrvTarget[] = [];
  for (const prio of [...byPriority.keys()].sort((a, b) => a - b)) {
    // zero weights first, then the rest in given order
    const pool = [...byPriority.get(prio)!].sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (pool.length) {
      const total = pool.reduce((s, r) => s + r.weight, 0);
      const pick = Math.floor(random() * (total + 1));
      let sum = 0;
      let idx = pool.length - 1;
      for (let i = 0; i < pool.length; i++) {
        sum += pool[i]!.weight;
        if (sum >= pick) {
          idx = i;
          break;
        }
      }
      out.push(pool.splice(idx, 1)[0]!);
    }
  }
  return out;
}

function norm(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

function errText(e: unknown, v4: PromiseSettledResult<unknown>): string {
  const pick = e ?? (v4.status === 'rejected' ? v4.reason : undefined);
  const code = typeof pick === 'object' && pick !== null && 'code' in pick ? String((pick as { code: unknown }).code) : undefined;
  return code === undefined ? 'unresolved (no A/AAAA records)' : `unresolved (${code})`;
}
