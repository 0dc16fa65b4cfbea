import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { SipsError } from '../errors.js';
import { configSchema, type EdgeConfig } from './schema.js';
import type { Environment } from './secrets.js';
import type { Issue } from './validate.js';

/** Every problem found in a config file, reported together: key path, value, what was expected. */
export class ConfigLoadError extends SipsError {
  readonly issues: readonly Issue[];
  readonly file: string;

  constructor(file: string, issues: readonly Issue[]) {
    super('SIPS_ERR_CONFIG_INVALID', `${file}: ${issues.length} problem${issues.length === 1 ? '' : 's'}\n${issues.map((i) => `  ${i.path || '(top)'}: ${i.message}`).join('\n')}`);
    this.issues = issues;
    this.file = file;
  }
}

/**
 * Directory holding the files shipped with sips-edge (config/, certs/): the nearest one above this
 * module with a package.json, so a second build tree (the tests' .test-build/src/config) finds the
 * same config/regions.yaml as dist/config does.
 */
export const PACKAGE_ROOT = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(here, '../..');
  }
})();

/** `env`: the environment the CLI read, for the variables the config names (set or not). */
export function loadConfigFile(file: string, env: Environment): EdgeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigLoadError(file, [{ path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  return loadConfigText(text, file, env);
}

export function loadConfigText(text: string, file: string, env: Environment): EdgeConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigLoadError(file, doc.errors.map((e) => ({ path: e.linePos ? `line ${e.linePos[0].line}` : '', message: `YAML: ${(e.message.split('\n')[0] ?? '').replace(/:\s*$/, '')}` })));
  }
  const raw: unknown = doc.toJS();
  const issues: Issue[] = [];
  const config = configSchema.parse(raw, '', issues);
  if (config === undefined || issues.length) throw new ConfigLoadError(file, issues);
  crossCheck(config, issues, env);
  if (issues.length) throw new ConfigLoadError(file, issues);
  resolvePaths(config, dirname(resolve(file)));
  return config;
}

/** Checks that span sections: names refer to things that exist, listeners do not collide. */
function crossCheck(c: EdgeConfig, issues: Issue[], env: Environment): void {
  const trunkNames = new Set<string>();
  c.trunks.forEach((t, i) => {
    if (trunkNames.has(t.name)) issues.push({ path: `trunks[${i}].name`, message: `duplicate trunk name "${t.name}"` });
    trunkNames.add(t.name);
  });
  const peerNames = new Set<string>();
  c.peers.forEach((p, i) => {
    if (peerNames.has(p.name)) issues.push({ path: `peers[${i}].name`, message: `duplicate peer name "${p.name}"` });
    peerNames.add(p.name);
    if (p.trunk !== undefined && !trunkNames.has(p.trunk)) issues.push({ path: `peers[${i}].trunk`, message: `got "${p.trunk}", expected one of the trunk names (${[...trunkNames].join(', ') || 'none defined'})` });
  });
  // Issue 14: an anchored call without rtpengine would have to go out with clear media or not at all.
  if (c.media?.rtpengine === undefined) {
    c.trunks.forEach((t, i) => { if (t.media === 'anchor') issues.push({ path: `trunks[${i}].media`, message: 'got "anchor", but media.rtpengine is not configured (no rtpengine to anchor through)' }); });
    c.peers.forEach((p, i) => { if (p.media === 'anchor') issues.push({ path: `peers[${i}].media`, message: 'got "anchor", but media.rtpengine is not configured (no rtpengine to anchor through)' }); });
  }
  if (c.routing.defaultTrunk !== undefined && !trunkNames.has(c.routing.defaultTrunk)) {
    issues.push({ path: 'routing.defaultTrunk', message: `got "${c.routing.defaultTrunk}", expected one of the trunk names (${[...trunkNames].join(', ') || 'none defined'})` });
  }
  if (c.routing.defaultPeer !== undefined && !peerNames.has(c.routing.defaultPeer)) {
    issues.push({ path: 'routing.defaultPeer', message: `got "${c.routing.defaultPeer}", expected one of the peer names (${[...peerNames].join(', ') || 'none defined'})` });
  }
  c.routing.outbound.forEach((r, i) => {
    if (!trunkNames.has(r.trunk)) issues.push({ path: `routing.outbound[${i}].trunk`, message: `got "${r.trunk}", expected a trunk name` });
  });
  c.routing.inbound.forEach((r, i) => {
    if (!peerNames.has(r.peer)) issues.push({ path: `routing.inbound[${i}].peer`, message: `got "${r.peer}", expected a peer name` });
  });
  const bound = new Map<string, number>();
  c.listen.forEach((l, i) => {
    if (l.port === 0) return;
    const proto = l.transport === 'udp' ? 'udp' : 'tcp';
    const key = `${proto}/${l.address}/${l.port}`;
    const prev = bound.get(key);
    if (prev !== undefined) issues.push({ path: `listen[${i}]`, message: `${l.transport} ${l.address}:${l.port} overlaps listen[${prev}]` });
    bound.set(key, i);
  });
  if (c.listen.some((l) => l.transport === 'tls') && c.tls.identities.length === 0) {
    issues.push({ path: 'tls.identities', message: 'a TLS listener needs at least one certificate identity' });
  }
  const rk = c.edge.routeKeys;
  if (rk !== undefined) {
    if (rk.env === undefined && rk.file === undefined && (rk.keys ?? []).length === 0) issues.push({ path: 'edge.routeKeys', message: 'needs env, file or keys' });
    if (rk.env !== undefined && env[rk.env] === undefined) issues.push({ path: 'edge.routeKeys.env', message: `environment variable ${rk.env} is not set` });
  }
  c.tls.identities.forEach((id, i) => {
    if (id.passphraseEnv !== undefined && env[id.passphraseEnv] === undefined) {
      issues.push({ path: `tls.identities[${i}].passphraseEnv`, message: `environment variable ${id.passphraseEnv} is not set` });
    }
  });
}

function resolvePaths(c: EdgeConfig, base: string): void {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  for (const id of c.tls.identities) {
    id.cert = abs(id.cert);
    id.key = abs(id.key);
  }
  c.tls.crlFiles = c.tls.crlFiles.map(abs);
  if (c.edge.routeKeys?.file !== undefined) c.edge.routeKeys.file = abs(c.edge.routeKeys.file);
  if (c.tls.keyLogFile !== undefined) c.tls.keyLogFile = abs(c.tls.keyLogFile);
  if (c.tls.sessionTickets.keyFile !== undefined) c.tls.sessionTickets.keyFile = abs(c.tls.sessionTickets.keyFile);
  c.regionsFile = c.regionsFile === undefined ? resolve(PACKAGE_ROOT, 'config/regions.yaml') : abs(c.regionsFile);
  for (const t of c.trunks) if (t.trust?.files) t.trust.files = t.trust.files.map(abs);
  for (const p of c.peers) if (p.trustFiles) p.trustFiles = p.trustFiles.map(abs);
}
