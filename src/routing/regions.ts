/**
 * The vendor's regions (S-REG) as data: config/regions.yaml. Host lists are never hard-coded in
 * code; a trunk may override them. Every problem in the file is reported together (key path + why).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigLoadError } from '../config/load-config.js';
import type { Issue } from '../config/validate.js';
import { isIpLiteral } from './ip.js';

export const ROOT_NAMES = ['digicert-ev', 'digicert-g2', 'digicert-g3'] as const;
export type RootName = (typeof ROOT_NAMES)[number];

export interface Region {
  /** Region code, e.g. euc1. */
  readonly code: string;
  readonly name: string;
  /** lb01..lb04.voice.<code>.pure.cloud (S-REG). */
  readonly hosts: readonly string[];
  /** Regional BYOC domain: TGRP trunk-context default and FQDN-mode suffix (S-URI-2, S-URI-5). */
  readonly byocDomain: string;
  /** Roots the vendor's certificates chain to in this region (S-TRUST-2). */
  readonly roots: readonly RootName[];
}

export interface RegionTable {
  get(code: string): Region | undefined;
  codes(): readonly string[];
}

const HOST = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export function loadRegionsFile(file: string): RegionTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigLoadError(file, [{ path: '', message: `cannot read regions file: ${(e as Error).message}` }]);
  }
  return parseRegions(text, file);
}

/** Parses and validates the regions YAML; throws ConfigLoadError listing every problem. */
export function parseRegions(text: string, file: string): RegionTable {
  let raw: unknown;
  try {
    raw = parse(text, { uniqueKeys: true });
  } catch (e) {
    throw new ConfigLoadError(file, [{ path: '', message: `YAML: ${(e as Error).message.split('\n')[0] ?? ''}` }]);
  }
  const issues: Issue[] = [];
  const regions = new Map<string, Region>();
  const top = isRecord(raw) ? raw['regions'] : undefined;
  if (!isRecord(top)) {
    throw new ConfigLoadError(file, [{ path: 'regions', message: 'expected a mapping of region code -> { name, hosts, byocDomain, roots }' }]);
  }
  for (const [code, v] of Object.entries(top)) {
    const path = `regions.${code}`;
    if (!/^[a-z]{2,4}\d{1,2}$/.test(code)) issues.push({ path, message: `region code ${JSON.stringify(code)} does not look like e.g. euc1` });
    if (!isRecord(v)) {
      issues.push({ path, message: 'expected a mapping' });
      continue;
    }
    const name = v['name'];
    if (typeof name !== 'string' || name === '') issues.push({ path: `${path}.name`, message: 'expected a non-empty string' });
    const hosts = v['hosts'];
    const hostList: string[] = [];
    if (!Array.isArray(hosts) || hosts.length === 0) issues.push({ path: `${path}.hosts`, message: 'expected a non-empty list of host names' });
    else {
      hosts.forEach((h: unknown, i) => {
        if (typeof h !== 'string') return void issues.push({ path: `${path}.hosts[${i}]`, message: 'expected a string' });
        // S-VAL-3: the lb hosts are validated by name, never by IP address.
        if (isIpLiteral(h)) return void issues.push({ path: `${path}.hosts[${i}]`, message: `got ${JSON.stringify(h)}: an IP address cannot be validated against a certificate (S-VAL-3); use the host name` });
        if (!HOST.test(h)) return void issues.push({ path: `${path}.hosts[${i}]`, message: `got ${JSON.stringify(h)}, expected a DNS host name` });
        hostList.push(h.toLowerCase());
      });
    }
    const byoc = v['byocDomain'];
    if (typeof byoc !== 'string' || !HOST.test(byoc)) issues.push({ path: `${path}.byocDomain`, message: `got ${JSON.stringify(byoc)}, expected a DNS domain` });
    const roots = v['roots'];
    const rootList: RootName[] = [];
    if (!Array.isArray(roots) || roots.length === 0) issues.push({ path: `${path}.roots`, message: `expected a non-empty list of ${ROOT_NAMES.join(', ')}` });
    else {
      roots.forEach((r: unknown, i) => {
        if (typeof r === 'string' && (ROOT_NAMES as readonly string[]).includes(r)) rootList.push(r as RootName);
        else issues.push({ path: `${path}.roots[${i}]`, message: `got ${JSON.stringify(r)}, expected one of ${ROOT_NAMES.join(', ')}` });
      });
    }
    if (typeof name === 'string' && typeof byoc === 'string') {
      regions.set(code, { code, name, hosts: hostList, byocDomain: byoc.toLowerCase(), roots: rootList });
    }
  }
  if (issues.length) throw new ConfigLoadError(file, issues);
  return tableOf(regions);
}

export function regionTable(regions: readonly Region[]): RegionTable {
  return tableOf(new Map(regions.map((r) => [r.code, r])));
}

function tableOf(map: ReadonlyMap<string, Region>): RegionTable {
  return { get: (code) => map.get(code), codes: () => [...map.keys()] };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
