/**
 * S-VAL-5: the peer's certificate must not be on its CA's CRL. CRLs come from configured files (PEM or
 * DER, S-TRUST-3) and from the certificate's CRL distribution points over HTTP (RFC 5280 §4.2.1.13),
 * are cached until their nextUpdate, and count only when their signature verifies against the
 * certificate's issuer (RFC 5280 §6.3.3 (f)). Modes: off | soft (no CRL: allowed, reported) | hard
 * (no CRL: refused, crl-unavailable).
 */
import { verify as cryptoVerify, type X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { SipsError } from '../errors.js';
import { children, decodeOid, decodePemOrDer, decodeTime, expectTag, readTlv, serialHex, TAG, value, whole } from './der.js';
import type { RevocationMode } from './policy.js';
import { certParts } from './x509-parts.js';

export interface ParsedCrl {
  readonly issuerDer: Buffer;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  /** serial (lowercase hex, no sign padding) -> revocation date */
  readonly revoked: ReadonlyMap<string, Date>;
  readonly tbs: Buffer;
  readonly signatureOid: string;
  readonly signature: Buffer;
}

/** Signature algorithm OID -> hash for crypto.verify (RFC 4055, RFC 5758). RSA PKCS#1 v1.5 and ECDSA. */
const SIG_HASH: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

/** CertificateList (RFC 5280 §5.1). Throws SipsError SIPS_ERR_TLS_CRL_PARSE. */
export function parseCrl(der: Buffer): ParsedCrl {
  try {
    const top = expectTag(readTlv(der, 0), TAG.SEQUENCE, 'CertificateList');
    const [tbsT, algT, sigT] = children(der, top);
    const tbs = expectTag(tbsT, TAG.SEQUENCE, 'TBSCertList');
    const alg = expectTag(algT, TAG.SEQUENCE, 'signatureAlgorithm');
    const sig = expectTag(sigT, TAG.BIT_STRING, 'signatureValue');
    const f = children(der, tbs);
    let i = 0;
    if (f[0]?.tag === TAG.INTEGER) i++; // version v2
    i++; // signature AlgorithmIdentifier (inner)
    const issuer = expectTag(f[i++], TAG.SEQUENCE, 'issuer');
    const thisT = f[i++];
    if (!thisT) throw new Error('thisUpdate missing');
    const thisUpdate = decodeTime(der, thisT);
    let nextUpdate: Date | undefined;
    if (f[i] && (f[i]!.tag === TAG.UTCTime || f[i]!.tag === TAG.GeneralizedTime)) nextUpdate = decodeTime(der, f[i++]!);
    const revoked = new Map<string, Date>();
    if (f[i]?.tag === TAG.SEQUENCE) {
      for (const entry of children(der, f[i]!)) {
        const [serial, date] = children(der, entry);
        revoked.set(serialHex(value(der, expectTag(serial, TAG.INTEGER, 'userCertificate'))), decodeTime(der, date!));
      }
    }
    const oidT = expectTag(children(der, alg)[0], TAG.OID, 'algorithm');
    const sigBytes = value(der, sig);
    return {
      issuerDer: whole(der, issuer),
      thisUpdate,
      nextUpdate,
      revoked,
      tbs: whole(der, tbs),
      signatureOid: decodeOid(value(der, oidT)),
      signature: sigBytes.subarray(1), // drop the unused-bits octet
    };
  } catch (e) {
    throw new SipsError('SIPS_ERR_TLS_CRL_PARSE', `CRL: ${(e as Error).message}`, { cause: e });
  }
}

/** Every CRL in a PEM ("X509 CRL") or DER file. */
export function loadCrlFile(path: string): ParsedCrl[] {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw new SipsError('SIPS_ERR_TLS_FILE', `${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
  const objs = decodePemOrDer(data).filter((o) => o.label === 'DER' || o.label === 'X509 CRL');
  if (objs.length === 0) throw new SipsError('SIPS_ERR_TLS_CRL_PARSE', `${path}: no CRL found (PEM or DER expected)`);
  return objs.map((o) => {
    try {
      return parseCrl(o.der);
    } catch (e) {
      throw new SipsError('SIPS_ERR_TLS_CRL_PARSE', `${path}: ${(e as Error).message}`, { cause: e });
    }
  });
}

/** Is `crl` the issuer's CRL: same issuer Name and a signature that verifies with the issuer's key? */
export function crlMatchesIssuer(crl: ParsedCrl, issuer: X509Certificate): boolean {
  if (!crl.issuerDer.equals(certParts(issuer.raw).subjectDer)) return false;
  const hash = SIG_HASH[crl.signatureOid];
  if (!hash) return false;
  try {
    return cryptoVerify(hash, crl.tbs, issuer.publicKey, crl.signature);
  } catch {
    return false;
  }
}

export type RevocationStatus =
  | { readonly status: 'good'; readonly source: string }
  | { readonly status: 'revoked'; readonly source: string; readonly revokedAt: Date }
  | { readonly status: 'unavailable'; readonly detail: string }
  | { readonly status: 'skipped' };

export type { RevocationEvent } from '../diagnostics.js';
import type { RevocationEvent } from '../diagnostics.js';

export interface RevocationOptions {
  readonly mode: RevocationMode;
  readonly crlFiles?: readonly string[];
  /**
   * Total deadline of one CRL fetch (connect, headers and body together): a distribution point
   * trickling bytes must not hold the handshakes waiting on it past this.
   */
  readonly fetchTimeoutMs?: number;
  /** Largest CRL accepted over HTTP. */
  readonly maxCrlBytes?: number;
  /** How long a failed URL is not retried. */
  readonly failureBackoffMs?: number;
  /** How long a CRL without nextUpdate is kept. */
  readonly defaultMaxAgeMs?: number;
  /** Distribution point URL -> URL actually fetched (lab and tests; e.g. to an ephemeral port). */
  readonly urlOverrides?: Readonly<Record<string, string>>;
  readonly onEvent?: (e: RevocationEvent) => void;
  readonly now?: () => number;
  readonly fetch?: (url: string, timeoutMs: number, maxBytes: number) => Promise<Buffer>;
}

export const CRL_FETCH_TIMEOUT_MS = 2_000;
export const CRL_MAX_BYTES = 10 * 1024 * 1024;

/** The error of a fetch its total deadline ended. */
export class CrlFetchTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no complete CRL within ${timeoutMs} ms (total deadline, tls.crlFetchTimeoutMs)`);
  }
}

/**
 * GET over plain HTTP (CRLs are signed; RFC 5280 §4.2.1.13 expects http/ldap). `timeoutMs` is a
 * total deadline: the socket's idle timeout alone never fires on a server sending 1 byte a second.
 */
export function fetchCrlHttp(url: string, timeoutMs: number, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (!url.startsWith('http://')) return reject(new Error(`unsupported CRL URL scheme: ${url}`));
    let settled = false;
    const done = (e: Error | null, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (e !== null) reject(e);
      else resolve(body!);
    };
    const deadline = setTimeout(() => {
      const e = new CrlFetchTimeout(timeoutMs);
      req.destroy(e);
      done(e);
    }, timeoutMs);
    // agent: false: a fresh connection, closed after the answer (no pooled socket left behind).
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return done(new Error(`HTTP ${res.statusCode ?? '?'}`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) req.destroy(new Error(`CRL larger than ${maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => done(null, Buffer.concat(chunks)));
      res.on('error', (e) => done(e));
    });
    req.on('timeout', () => req.destroy(new Error(`no data for ${timeoutMs} ms`)));
    req.on('error', (e) => done(e));
  });
}

/** `p`, or a CrlFetchTimeout after `ms` (a backstop around any fetcher, injected ones included). */
function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new CrlFetchTimeout(ms)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

interface CacheEntry {
  readonly crl: ParsedCrl;
  readonly expiresAt: number;
}

export class RevocationChecker {
  readonly mode: RevocationMode;
  private readonly files: ParsedCrl[] = [];
  private readonly cache = new Map<string, CacheEntry>();
  private readonly failedUntil = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<ParsedCrl>>();
  private readonly o: RevocationOptions;
  private readonly now: () => number;

  constructor(opts: RevocationOptions) {
    this.o = opts;
    this.mode = opts.mode;
    this.now = opts.now ?? Date.now;
    for (const f of opts.crlFiles ?? []) this.files.push(...loadCrlFile(f));
  }

  private emit(e: RevocationEvent): void {
    this.o.onEvent?.(e);
  }

  /** Checks `cert` (issued by `issuer`). Never throws; 'unavailable' is turned into a decision by the caller's mode. */
  async check(cert: X509Certificate, issuer: X509Certificate): Promise<RevocationStatus> {
    if (this.mode === 'off') return { status: 'skipped' };
    const parts = certParts(cert.raw);
    if (!parts.issuerDer.equals(certParts(issuer.raw).subjectDer)) return { status: 'unavailable', detail: 'issuer mismatch' };
    const judge = (crl: ParsedCrl, source: string): RevocationStatus => {
      const at = crl.revoked.get(parts.serial);
      return at ? { status: 'revoked', source, revokedAt: at } : { status: 'good', source };
    };
    for (const crl of this.files) {
      if (!crlMatchesIssuer(crl, issuer)) continue;
      if (crl.nextUpdate && crl.nextUpdate.getTime() < this.now()) this.emit({ kind: 'crl-stale', detail: 'configured CRL is past its nextUpdate' });
      return judge(crl, 'file');
    }
    const problems: string[] = [];
    for (const url of parts.crlDistributionPoints) {
      try {
        return judge(await this.crlFor(url, issuer), url);
      } catch (e) {
        problems.push(`${url}: ${(e as Error).message}`);
      }
    }
    const detail = problems.length ? problems.join('; ') : 'no configured CRL for the issuer and no CRL distribution point';
    if (!problems.length) this.emit({ kind: 'no-crl', detail });
    return { status: 'unavailable', detail };
  }

  private async crlFor(url: string, issuer: X509Certificate): Promise<ParsedCrl> {
    const now = this.now();
    const hit = this.cache.get(url);
    if (hit && hit.expiresAt > now) return hit.crl;
    const blocked = this.failedUntil.get(url);
    if (blocked !== undefined && blocked > now) throw new Error('recent fetch failed; backing off');
    let p = this.inflight.get(url);
    if (!p) {
      p = this.fetchAndCheck(url, issuer).finally(() => this.inflight.delete(url));
      this.inflight.set(url, p);
    }
    return p;
  }

  private async fetchAndCheck(url: string, issuer: X509Certificate): Promise<ParsedCrl> {
    const target = this.o.urlOverrides?.[url] ?? url;
    const fetcher = this.o.fetch ?? fetchCrlHttp;
    const timeoutMs = this.o.fetchTimeoutMs ?? CRL_FETCH_TIMEOUT_MS;
    const started = this.now();
    let crl: ParsedCrl;
    try {
      // One fetch per URL at a time (crlFor shares it between concurrent handshakes), bounded in total.
      const body = await withDeadline(fetcher(target, timeoutMs, this.o.maxCrlBytes ?? CRL_MAX_BYTES), timeoutMs);
      const objs = decodePemOrDer(body).filter((x) => x.label === 'DER' || x.label === 'X509 CRL');
      if (objs.length === 0) throw new Error('response is not a CRL');
      crl = parseCrl(objs[0]!.der);
    } catch (e) {
      this.failedUntil.set(url, this.now() + (this.o.failureBackoffMs ?? 30_000));
      this.emit({ kind: 'fetch-failed', detail: (e as Error).message, url, durationMs: this.now() - started, timedOut: e instanceof CrlFetchTimeout });
      throw e;
    }
    if (!crlMatchesIssuer(crl, issuer)) {
      this.failedUntil.set(url, this.now() + (this.o.failureBackoffMs ?? 30_000));
      this.emit({ kind: 'crl-invalid', detail: 'CRL not signed by the certificate issuer', url, durationMs: this.now() - started });
      throw new Error('CRL not signed by the certificate issuer');
    }
    const now = this.now();
    const expiresAt = crl.nextUpdate ? crl.nextUpdate.getTime() : now + (this.o.defaultMaxAgeMs ?? 3_600_000);
    if (expiresAt <= now) this.emit({ kind: 'crl-stale', detail: 'fetched CRL is past its nextUpdate', url });
    this.cache.set(url, { crl, expiresAt });
    this.failedUntil.delete(url);
    this.emit({ kind: 'fetched', detail: `${crl.revoked.size} revoked`, url, durationMs: now - started });
    return crl;
  }
}
