/**
 * Why a TLS connection to or from a trunk peer failed: one short reason string (for logs, metrics
 * labels and the README table) and one stable `SIPS_ERR_TLS_*` code (for `Warning: 399` and grep).
 */
import { SipsError } from '../errors.js';

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
