/**
 * Doctor checks of the edge's own certificate(s): what the vendor's proxies will judge when the edge
 * presents them on 5061 or as a client (S-TRUST-4/5, S-TLS-7, S-VAL-2..6).
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { CRL_FETCH_TIMEOUT_MS, CRL_MAX_BYTES, crlMatchesIssuer, fetchCrlHttp, parseCrl } from '../tls/revocation.js';
import { decodePemOrDer } from '../tls/der.js';
import type { TlsPolicy } from '../tls/policy.js';
import { loadServerIdentity } from '../tls/secure-context.js';
import { loadCertificates } from '../tls/trust-store.js';
import { certParts } from '../tls/x509-parts.js';
import { caFamilyOf, isLabRoot, nameAttribute } from './ca-families.js';
import { fail, pass, warn, type CheckResult } from './check.js';

/** The edge's certificate should stay valid at least this long (renewal lead time). */
export const MIN_REMAINING_DAYS = 30;
const DAY_MS = 86_400_000;

export interface KnownRoot {
  readonly cert: X509Certificate;
  readonly source: string;
}

export interface EdgeCertInput {
  readonly id: string;
  readonly edgeName: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly passphrase?: string;
  readonly policy: TlsPolicy;
  readonly knownRoots: readonly KnownRoot[];
  readonly now: Date;
  readonly offline: boolean;
  readonly fetchCrl?: (url: string, timeoutMs: number, maxBytes: number) => Promise<Buffer>;
}

const dn = (s: string): string => s.replace(/\n/g, ', ');
const cnOf = (c: X509Certificate): string => nameAttribute(c.subject, 'CN')[0] ?? dn(c.subject);

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function selfSigned(c: X509Certificate): boolean {
  return c.subject === c.issuer && signedBy(c, c);
}

interface ChainWalk {
  readonly chain: readonly X509Certificate[];
  /** The self-signed root the chain reaches, and where it was found. */
  readonly root?: { readonly cert: X509Certificate; readonly where: string };
}

/** Leaf -> intermediates (from the file) -> a self-signed root (from the file or the known roots). */
function walkChain(presented: readonly X509Certificate[], known: readonly KnownRoot[]): ChainWalk {
  const chain: X509Certificate[] = [presented[0]!];
  let cur = presented[0]!;
  for (let depth = 0; depth < 10; depth++) {
    if (selfSigned(cur)) return { chain, root: { cert: cur, where: depth === 0 ? 'the file (self-signed leaf)' : 'the file' } };
    const next = presented.find((p) => !chain.includes(p) && signedBy(cur, p));
    if (next) {
      chain.push(next);
      cur = next;
      continue;
    }
    const k = known.find((r) => signedBy(cur, r.cert));
    if (k) {
      chain.push(k.cert);
      return { chain, root: { cert: k.cert, where: k.source } };
    }
    return { chain };
  }
  return { chain };
}

export async function checkEdgeCertificate(x: EdgeCertInput): Promise<CheckResult[]> {
  const id = (what: string): string => `${x.id}.${what}`;
  let presented: X509Certificate[];
  try {
    presented = loadCertificates(x.certFile);
  } catch (e) {
    return [fail(id('cert'), (e as Error).message, 'point tls.identities[].cert at a PEM file: leaf first, then every intermediate')];
  }
  const out: CheckResult[] = [];
  const leaf = presented[0]!;
  const walk = walkChain(presented, x.knownRoots);

  // S-TRUST-5: leaf + every intermediate up to a root.
  if (walk.root) {
    const path = walk.chain.map(cnOf).join(' -> ');
    const inFile = walk.chain.length - (walk.root.where.startsWith('the file') ? 0 : 1);
    if (walk.chain[0]!.ca) out.push(fail(id('chain'), `the first certificate (${cnOf(leaf)}) is a CA, not a leaf`, 'put the leaf first in the file, then the intermediates'));
    else out.push(pass(id('chain'), `complete: ${path} (root from ${walk.root.where}; ${inFile} certificate${inFile === 1 ? '' : 's'} in ${x.certFile})`));
  } else {
    const last = walk.chain[walk.chain.length - 1]!;
    out.push(fail(id('chain'), `incomplete: ${walk.chain.map(cnOf).join(' -> ')} stops; issuer ${dn(last.issuer)} is neither in the file nor a known root (S-TRUST-5)`, 'append the missing intermediate(s) to the certificate file (leaf first), or name the root with --ca FILE', 'incomplete-chain'));
  }

  // S-VAL-4: valid now, and long enough to renew in time.
  const t = x.now.getTime();
  const expired = walk.chain.find((c) => Date.parse(c.validTo) < t);
  const early = walk.chain.find((c) => Date.parse(c.validFrom) > t);
  const daysLeft = Math.floor((Date.parse(leaf.validTo) - t) / DAY_MS);
  if (expired) out.push(fail(id('validity'), `${cnOf(expired)} expired ${expired.validTo} (S-VAL-4)`, 'renew the certificate and send SIGHUP', 'expired'));
  else if (early) out.push(fail(id('validity'), `${cnOf(early)} is not valid before ${early.validFrom} (S-VAL-4)`, 'check the clock (NTP) or the certificate dates', 'not-yet-valid'));
  else if (daysLeft < MIN_REMAINING_DAYS) out.push(warn(id('validity'), `valid now, but the leaf expires in ${daysLeft} days (${leaf.validTo})`, `renew at least ${MIN_REMAINING_DAYS} days ahead, then send SIGHUP`));
  else out.push(pass(id('validity'), `valid until ${leaf.validTo} (${daysLeft} days)`));

  // S-TLS-7: every cipher authenticates with RSA.
  const keyType = leaf.publicKey.asymmetricKeyType;
  out.push(keyType === 'rsa'
    ? pass(id('key-type'), `RSA ${leaf.publicKey.asymmetricKeyDetails?.modulusLength ?? '?'} bits (S-TLS-7)`)
    : fail(id('key-type'), `${keyType ?? 'unknown'} key; every vendor cipher authenticates with RSA (S-TLS-7)`, 'issue an RSA certificate (2048 bits or more)'));

  // S-VAL-2/3/6: the edge's configured host name as dNSName; no wildcard, no IP address.
  const parts = certParts(leaf.raw);
  const sans = parts.subjectAltNames ?? [];
  const dns = sans.flatMap((n) => (n.type === 'dns' ? [n.value.toLowerCase()] : []));
  const want = x.edgeName.toLowerCase();
  if (dns.includes(want)) out.push(pass(id('name'), `dNSName ${x.edgeName} present (S-VAL-2)`));
  else if (parts.subjectAltNames === undefined && parts.commonNames.some((c) => c.toLowerCase() === want)) out.push(warn(id('name'), `${x.edgeName} only as subject CN, no subjectAltName`, `reissue with subjectAltName DNS:${x.edgeName}`));
  else out.push(fail(id('name'), `edge.name ${x.edgeName} is not a dNSName of the certificate (has: ${dns.join(', ') || 'none'}) (S-VAL-2)`, `reissue the certificate with subjectAltName DNS:${x.edgeName}, or set edge.name to the certificate's name`, 'name-mismatch'));
  const wild = [...dns, ...parts.commonNames].filter((n) => n.includes('*'));
  const ips = [...sans.flatMap((n) => (n.type === 'ip' ? [n.value] : [])), ...parts.commonNames.filter((n) => isIP(n) !== 0)];
  if (wild.length) out.push(fail(id('wildcard'), `wildcard name(s) ${wild.join(', ')}: not used by the vendor (S-VAL-6)`, 'issue a certificate for the exact host name', 'wildcard'));
  else if (ips.length) out.push(fail(id('wildcard'), `IP address name(s) ${ips.join(', ')}: the vendor validates by host name (S-VAL-3)`, 'issue a certificate for the host name only', 'ip-address'));
  else out.push(pass(id('wildcard'), 'no wildcard and no IP address names (S-VAL-3, S-VAL-6)'));

  // S-TRUST-4: the root must be one the vendor's proxies trust.
  const rootDn = walk.root?.cert.subject ?? walk.chain[walk.chain.length - 1]!.issuer;
  const family = caFamilyOf(rootDn);
  if (family) out.push(pass(id('ca-family'), `root ${dn(rootDn)} belongs to ${family.family} (S-TRUST-4)`));
  else if (isLabRoot(rootDn)) out.push(warn(id('ca-family'), `lab root: the vendor will not trust it (${dn(rootDn)}; S-TRUST-4)`, 'for production use a certificate from a public CA the vendor trusts (docs/doctor.md lists them)', 'lab-root'));
  else out.push(fail(id('ca-family'), `root ${dn(rootDn)} is not of a CA family the vendor trusts (S-TRUST-4)`, 'get the certificate from one of the CA families in docs/doctor.md'));

  // The key matches, the chain is in order, the leaf is no CA: exactly what the listener will load.
  try {
    loadServerIdentity({ names: [x.edgeName], certFile: x.certFile, keyFile: x.keyFile, ...(x.passphrase !== undefined ? { passphrase: x.passphrase } : {}) }, x.policy);
    out.push(pass(id('key'), `${x.keyFile} matches the leaf; the file loads as a listener identity`));
  } catch (e) {
    out.push(fail(id('key'), (e as Error).message, 'pair the certificate with its own private key (RSA), leaf first in the certificate file', (e as { code?: string }).code));
  }

  out.push(await checkCrl(id('crl'), leaf, walk.chain[1], x));
  return out;
}

/** S-VAL-5: the vendor checks the edge's certificate against its CA's CRL; the distribution point must answer. */
async function checkCrl(id: string, leaf: X509Certificate, issuer: X509Certificate | undefined, x: EdgeCertInput): Promise<CheckResult> {
  const urls = certParts(leaf.raw).crlDistributionPoints;
  if (urls.length === 0) return warn(id, 'the certificate names no CRL distribution point', 'public CAs add one; check the certificate was issued for TLS server use');
  if (x.offline) return warn(id, `not fetched (--offline): ${urls.join(', ')}`, 'run doctor without --offline where the CRL URL is reachable');
  const fetcher = x.fetchCrl ?? fetchCrlHttp;
  const problems: string[] = [];
  for (const url of urls) {
    try {
      const body = await fetcher(url, CRL_FETCH_TIMEOUT_MS, CRL_MAX_BYTES);
      const obj = decodePemOrDer(body).find((o) => o.label === 'DER' || o.label === 'X509 CRL');
      if (!obj) throw new Error('response is not a CRL');
      const crl = parseCrl(obj.der);
      if (issuer && !crlMatchesIssuer(crl, issuer)) throw new Error('CRL is not signed by the certificate issuer');
      const serial = certParts(leaf.raw).serial;
      const revokedAt = crl.revoked.get(serial);
      if (revokedAt) return fail(id, `serial ${serial} is revoked since ${revokedAt.toISOString()} (${url}, S-VAL-5)`, 'get a new certificate', 'revoked');
      return pass(id, `${url} answers; the certificate is not revoked`);
    } catch (e) {
      problems.push(`${url}: ${(e as Error).message}`);
    }
  }
  return warn(id, `CRL distribution point unreachable: ${problems.join('; ')}`, 'check outbound HTTP from this host (the vendor fetches it too)', 'crl-unavailable');
}
