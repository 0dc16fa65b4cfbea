/**
 * `sips-edge route --explain`: where a Request-URI would go and why, with every host of the trunk
 * (healthy or not, resolvable or not), its rewritten R-URI and the identity its certificate is
 * checked against.
 */
import { hostPort } from '../message/host-port.js';
import type { PeerConfig } from '../config/schema.js';
import type { Uri } from '../message/uri.js';
import type { Side } from './types.js';
import { buildRequestUri } from './modes.js';
import type { EdgeRouter } from './router.js';
import { orderHosts, Rotation } from './targets.js';
import type { HealthMonitor } from './health.js';

export interface ExplainedTarget {
  readonly label: string;
  readonly address: string | null;
  readonly port: number;
  readonly transport: string;
  /** Name sent as SNI and validated (RFC 5922, S-VAL-2); null = no name (inside peer by address). */
  readonly servername: string | null;
  /** servername plus the trunk's exact extra identities. */
  readonly acceptedNames: readonly string[];
  readonly requestUri: string;
  readonly state: 'ok' | 'down' | 'unresolved';
  readonly reason?: string;
}

export interface Explanation {
  readonly requestUri: string;
  readonly side: Side;
  readonly from: string | null;
  readonly decision: 'forward' | 'reject';
  readonly status?: number;
  readonly code?: string;
  readonly detail?: string;
  readonly rule?: string;
  readonly trunk?: { readonly name: string; readonly region: string | null; readonly mode: string; readonly scheme: string; readonly strategy: string; readonly failover: number };
  readonly peer?: string;
  readonly number?: { readonly received: string; readonly output: string; readonly e164: string | null; readonly kind: string };
  readonly addHeaders: readonly (readonly [string, string])[];
  readonly srtpRequired?: boolean;
  readonly targets: readonly ExplainedTarget[];
  readonly notes: readonly string[];
}

export async function explainRoute(router: EdgeRouter, health: HealthMonitor, uri: Uri, side: Side, from: PeerConfig | undefined): Promise<Explanation> {
  const p = await router.plan(uri, side, from);
  const d = p.decision;
  const base = { requestUri: uri.toString(), side, from: from?.name ?? null };
  const sel = p.selection;
  if (sel.kind === 'reject') {
    return { ...base, decision: 'reject', status: sel.status, code: sel.code, detail: sel.detail, addHeaders: [], targets: [], notes: [] };
  }
  const outcome = d.kind === 'forward'
    ? { decision: 'forward' as const, addHeaders: d.addHeaders ?? [], srtpRequired: d.srtpRequired }
    : { decision: 'reject' as const, status: d.status, code: d.code, addHeaders: [] };
  if (sel.kind === 'peer') {
    const targets: ExplainedTarget[] = d.kind === 'forward'
      ? d.targets.map((t) => ({ label: t.label, address: t.address, port: t.port, transport: t.transport, servername: t.servername ?? null, acceptedNames: t.servername === undefined ? [] : [t.servername], requestUri: t.requestUri.toString(), state: 'ok' }))
      : p.skipped.map((s) => ({ label: sel.peer.name, address: null, port: sel.peer.port, transport: sel.peer.transport, servername: null, acceptedNames: [], requestUri: '', state: 'unresolved', reason: s.reason }));
    return { ...base, ...outcome, rule: sel.rule, peer: sel.peer.name, srtpRequired: sel.peer.srtp === 'required', targets, notes: [] };
  }
  const plan = sel.plan;
  const number = p.number;
  const output = number?.output ?? sel.rawNumber;
  const sent = d.kind === 'forward' ? d.targets : [];
  // Healthy hosts in strategy order first (a fresh rotation: what the first call would get), then the rest.
  const ordered = orderHosts(plan, health, new Rotation());
  const all = [...ordered, ...plan.hosts.filter((h) => !ordered.includes(h))];
  const targets: ExplainedTarget[] = all.flatMap((h): ExplainedTarget[] => {
    const common = { port: h.port, transport: plan.trunk.transport, servername: h.name, acceptedNames: router.acceptedNamesFor(h.name) };
    const hits = sent.filter((t) => t.servername === h.name);
    if (hits.length) return hits.map((t) => ({ ...common, label: t.label, address: t.address, port: t.port, requestUri: t.requestUri.toString(), state: 'ok' }));
    const why = p.skipped.find((s) => s.host === h.name);
    return [{
      ...common, label: h.name, address: null, requestUri: buildRequestUri(plan.mode, output, h.name, h.port).toString(),
      state: why?.reason === 'down' ? 'down' : 'unresolved', ...(why === undefined ? {} : { reason: why.reason }),
    }];
  });
  return {
    ...base,
    ...outcome,
    rule: sel.rule,
    trunk: { name: plan.trunk.name, region: plan.region?.code ?? null, mode: plan.trunk.mode, scheme: plan.trunk.scheme, strategy: plan.trunk.strategy, failover: plan.trunk.failover },
    ...(number === undefined ? {} : { number: { received: sel.rawNumber, output: number.output, e164: number.e164, kind: number.kind } }),
    targets,
    notes: router.notes().filter((n) => n.trunk === plan.trunk.name).map((n) => n.message),
  };
}

export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  const row = (k: string, v: string): number => lines.push(`${k.padEnd(12)} ${v}`);
  row('Request-URI', e.requestUri);
  row('from', e.from === null ? `(${e.side} side)` : `peer ${e.from} (${e.side} side)`);
  if (e.rule !== undefined) row('route', `${e.trunk !== undefined ? `trunk ${e.trunk.name}` : `peer ${e.peer ?? '?'}`} by ${e.rule}`);
  if (e.trunk !== undefined) {
    row('trunk', `region ${e.trunk.region ?? '(explicit hosts)'}, mode ${e.trunk.mode}, scheme ${e.trunk.scheme}, strategy ${e.trunk.strategy}, failover ${e.trunk.failover}`);
  }
  if (e.number !== undefined) row('number', `${e.number.received} -> ${e.number.output} (${e.number.kind})`);
  for (const [k, v] of e.addHeaders) row('add header', `${k}: ${v}`);
  if (e.srtpRequired !== undefined) row('srtp', e.srtpRequired ? 'required' : 'not required');
  row('decision', e.decision === 'forward' ? 'forward' : `reject ${e.status ?? ''} ${e.code ?? ''}${e.detail !== undefined ? ` (${e.detail})` : ''}`);
  if (e.targets.length) lines.push('targets:');
  e.targets.forEach((t, i) => {
    const addr = t.address === null ? (t.state === 'down' ? 'DOWN' : `UNRESOLVED${t.reason !== undefined ? ` (${t.reason})` : ''}`) : hostPort({ address: t.address, port: t.port });
    lines.push(`  ${i + 1}. ${t.label}  ${addr}  ${t.transport}`);
    if (t.requestUri !== '') lines.push(`     R-URI     ${t.requestUri}`);
    lines.push(`     identity  ${t.transport !== 'tls' ? '(no TLS on this leg)' : t.servername === null ? '(none: address only)' : t.acceptedNames.join(' | ')}`);
  });
  for (const n of e.notes) row('note', n);
  return lines.join('\n');
}
