/**
 * Is this certificate the peer we meant to reach? RFC 5922 §7.1 (finding SIP domain identities in a
 * certificate), §7.2 (no wildcards) and S-VAL-2/3/6.
 *
 * Identities are taken from subjectAltName `URI:sip:host` entries without a user part (the host part)
 * and `DNS:` entries; compared whole and case-insensitively with the configured host name (the SNI
 * name) or one of the extra accepted names. The subject CN counts only when the certificate carries no
 * subjectAltName extension at all (unless cnFallback 'always'). Wildcards never match; IP SANs never
 * count.
 */
import { X509Certificate } from 'node:crypto';
import { ConfigError } from '../errors.js';
import type { CnFallback } from './policy.js';
import { tlsFailure, type TlsFailure } from './reasons.js';
import { certParts, isIpLiteral } from './x509-parts.js';

export interface IdentityOptions {
  readonly cnFallback?: CnFallback;
  /** Further exact names accepted for this peer (e.g. the SRV domain, S-URI-6). No wildcards. */
  readonly extraNames?: readonly string[];
}

export type IdentityResult = { readonly ok: true; readonly matched: string; readonly via: 'dns' | 'uri' | 'cn' } | TlsFailure;

/** A certificate in any of the shapes Node hands out: X509Certificate, detailed peer cert, or DER. */
export type CertLike = X509Certificate | { readonly raw: Buffer } | Buffer;

export function toX509(cert: CertLike): X509Certificate {
  if (cert instanceof X509Certificate) return cert;
  return new X509Certificate(Buffer.isBuffer(cert) ? cert : cert.raw);
}

/** Lower case, one trailing dot dropped: DNS names compare case-insensitively (RFC 4343). */
export function normalizeHost(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/**
 * S-VAL-3: "the vendor validates by host name; IP addresses are not allowed". Throws ConfigError
 * for an IPv4/IPv6 literal, an empty name or a wildcard.
 */
export function assertHostNameTarget(host: string, path = 'target'): void {
  if (isIpLiteral(host.trim())) {
    throw new ConfigError(path, `${host} is an IP address; S-VAL-3: the vendor validates by host name; IP addresses are not allowed`);
  }
  const n = normalizeHost(host);
  if (n.length === 0 || n.includes('*') || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(n)) {
    throw new ConfigError(path, `${JSON.stringify(host)} is not a host name (RFC 1123; no wildcards, S-VAL-6)`);
  }
}

/**
 * RFC 5922 §7.1, URI entries: only scheme "sip" and no user part; the host part is the identity.
 * Returns undefined when the entry is not a SIP domain identity.
 */
export function sipUriHost(uri: string): string | undefined {
  const m = /^sip:([^;?]*)/i.exec(uri);
  if (!m) return undefined;
  const hostport = m[1]!;
  if (hostport.includes('@')) return undefined; // user part present
  let host: string;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    host = end < 0 ? hostport : hostport.slice(0, end + 1);
  } else {
    host = hostport.split(':')[0]!;
  }
  if (host.length === 0 || isIpLiteral(host)) return undefined;
  return normalizeHost(host);
}

/** Would this wildcard name have matched under the usual (RFC 6125 §6.4.3) rules? For the reason only. */
function wildcardWouldMatch(pattern: string, host: string): boolean {
  const p = normalizeHost(pattern);
  if (!p.includes('*')) return false;
  const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*')}$`);
  return re.test(host);
}

/** Judges `cert` against `host` (the configured name, also sent as SNI). */
export function matchPeerIdentity(host: string, cert: CertLike, opts: IdentityOptions = {}): IdentityResult {
  const wanted = new Set([host, ...(opts.extraNames ?? [])].map(normalizeHost));
  if (isIpLiteral(host)) return tlsFailure('ip-address', `target ${host} is an IP address (S-VAL-3)`);
  const x = toX509(cert);
  const parts = certParts(x.raw);
  const san = parts.subjectAltNames;
  const candidates: { name: string; via: 'dns' | 'uri' | 'cn' }[] = [];
  let ipCount = 0;
  for (const gn of san ?? []) {
    if (gn.type === 'dns') candidates.push({ name: gn.value, via: 'dns' });
    else if (gn.type === 'uri') {
      const h = sipUriHost(gn.value);
      if (h !== undefined) candidates.push({ name: h, via: 'uri' });
    } else if (gn.type === 'ip') ipCount++;
  }
  // RFC 5922 §7.1: CN only if and only if there is no subjectAltName extension.
  if (san === undefined || opts.cnFallback === 'always') {
    for (const cn of parts.commonNames) candidates.push({ name: cn, via: 'cn' });
  }
  for (const c of candidates) {
    const n = normalizeHost(c.name);
    if (!n.includes('*') && !isIpLiteral(n) && wanted.has(n)) return { ok: true, matched: n, via: c.via };
  }
  const names = candidates.map((c) => `${c.via}:${c.name}`).join(', ') || 'none';
  const list = [...wanted].join('|');
  if (candidates.some((c) => [...wanted].some((w) => wildcardWouldMatch(c.name, w)))) {
    return tlsFailure('wildcard', `only a wildcard name covers ${list} (S-VAL-6, RFC 5922 §7.2); names: ${names}`);
  }
  if (ipCount > 0 && candidates.every((c) => isIpLiteral(c.name))) {
    return tlsFailure('ip-address', `certificate names only IP addresses; ${list} needs a host name (S-VAL-3)`);
  }
  return tlsFailure('name-mismatch', `certificate does not name ${list} (S-VAL-2, RFC 5922 §7.1); names: ${names}`);
}
