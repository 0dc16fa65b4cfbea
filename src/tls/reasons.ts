/**
 * Why a TLS connection to or from a trunk peer failed: one short reason string (for logs, metrics
 * labels and the README table) and one stable `SIPS_ERR_TLS_*` code (for `Warning: 399` and grep).
 */
import { SipsError, type ErrorSection } from '../errors.js';

export const TLS_FAILURE_CODES = {
  'handshake-timeout': 'SIPS_ERR_TLS_HANDSHAKE_TIMEOUT', // S-TLS-6
  'protocol-version': 'SIPS_ERR_TLS_PROTOCOL_VERSION', // S-TLS-1
  'no-shared-cipher': 'SIPS_ERR_TLS_NO_SHARED_CIPHER', // S-TLS-3/4
  curve: 'SIPS_ERR_TLS_CURVE', // S-TLS-5
  'untrusted-root': 'SIPS_ERR_TLS_UNTRUSTED_ROOT', // S-VAL-1, S-TRUST-2, S-PREM-1
  'incomplete-chain': 'SIPS_ERR_TLS_INCOMPLETE_CHAIN', // S-TRUST-5
  expired: 'SIPS_ERR_TLS_EXPIRED', // S-VAL-4
  'not-yet-valid': 'SIPS_ERR_TLS_NOT_YET_VALID', // S-VAL-4
  'name-mismatch': 'SIPS_ERR_TLS_NAME_MISMATCH', // S-VAL-2, RFC 5922 §7.1
  wildcard: 'SIPS_ERR_TLS_WILDCARD', // S-VAL-6, RFC 5922 §7.2
  'ip-address': 'SIPS_ERR_TLS_IP_ADDRESS', // S-VAL-3
  revoked: 'SIPS_ERR_TLS_REVOKED', // S-VAL-5
  'crl-unavailable': 'SIPS_ERR_TLS_CRL_UNAVAILABLE', // S-VAL-5, revocation: hard
} as const;

/**
 * This layer's section of the error table: the handshake reasons above and the certificate, CRL and
 * trust-store errors that stop a start or a reload. None is a status line of its own.
 */
export const TLS_ERRORS = {
  SIPS_ERR_TLS_HANDSHAKE_TIMEOUT: { status: null, meaning: 'handshake not complete within 500 ms (S-TLS-6)' },
  SIPS_ERR_TLS_PROTOCOL_VERSION: { status: null, meaning: 'peer offered something other than TLS 1.2 (S-TLS-1)' },
  SIPS_ERR_TLS_NO_SHARED_CIPHER: { status: null, meaning: 'no cipher of the policy in common (S-TLS-3/4)' },
  SIPS_ERR_TLS_CURVE: { status: null, meaning: 'ECDHE on a curve other than secp384r1 (S-TLS-5)' },
  SIPS_ERR_TLS_UNTRUSTED_ROOT: { status: null, meaning: 'chain does not end at a configured trust anchor (S-TRUST-2, S-PREM-1)' },
  SIPS_ERR_TLS_INCOMPLETE_CHAIN: { status: null, meaning: 'the peer did not send its intermediates (S-TRUST-5)' },
  SIPS_ERR_TLS_EXPIRED: { status: null, meaning: 'certificate expired (S-VAL-4)' },
  SIPS_ERR_TLS_NOT_YET_VALID: { status: null, meaning: 'certificate not yet valid (S-VAL-4)' },
  SIPS_ERR_TLS_NAME_MISMATCH: { status: null, meaning: 'no SAN (DNS or sip: URI) equals the name dialled (S-VAL-2, RFC 5922 §7.1)' },
  SIPS_ERR_TLS_WILDCARD: { status: null, meaning: 'only a wildcard name would match; wildcards are not accepted (S-VAL-6)' },
  SIPS_ERR_TLS_IP_ADDRESS: { status: null, meaning: 'only an IP-address SAN; names only (S-VAL-3)' },
  SIPS_ERR_TLS_REVOKED: { status: null, meaning: 'serial on the issuer\'s CRL (S-VAL-5)' },
  SIPS_ERR_TLS_CRL_UNAVAILABLE: { status: null, meaning: 'no CRL could be had and `tls.revocation: hard`' },
  SIPS_ERR_TLS_ROOT_FINGERPRINT: { status: null, meaning: 'a bundled vendor root file does not have its pinned SHA-256 fingerprint (refuse to start)' },
  SIPS_ERR_TLS_IDENTITY: { status: null, meaning: 'the edge\'s own certificate/key cannot be loaded (file, key mismatch, not RSA); a reload keeps the old one' },
  SIPS_ERR_TLS_NO_ANCHORS: { status: null, meaning: 'a trunk has no trust anchors' },
  SIPS_ERR_TLS_FILE: { status: null, meaning: 'a certificate, root or CRL file cannot be read' },
  SIPS_ERR_TLS_CERT_PARSE: { status: null, meaning: 'a certificate file is neither PEM nor DER X.509' },
  SIPS_ERR_TLS_CRL_PARSE: { status: null, meaning: 'a CRL file or download is not a CRL' },
  SIPS_ERR_TLS_DER: { status: null, meaning: 'malformed DER inside a certificate or CRL' },
  SIPS_ERR_TLS_NOT_A_CA: { status: null, meaning: 'a certificate used as an issuer is not a CA' },
  SIPS_ERR_TLS_TICKET_SECRET: { status: null, meaning: 'the session ticket secret (`tls.sessionTickets.keyFile`) cannot be read or is shorter than 32 bytes; a reload keeps the old one' },
} as const satisfies ErrorSection;

export type TlsFailureReason = keyof typeof TLS_FAILURE_CODES;
export type TlsFailureCode = (typeof TLS_FAILURE_CODES)[TlsFailureReason];

export const TLS_FAILURE_REASONS = Object.keys(TLS_FAILURE_CODES) as readonly TlsFailureReason[];

export interface TlsFailure {
  readonly ok: false;
  readonly reason: TlsFailureReason;
  readonly code: TlsFailureCode;
  readonly detail: string;
}

export function tlsFailure(reason: TlsFailureReason, detail: string): TlsFailure {
  return { ok: false, reason, code: TLS_FAILURE_CODES[reason], detail };
}

/** A TlsFailure as a thrown error, for callers that prefer exceptions. */
export class TlsPeerError extends SipsError {
  readonly reason: TlsFailureReason;
  readonly detail: string;

  constructor(failure: TlsFailure) {
    super(failure.code, `${failure.reason}: ${failure.detail}`);
    this.reason = failure.reason;
    this.detail = failure.detail;
  }
}
