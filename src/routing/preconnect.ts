/**
 * `trunks[].preconnect`: at start each process (each worker) opens its connection to every host of
 * a TCP or TLS trunk (Transport.preconnect: the RFC 5626 keep-alive ping on the pool's ordinary
 * connection, with the same RFC 5922 name check, revocation check and S-TLS-5 deadline as one a call
 * opens), so the first INVITE finds it open and a dead or misnamed host shows in the log at start. A
 * failure only logs: the host's health is the probes' and the calls' business.
 */
import type { PeerAddress } from '../transaction/types.js';
import type { Resolver } from './resolver.js';
import type { TrunkPlan } from './targets.js';

export interface PreconnectResult {
  readonly trunk: string;
  readonly host: string;
  readonly port: number;
  readonly ok: boolean;
  /** Why it failed: the resolver's reason or the transport error's message. */
  readonly reason?: string;
}

/**
 * Opens one connection per target of every stream trunk with `preconnect`, all at once; never rejects.
 * The targets are the ones trunkTargets (targets.ts) gives a call, so the call finds the same pool
 * entry: the host's first address and port, or with `dns.srv` each SRV target, servername = the host.
 */
export function preconnectTrunks(
  plans: readonly TrunkPlan[],
  resolver: Resolver,
  srv: boolean,
  connect: (target: PeerAddress) => Promise<unknown>,
): Promise<PreconnectResult[]> {
  const open = async (trunk: string, transport: 'tcp' | 'tls', host: string, name: string, port: number): Promise<PreconnectResult> => {
    const base = { trunk, host: name, port };
    try {
      const r = await resolver.resolve(name);
      if (!r.ok) return { ...base, ok: false, reason: r.reason };
      const address = r.addresses[0];
      if (address === undefined) return { ...base, ok: false, reason: 'no address' };
      await connect({ transport, address, port, servername: host });
      return { ...base, ok: true };
    } catch (e) {
      return { ...base, ok: false, reason: e instanceof Error ? e.message : String(e) };
    }
  };
  const attempts: Promise<PreconnectResult[]>[] = [];
  // Trunks of one region share its lb hosts: one connection each, as the pool keeps one.
  const seen = new Set<string>();
  for (const plan of plans) {
    const t = plan.trunk;
    const transport = t.transport;
    if (!t.preconnect || transport === 'udp') continue;
    for (const h of plan.hosts) {
      const key = `${transport}|${h.name}|${h.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      attempts.push((async (): Promise<PreconnectResult[]> => {
        if (srv) {
          const recs = await resolver.resolveSrv(`${transport === 'tls' ? '_sips._tcp' : '_sip._tcp'}.${h.name}`).catch(() => []);
          if (recs.length > 0) return Promise.all(recs.map((r) => open(t.name, transport, h.name, r.target, r.port)));
        }
        return [await open(t.name, transport, h.name, h.name, h.port)];
      })());
    }
  }
  return Promise.all(attempts).then((r) => r.flat());
}
