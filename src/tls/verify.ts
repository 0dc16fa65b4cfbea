/**
 * The decision on a trunk peer: chain to the trunk's anchors (S-VAL-1), dates (S-VAL-4), name
 * (S-VAL-2/3/6, RFC 5922 §7.1), revocation (S-VAL-5), negotiated parameters (S-TLS-1/3/5). Every
 * failure comes back as a value with one reason code; nothing here throws on peer data.
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { matchPeerIdentity } from './peer-identity.js';
import { isDeprecatedCipher, isPolicyCipher, TLS_VERSION, type TlsPolicy } from './policy.js';
import { tlsFailure, type TlsFailure, type TlsFailureReason } from './reasons.js';
import type { RevocationChecker, RevocationStatus } from './revocation.js';
import { buildClientOptions } from './secure-context.js';
import type { TrustAnchors } from './trust-store.js';

export type ChainResult = { readonly ok: true; readonly chain: readonly X509Certificate[] } | TlsFailure;

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Self-issued and self-signed (RFC 5280 §3.3); checkIssued alone refuses a non-CA key usage. */
function selfSigned(c: X509Certificate): boolean {
  try {
    return c.subject === c.issuer && c.verify(c.publicKey);
  } catch {
    return false;
  }
}

function subjectOf(c: X509Certificate): string {
  return c.subject.replace(/\n/g, ', ');
}

/**
 * Builds leaf -> ... -> anchor from what the peer presented (order-free) and checks validity dates.
 * Issuer of the leaf not found: `incomplete-chain` (the server did not send its intermediate,
 * S-TRUST-5). Chain ends in a self-signed certificate that is not an anchor, or in a CA whose issuer
 * is not an anchor: `untrusted-root`.
 */
export function verifyChain(presented: readonly X509Certificate[], anchors: readonly X509Certificate[], now = new Date()): ChainResult {
  const leaf = presented[0];
  if (!leaf) return tlsFailure('untrusted-root', 'peer presented no certificate');
  const anchorFps = new Set(anchors.map((a) => a.fingerprint256));
  const chain: X509Certificate[] = [leaf];
  let cur = leaf;
  for (let depth = 0; depth < 10; depth++) {
    if (anchorFps.has(cur.fingerprint256)) break; // peer sent the anchor itself
    const anchor = anchors.find((a) => issuedBy(cur, a));
    if (anchor) {
      chain.push(anchor);
      break;
    }
    const next = presented.find((p) => p !== cur && !chain.includes(p) && p.ca && issuedBy(cur, p));
    if (next) {
      chain.push(next);
      cur = next;
      continue;
    }
    if (selfSigned(cur)) {
      return tlsFailure('untrusted-root', `${depth === 0 ? 'self-signed certificate' : 'root'} ${subjectOf(cur)} is not a trust anchor of this trunk`);
    }
    if (depth === 0) {
      return tlsFailure('incomplete-chain', `issuer ${cur.issuer.replace(/\n/g, ', ')} of the leaf not presented and not an anchor (send leaf + intermediates, S-TRUST-5)`);
    }
    return tlsFailure('untrusted-root', `${subjectOf(cur)} is issued by ${cur.issuer.replace(/\n/g, ', ')}, not a trust anchor of this trunk`);
  }
  if (chain.length >= 10) return tlsFailure('untrusted-root', 'chain too long');
  const t = now.getTime();
  for (const c of chain) {
    if (Date.parse(c.validTo) < t) return tlsFailure('expired', `${subjectOf(c)} expired ${c.validTo} (S-VAL-4)`);
    if (Date.parse(c.validFrom) > t) return tlsFailure('not-yet-valid', `${subjectOf(c)} valid from ${c.validFrom} (S-VAL-4)`);
  }
  return { ok: true, chain };
}

/** OpenSSL verify codes (X509_V_ERR_*, as Node names them in authorizationError / error.code). */
const OPENSSL_VERIFY_REASON: Readonly<Record<string, TlsFailureReason>> = {
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not-yet-valid',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'incomplete-chain',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'incomplete-chain',
  UNABLE_TO_GET_ISSUER_CERT: 'incomplete-chain',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'untrusted-root',
  SELF_SIGNED_CERT_IN_CHAIN: 'untrusted-root',
  CERT_UNTRUSTED: 'untrusted-root',
  CERT_REVOKED: 'revoked',
  ERR_TLS_CERT_ALTNAME_INVALID: 'name-mismatch',
};

/** Node/OpenSSL error codes of failed handshakes. */
const NODE_ERROR_REASON: Readonly<Record<string, TlsFailureReason>> = {
  ERR_TLS_HANDSHAKE_TIMEOUT: 'handshake-timeout',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'protocol-version',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'protocol-version',
  ERR_SSL_WRONG_VERSION_NUMBER: 'protocol-version',
  ERR_SSL_VERSION_TOO_LOW: 'protocol-version',
  ERR_SSL_VERSION_TOO_HIGH: 'protocol-version',
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: 'protocol-version',
  ERR_SSL_NO_SHARED_CIPHER: 'no-shared-cipher',
  ERR_SSL_NO_CIPHERS_AVAILABLE: 'no-shared-cipher',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'no-shared-cipher',
  // OpenSSL 3.2+ (Node 24) names the same alert "ssl/tls alert handshake failure".
  'ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE': 'no-shared-cipher',
  ERR_SSL_WRONG_CIPHER_RETURNED: 'no-shared-cipher',
  ERR_SSL_WRONG_CURVE: 'curve',
  ERR_SSL_NO_SUITABLE_KEY_SHARE: 'curve',
  ERR_SSL_BAD_ECPOINT: 'curve',
  ERR_SSL_NO_SHARED_GROUPS: 'curve',
};

/**
 * Maps a handshake or verify error to a reason, or null when it is none of ours (e.g. ECONNRESET).
 * A peer's bare handshake_failure alert is reported as `no-shared-cipher`: on this policy it means the
 * peer found no cipher/curve pair in common (an ECDHE-only peer without secp384r1 sends the same alert).
 */
export function classifyTlsError(err: unknown): TlsFailureReason | null {
  if (err === null || typeof err !== 'object') return null;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const hit = NODE_ERROR_REASON[code] ?? OPENSSL_VERIFY_REASON[code];
  if (hit) return hit;
  const msg = typeof e.message === 'string' ? e.message : '';
  if (/wrong curve|no suitable key share|bad ecpoint|no shared group/i.test(msg)) return 'curve';
  if (/no shared cipher|no ciphers available|alert handshake failure/i.test(msg)) return 'no-shared-cipher';
  if (/protocol version|unsupported protocol|wrong version number|version too (low|high)/i.test(msg)) return 'protocol-version';
  return null;
}

export interface PeerExpectation {
  /** The configured host name, also the SNI name. */
  readonly host: string;
  readonly anchors: TrustAnchors;
  readonly policy: TlsPolicy;
  readonly extraNames?: readonly string[];
  /** Required unless policy.revocation is 'off'. */
  readonly revocation?: RevocationChecker;
  readonly now?: () => Date;
  /** Called when soft revocation lets a peer through without a CRL. */
  readonly onSoftRevocation?: (detail: string) => void;
  /**
   * The chain verified on the full handshake of the session being resumed (session-cache.ts). A
   * resumed TLS 1.2 handshake carries no certificate, so a resumed socket is judged on this chain:
   * anchors, dates, name and CRL are checked again, OpenSSL's stored verdict too. Without it a
   * resumed socket is refused.
   */
  readonly resumedChain?: readonly X509Certificate[];
}

export interface PeerVerified {
  readonly ok: true;
  readonly protocol: string;
  readonly cipher: string;
  /** S-TLS-4: the caller logs once and counts when true. */
  readonly deprecatedCipher: boolean;
  readonly matchedName: string;
  readonly chain: readonly X509Certificate[];
  readonly revocation: RevocationStatus['status'];
  /** The session was resumed (judged on the cached chain). */
  readonly resumed: boolean;
}

export type VerifyResult = PeerVerified | TlsFailure;

/** The presented chain, leaf first, as Node assembled it from the handshake. */
export function peerChain(socket: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

/** Judges an established client-side TLS socket (built with buildClientOptions). */
export async function verifyPeer(socket: tls.TLSSocket, x: PeerExpectation): Promise<VerifyResult> {
  const protocol = socket.getProtocol() ?? '';
  if (protocol !== TLS_VERSION) return tlsFailure('protocol-version', `negotiated ${protocol || 'nothing'} (S-TLS-1)`);
  const cipher = socket.getCipher().name;
  if (!isPolicyCipher(cipher, x.policy)) return tlsFailure('no-shared-cipher', `negotiated ${cipher}, not in policy (S-TLS-3)`);
  const eph = socket.getEphemeralKeyInfo();
  if (eph && 'name' in eph && eph.type === 'ECDH' && eph.name !== 'secp384r1') {
    return tlsFailure('curve', `negotiated ${String(eph.name)} (S-TLS-5)`);
  }
  const resumed = socket.isSessionReused();
  if (resumed && x.resumedChain === undefined) return tlsFailure('untrusted-root', 'session resumed without a verified chain cached for this name');
  const presented = resumed && x.resumedChain !== undefined ? x.resumedChain : peerChain(socket);
  const chainResult = verifyChain(presented, x.anchors.certs, x.now?.() ?? new Date());
  if (!chainResult.ok) return chainResult;
  // OpenSSL's own verdict against the same anchors (ca option): a second opinion on what our walk
  // does not look at (key usage, path length, signature algorithms).
  const osslErr = socket.authorizationError;
  if (!socket.authorized && osslErr) {
    const code = typeof osslErr === 'string' ? osslErr : (osslErr as { code?: string }).code ?? String(osslErr);
    const reason = OPENSSL_VERIFY_REASON[code] ?? 'untrusted-root';
    if (x.now === undefined || (reason !== 'expired' && reason !== 'not-yet-valid')) {
      return tlsFailure(reason, `OpenSSL: ${code}`);
    }
  }
  const leaf = chainResult.chain[0]!;
  const id = matchPeerIdentity(x.host, leaf, { cnFallback: x.policy.cnFallback, ...(x.extraNames ? { extraNames: x.extraNames } : {}) });
  if (!id.ok) return id;
  let rev: RevocationStatus = { status: 'skipped' };
  if (x.policy.revocation !== 'off') {
    const issuer = chainResult.chain[1];
    if (!x.revocation || !issuer) {
      rev = { status: 'unavailable', detail: x.revocation ? 'no issuer' : 'no revocation checker configured' };
    } else {
      rev = await x.revocation.check(leaf, issuer);
    }
    if (rev.status === 'revoked') return tlsFailure('revoked', `serial ${leaf.serialNumber} revoked ${rev.revokedAt.toISOString()} (${rev.source}, S-VAL-5)`);
    if (rev.status === 'unavailable') {
      if (x.policy.revocation === 'hard') return tlsFailure('crl-unavailable', `${rev.detail} (S-VAL-5, revocation: hard)`);
      x.onSoftRevocation?.(rev.detail);
    }
  }
  return { ok: true, protocol, cipher, deprecatedCipher: isDeprecatedCipher(cipher), matchedName: id.matched, chain: chainResult.chain, revocation: rev.status, resumed };
}

export interface ConnectTlsInput extends PeerExpectation {
  readonly port?: number;
  /** Connect here instead of resolving `host` (lab, tests); SNI and name checks still use `host`. */
  readonly address?: string;
  /** TCP connect limit (the handshake limit starts once TCP is up). */
  readonly connectTimeoutMs?: number;
}

export const CONNECT_TIMEOUT_MS = 3_000;

export type ConnectResult = { readonly ok: true; readonly socket: tls.TLSSocket; readonly peer: PeerVerified } | TlsFailure | { readonly ok: false; readonly reason: 'transport'; readonly detail: string };

/**
 * Opens a policy connection to a trunk peer: TCP within connectTimeoutMs, then the handshake within
 * policy.handshakeTimeoutMs (S-TLS-6), then verifyPeer. No session resumption is offered (doctor and
 * tools want the full handshake and the chain the peer sends). On any failure the socket is destroyed and the reason returned.
 */
export async function connectTls(input: ConnectTlsInput): Promise<ConnectResult> {
  const opts = buildClientOptions({ host: input.host, trust: input.anchors, policy: input.policy, ...(input.port !== undefined ? { port: input.port } : {}) });
  if (input.address !== undefined) opts.host = input.address;
  return new Promise((resolve) => {
    let done = false;
    const socket = tls.connect(opts);
    const finish = (r: ConnectResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('close', onClose);
      if (r.ok) socket.off('error', onError);
      else socket.destroy(); // onError stays: late errors of a dead socket are swallowed
      resolve(r);
    };
    const connectMs = input.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    let timer = setTimeout(() => finish({ ok: false, reason: 'transport', detail: `TCP connect timeout after ${connectMs} ms` }), connectMs);
    // S-TLS-6: the 500 ms are the handshake's, counted from the TCP connection, as the vendor's side counts them.
    socket.once('connect', () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(tlsFailure('handshake-timeout', `no handshake within ${input.policy.handshakeTimeoutMs} ms (S-TLS-6)`)), input.policy.handshakeTimeoutMs);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      verifyPeer(socket, input).then(
        (r) => finish(r.ok ? { ok: true, socket, peer: r } : r),
        (e: unknown) => finish({ ok: false, reason: 'transport', detail: String(e) }),
      );
    });
    const onError = (e: Error): void => {
      const reason = classifyTlsError(e);
      finish(reason ? tlsFailure(reason, e.message) : { ok: false, reason: 'transport', detail: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim() });
    };
    const onClose = (): void => finish({ ok: false, reason: 'transport', detail: 'connection closed before the peer was verified' });
    socket.on('error', onError);
    socket.once('close', onClose);
  });
}

export interface ServerTlsFailure {
  readonly reason: TlsFailureReason | null;
  readonly error: Error;
  readonly remoteAddress: string | undefined;
}

/**
 * Every listener must call this. Once a 'tlsClientError' listener exists, Node no longer destroys the
 * socket of a failed or timed-out handshake (S-TLS-6 would be a no-op and a slow client would hold
 * the connection): this handler destroys it, then reports the classified failure.
 */
export function guardTlsServer(server: tls.Server, onFailure?: (f: ServerTlsFailure) => void): void {
  server.on('tlsClientError', (error, socket) => {
    const remoteAddress = socket.remoteAddress;
    socket.destroy();
    onFailure?.({ reason: classifyTlsError(error), error, remoteAddress });
  });
}
