/**
 * `sips-edge doctor`: every check an operator would otherwise do by hand before pointing the vendor
 * at the edge. Returns one CheckResult per line; the command prints them and exits 1 on any fail.
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { systemClock } from '../clock.js';
import { ConfigLoadError, loadConfigFile } from '../config/load-config.js';
import type { Environment } from '../config/secrets.js';
import type { EdgeConfig } from '../config/schema.js';
import { createResolver } from '../routing/resolver.js';
import { resolveTlsPolicy } from '../tls/policy.js';
import { RevocationChecker } from '../tls/revocation.js';
import { loadCertificates } from '../tls/trust-store.js';
import { fail, pass, warn, type CheckResult } from './check.js';
import { checkConfigSanity } from './config-sanity.js';
import { fileIssues, planTrunks } from './config-semantics.js';
import { checkEdgeCertificate, type KnownRoot } from './edge-certificate.js';
import { checkTrunk } from './trunk-handshake.js';

export interface DoctorOptions {
  readonly configFile: string;
  /** The environment the CLI read: the variables the config names (key passphrases). */
  readonly env: Environment;
  /** No DNS (dns.overrides only) and no CRL fetches. */
  readonly offline?: boolean;
  /** Further root files for the edge certificate's chain. */
  readonly caFiles?: readonly string[];
  readonly now?: Date;
  /** Skip the trunk handshakes. */
  readonly skipTrunks?: boolean;
  readonly fetchCrl?: (url: string, timeoutMs: number, maxBytes: number) => Promise<Buffer>;
}

function knownRoots(c: EdgeConfig, extra: readonly string[]): KnownRoot[] {
  const out: KnownRoot[] = tls.rootCertificates.map((pem) => ({ cert: new X509Certificate(pem), source: "Node's bundled root store" }));
  const files = [
    ...extra.map((f) => ({ f, source: `--ca ${f}` })),
    ...c.trunks.flatMap((t) => (t.trust?.files ?? []).map((f) => ({ f, source: `trunk ${t.name} trust file ${f}` }))),
    ...c.peers.flatMap((p) => (p.trustFiles ?? []).map((f) => ({ f, source: `peer ${p.name} trust file ${f}` }))),
  ];
  for (const { f, source } of files) {
    try {
      for (const cert of loadCertificates(f)) if (cert.ca) out.push({ cert, source });
    } catch {
      // reported by the file checks
    }
  }
  return out;
}

export async function runDoctor(o: DoctorOptions): Promise<CheckResult[]> {
  let c: EdgeConfig;
  try {
    c = loadConfigFile(o.configFile, o.env);
  } catch (e) {
    if (e instanceof ConfigLoadError) return e.issues.map((i) => fail(`config ${i.path || '(top)'}`, i.message, `fix the config (sips-edge config check ${o.configFile})`, e.code));
    throw e;
  }
  const offline = o.offline === true;
  const now = o.now ?? new Date();
  const out: CheckResult[] = [pass('config', `${o.configFile} loads`)];
  const files = fileIssues(c);
  for (const i of files) out.push(fail(`config ${i.path}`, i.message, 'create the file or fix the path (relative paths are resolved against the config file)'));
  out.push(...checkConfigSanity(c));

  const mode = offline ? 'off' : c.tls.revocation;
  const policy = resolveTlsPolicy({ deprecatedCiphers: c.tls.deprecatedCiphers, handshakeTimeoutMs: c.tls.handshakeTimeoutMs, revocation: mode, cnFallback: c.tls.cnFallback });

  const roots = knownRoots(c, o.caFiles ?? []);
  if (c.tls.identities.length === 0) out.push(warn('edge.cert', 'no tls.identities: the edge presents no certificate (no TLS listener)', 'add the edge certificate under tls.identities to take calls from the vendor'));
  for (const [i, id] of c.tls.identities.entries()) {
    const passphrase = id.passphraseEnv !== undefined ? o.env[id.passphraseEnv] : undefined;
    out.push(...(await checkEdgeCertificate({
      id: c.tls.identities.length === 1 ? 'edge' : `edge[${i}]`,
      edgeName: c.edge.name,
      certFile: id.cert,
      keyFile: id.key,
      ...(passphrase !== undefined ? { passphrase } : {}),
      policy,
      knownRoots: roots,
      now,
      offline,
      ...(o.fetchCrl ? { fetchCrl: o.fetchCrl } : {}),
    })));
  }

  if (o.skipTrunks === true) return out;
  const planned = planTrunks(c);
  if (!planned.ok) {
    for (const i of planned.issues) out.push(fail(`config ${i.path}`, i.message, 'fix the trunk (region code from config/regions.yaml, or hosts)'));
    return out;
  }
  let revocation: RevocationChecker;
  try {
    revocation = new RevocationChecker({ mode, crlFiles: c.tls.crlFiles });
  } catch (e) {
    out.push(fail('config tls.crlFiles', (e as Error).message, 'point tls.crlFiles at readable PEM or DER CRLs'));
    revocation = new RevocationChecker({ mode });
  }
  const resolver = createResolver({ overrides: c.dns.overrides, clock: systemClock, ...(offline ? { offline: true } : {}) });
  for (const plan of planned.plans) {
    out.push(...(await checkTrunk(plan, { resolver, policy, revocation, offline, extraNames: () => plan.trunk.extraIdentities })));
  }
  return out;
}
