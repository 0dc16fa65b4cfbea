/**
 * What `config check` adds to the loader: the files a config names exist and are readable (each
 * reported with its key path), and the trunks plan against the regions table (a region code that
 * does not exist, a trunk without hosts). The loader has already checked syntax, types, ranges and
 * cross references; these need the file system.
 */
import { accessSync, constants, statSync } from 'node:fs';
import type { EdgeConfig } from '../config/schema.js';
import type { Issue } from '../config/validate.js';
import { loadRegionsFile, type RegionTable } from '../routing/regions.js';
import { planTrunk, type TrunkPlan } from '../routing/targets.js';

export interface ReferencedFile {
  /** Key path in the config, e.g. tls.identities[0].cert. */
  readonly path: string;
  readonly file: string;
}

/** Every file path in the config (already resolved against the config file's directory). */
export function referencedFiles(c: EdgeConfig): ReferencedFile[] {
  const out: ReferencedFile[] = [];
  c.tls.identities.forEach((id, i) => {
    out.push({ path: `tls.identities[${i}].cert`, file: id.cert }, { path: `tls.identities[${i}].key`, file: id.key });
  });
  c.tls.crlFiles.forEach((f, i) => out.push({ path: `tls.crlFiles[${i}]`, file: f }));
  if (c.regionsFile !== undefined) out.push({ path: 'regionsFile', file: c.regionsFile });
  if (c.edge.routeKeys?.file !== undefined) out.push({ path: 'edge.routeKeys.file', file: c.edge.routeKeys.file });
  c.trunks.forEach((t, i) => t.trust?.files?.forEach((f, j) => out.push({ path: `trunks[${i}].trust.files[${j}]`, file: f })));
  c.peers.forEach((p, i) => p.trustFiles?.forEach((f, j) => out.push({ path: `peers[${i}].trustFiles[${j}]`, file: f })));
  return out;
}

export function fileIssues(c: EdgeConfig): Issue[] {
  const issues: Issue[] = [];
  for (const r of referencedFiles(c)) {
    try {
      if (!statSync(r.file).isFile()) {
        issues.push({ path: r.path, message: `${r.file}: not a regular file` });
        continue;
      }
      accessSync(r.file, constants.R_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : `cannot be read (${code ?? String(e)})`;
      issues.push({ path: r.path, message: `${r.file} ${why}` });
    }
  }
  return issues;
}

export type PlanOutcome = { readonly ok: true; readonly plans: readonly TrunkPlan[]; readonly regions: RegionTable } | { readonly ok: false; readonly issues: readonly Issue[] };

/** Plans every trunk against the regions table; every problem is an issue with the trunk's key path. */
export function planTrunks(c: EdgeConfig): PlanOutcome {
  let regions: RegionTable;
  try {
    regions = loadRegionsFile(c.regionsFile ?? '');
  } catch (e) {
    return { ok: false, issues: [{ path: 'regionsFile', message: (e as Error).message.replace(/\n\s*/g, '; ') }] };
  }
  const issues: Issue[] = [];
  const plans: TrunkPlan[] = [];
  c.trunks.forEach((t, i) => {
    try {
      plans.push(planTrunk(t, regions));
    } catch (e) {
      // planTrunk names trunks by name (trunks.<name>.region: ...); here the key path is by index.
      const m = (e as Error).message;
      const prefix = `trunks.${t.name}`;
      const rest = m.startsWith(prefix) ? m.slice(prefix.length) : `: ${m}`;
      const colon = rest.indexOf(': ');
      issues.push({ path: `trunks[${i}]${colon > 0 ? rest.slice(0, colon) : ''}`, message: colon >= 0 ? rest.slice(colon + 2) : rest });
    }
  });
  return issues.length ? { ok: false, issues } : { ok: true, plans, regions };
}

/** Everything `config check` reports beyond the loader. */
export function semanticIssues(c: EdgeConfig, opts: { readonly files?: boolean } = {}): Issue[] {
  const issues = opts.files === false ? [] : fileIssues(c);
  const regionsMissing = issues.some((i) => i.path === 'regionsFile');
  if (!regionsMissing) {
    const p = planTrunks(c);
    if (!p.ok) issues.push(...p.issues);
  }
  return issues;
}
